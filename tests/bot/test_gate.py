"""Issue 22, requests: the signature is checked before the body is read, and a request is handled once.

Findings: unsigned malformed requests (a non-numeric timestamp, ``payload={not json``, a JSON list,
truncated or non-UTF-8 bodies) got 500 with a traceback; the same signed ``/tamio add`` sent three
times within five minutes created three agreements.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import aiohttp
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from slack_sandbox.standin import SlackStandIn
from tamio.accounts.models import Account
from tamio.obligations.models import ObligationAgreement
from tests.bot.conftest import ADMIN, CHANNEL, SIGNING_SECRET, BotHarness, start_bot

pytestmark = pytest.mark.backends("sqlite", "pg")


def signed(body: bytes, *, secret: str = SIGNING_SECRET, stamp: str | None = None) -> dict[str, str]:
    """Slack's signature over the raw bytes (slack_sdk's helper decodes them first, which non-UTF-8 bodies fail)."""
    stamp = stamp or str(int(time.time()))
    digest = hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}


async def post(url: str, body: bytes, headers: dict[str, str], content_type: str = "application/x-www-form-urlencoded") -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.post(url + "slack/events", data=body,
                                                          headers={"Content-Type": content_type, **headers}) as reply:
        return reply.status, await reply.text()


async def count(sessions: async_sessionmaker[AsyncSession], model: type) -> int:
    async with sessions() as db:
        return int((await db.execute(select(func.count()).select_from(model))).scalar_one())


def add_command(team_id: str, trigger_id: str = "7001.1.abc") -> bytes:
    return urlencode({
        "team_id": team_id, "team_domain": "acme", "channel_id": CHANNEL, "channel_name": "finance", "user_id": ADMIN,
        "user_name": "maria", "command": "/tamio", "text": 'add expense "Rent" 2500 monthly on 1', "api_app_id": "A0TAMIO",
        "response_url": "http://127.0.0.1:9/commands/1", "trigger_id": trigger_id,
    }).encode()


MALFORMED = {
    "payload_not_json": (b"payload={not json", "application/x-www-form-urlencoded"),
    "json_list": (b'[{"type": "event_callback"}]', "application/json"),
    "json_string": (b'"event_callback"', "application/json"),
    "payload_list": (urlencode({"payload": "[1, 2]"}).encode(), "application/x-www-form-urlencoded"),
    "truncated_json": (b'{"type": "event_callback", "event": {"type": "app_ho', "application/json"),
    "not_utf8": (b"team_id=T1&text=\xff\xfe\xfa", "application/x-www-form-urlencoded"),
    "empty": (b"", "application/x-www-form-urlencoded"),
    "bad_form": (b"team_id=T1&&=&%zz", "application/x-www-form-urlencoded"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
async def test_malformed_bodies_get_401_unsigned_and_400_signed_never_500(bot: BotHarness, case: str,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    body, content_type = MALFORMED[case]
    caplog.set_level(logging.INFO)
    unsigned = await post(bot.url, body, {}, content_type)
    non_numeric = await post(bot.url, body, {"X-Slack-Request-Timestamp": "12abc", "X-Slack-Signature": "v0=00"}, content_type)
    wide_digits = await post(bot.url, body, {**signed(body), "X-Slack-Request-Timestamp": "１７６５０００"}, content_type)
    cut_in_transit = await post(bot.url, body[: len(body) // 2], signed(body), content_type) if body else (401, "")
    signed_reply = await post(bot.url, body, signed(body), content_type)
    assert [unsigned[0], non_numeric[0], wide_digits[0], cut_in_transit[0], signed_reply[0]] == [401, 401, 401, 401, 400]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info], [r.getMessage() for r in caplog.records]
    await bot.settle()
    assert await count(bot.sessions, Account) == 0 and bot.slack.calls == []


async def test_the_same_signed_add_three_times_makes_one_agreement(bot: BotHarness) -> None:
    body = add_command(bot.slack.workspace.team_id)
    headers = signed(body)
    statuses = [(await post(bot.url, body, headers))[0] for _ in range(3)]
    await bot.settle()
    assert statuses == [200, 409, 409]
    assert await count(bot.sessions, ObligationAgreement) == 1
    # A new request (Slack gives each its own trigger id) is handled anew: the same rent again is asked
    # about first (issue 19.6), nothing is added until the person says so.
    fresh = add_command(bot.slack.workspace.team_id, trigger_id="7001.2.def")
    status, text = await post(bot.url, fresh, signed(fresh))
    assert status == 200 and "Rent already has $2,500.00 monthly: add another?" in text
    assert await count(bot.sessions, ObligationAgreement) == 1


@pytest.fixture
async def replica(slack: SlackStandIn, session_factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[BotHarness]:
    async for harness in start_bot(slack, session_factory):
        yield harness


async def test_a_replay_to_another_replica_changes_nothing(bot: BotHarness, replica: BotHarness) -> None:
    body = add_command(bot.slack.workspace.team_id)
    headers = signed(body)
    first = await post(bot.url, body, headers)
    again = await post(replica.url, body, headers)  # its own memory has not seen it: the database has
    await bot.settle()
    await replica.settle()
    assert first[0] == again[0] == 200
    assert "already handled" in json.loads(again[1])["text"]
    assert await count(bot.sessions, ObligationAgreement) == 1


async def test_an_interaction_is_handled_once_by_its_payload_identity(bot: BotHarness) -> None:
    await bot.command(ADMIN, 'balance set "Operating" 100')
    payload = {
        "type": "block_actions", "team": {"id": bot.slack.workspace.team_id, "domain": "acme"},
        "user": {"id": ADMIN, "name": "maria", "team_id": bot.slack.workspace.team_id}, "api_app_id": "A0TAMIO",
        "trigger_id": "7002.1.abc", "channel": {"id": CHANNEL, "name": "finance"},
        "container": {"type": "message", "message_ts": "1.000001", "channel_id": CHANNEL},
        "response_url": "http://127.0.0.1:9/actions/1",
        "actions": [{"type": "button", "action_id": "forecast_open_home", "block_id": "b1", "value": "home", "action_ts": "1.0"}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    assert (await post(bot.url, body, signed(body)))[0] == 200
    # The same payload, signed again a moment later: the same interaction, not a new one.
    later = signed(body, stamp=str(int(time.time()) + 2))
    assert (await post(bot.url, body, later))[0] == 409


async def test_without_a_signing_secret_the_http_route_takes_nothing(slack: SlackStandIn,
                                                                     session_factory: async_sessionmaker[AsyncSession]) -> None:
    async for harness in start_bot(slack, session_factory, slack_signing_secret=None):
        body = add_command(slack.workspace.team_id)
        for secret in ("", SIGNING_SECRET):  # Bolt would have checked an empty secret: anyone can sign with it
            assert (await post(harness.url, body, signed(body, secret=secret)))[0] == 404
        assert await count(session_factory, Account) == 0

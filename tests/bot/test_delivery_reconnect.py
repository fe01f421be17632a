"""Delivering ``integration_reconnect`` outbox rows: to the row's channel, else the digest channel, else
skipped with the reason logged and recorded; once, however often the worker looks."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from slack_sandbox.standin import SlackStandIn
from tamio.accounts.models import Account
from tamio.integrations.connections import RECONNECT_KIND
from tamio.outbox.models import OutboxMessage
from tamio.outbox.service import enqueue
from tests.bot.test_delivery_reliability import NOW, outbox_workspace, team, worker_for


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    async with outbox_workspace() as stand_in:
        yield stand_in


pytestmark = pytest.mark.backends("sqlite", "pg")
TEXT = ":warning: Xero (Harbour Bakery) stopped accepting Tamio's access, so syncing has paused. Reconnect with `/tamio connect xero`."


async def reconnect_row(sessions: async_sessionmaker[AsyncSession], account_id: str, channel: str | None, key: str) -> None:
    async with sessions() as db, db.begin():
        await enqueue(db, account_id=account_id, kind=RECONNECT_KIND, channel=channel,
                      payload={"text": TEXT, "integration": "xero", "reason": "invalid_grant"}, idempotency_key=key, now=NOW)


async def row(sessions: async_sessionmaker[AsyncSession], key: str) -> OutboxMessage:
    async with sessions() as db:
        return (await db.execute(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))).scalar_one()


async def test_reconnect_notices_go_to_their_channel_or_the_digest_channel(
    slack: SlackStandIn, session_factory: async_sessionmaker[AsyncSession],
) -> None:
    account_id = await team(session_factory, channel="C0FINANCE")
    await reconnect_row(session_factory, account_id, "C0OPS", "reconnect:a")
    await reconnect_row(session_factory, account_id, None, "reconnect:b")
    worker = worker_for(slack, session_factory, "w1", clock=lambda: NOW)

    assert await worker.run_once() == 2
    assert await worker.run_once() == 0  # said once
    [ops] = slack.messages("C0OPS")
    [finance] = slack.messages("C0FINANCE")
    for message in (ops, finance):
        assert message["text"] == TEXT and message["blocks"][0]["text"]["text"] == TEXT
        assert message["metadata"]["event_payload"]["key"].startswith("reconnect:")
    first, second = await row(session_factory, "reconnect:a"), await row(session_factory, "reconnect:b")
    assert (first.status, first.result["channel"]) == ("delivered", "C0OPS")
    assert (second.status, second.result["channel"]) == ("delivered", "C0FINANCE")


async def test_with_no_channel_at_all_the_notice_is_skipped_and_the_reason_logged(
    slack: SlackStandIn, session_factory: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture,
) -> None:
    account_id = await team(session_factory)
    async with session_factory() as db, db.begin():
        await db.execute(update(Account).where(Account.id == account_id).values(digest_channel_id=None))
    await reconnect_row(session_factory, account_id, None, "reconnect:nowhere")
    worker = worker_for(slack, session_factory, "w1", clock=lambda: NOW)

    with caplog.at_level(logging.INFO, logger="tamio.bot.delivery"):
        assert await worker.run_once() == 1  # settled: nothing left to try
    skipped = await row(session_factory, "reconnect:nowhere")
    assert skipped.status == "delivered" and "no channel" in skipped.result["skipped"]
    assert any("integration_reconnect" in r.getMessage() and "skipped: no channel" in r.getMessage() for r in caplog.records)
    assert slack.calls_to("chat.postMessage") == []

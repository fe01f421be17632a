"""A decision made anywhere updates the card in the channel (issue 15, item 2), end to end.

The Slack app and the REST API share one server; an approval through ``/api/v1`` (or an expiry by
the scheduler) is written with the outbox rows that update the card, so the delivery worker edits
the card in the local Slack stand-in without any click. App Home is rendered once per change of
the account and published to every member, each with their own role's view.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

import bot.home as home
from bot.home import HomeData
from tamio.accounts.models import Account, Member
from tamio.accounts.tokens import create_token
from tamio.execution.lifecycle import expire_due
from tamio.outbox.models import OutboxMessage
from tamio.preparation.models import ActionOption, ActionStatus, PreparedAction
from tests.bot.conftest import ADMIN, APPROVER, APPROVER2, CHANNEL, NOW, VIEWER, BotHarness
from tests.bot.prepared import Option, account_of, prepare, reload

pytestmark = pytest.mark.backends("sqlite")

CHASE = Option("Chase Acme Corp's $4,200.00", subject="Invoice 1042 is overdue", body="Hi Acme, could you pay invoice 1042?",
               email="ap@acme.example")


async def team(bot: BotHarness) -> str:
    await bot.command(ADMIN, "digest here")
    for user in (APPROVER, APPROVER2):
        await bot.command(ADMIN, f"role <@{user}> approver")
    await bot.command(VIEWER, "help")
    return (await account_of(bot.sessions)).id


async def token_for(bot: BotHarness, account_id: str, slack_user_id: str) -> str:
    async with bot.sessions() as db, db.begin():
        member = (await db.execute(select(Member).where(Member.user_id == account_id, Member.slack_user_id == slack_user_id))).scalar_one()
        account = await db.get(Account, account_id)
        assert account is not None
        issued = await create_token(db, account=account, actor=None, member_id=member.id, name="api", now=NOW)
    return issued.secret


def card_of(bot: BotHarness, ts: str) -> dict[str, Any]:
    return bot.slack.message(CHANNEL, ts)


async def test_an_approval_through_the_rest_api_updates_the_card_in_slack(bot: BotHarness) -> None:
    account_id = await team(bot)
    action = await prepare(bot.sessions, account_id, title="Acme Corp is 16 days late", options=[CHASE], channel=CHANNEL)
    await bot.settle()
    ts = (await reload(bot.sessions, action.id)).slack_message_ts
    assert ts is not None and "card_approve" in str(card_of(bot, ts)["blocks"])
    token = await token_for(bot, account_id, APPROVER)
    option_id = (await bot_options(bot, action.id))[0]
    async with aiohttp.ClientSession() as http:
        reply = await http.post(f"{bot.url}api/v1/pipeline/actions/{action.id}/approve", json={"option_id": option_id},
                                headers={"Authorization": f"Bearer {token}"})
        assert reply.status == 200, await reply.text()
        answer = await reply.json()
    assert answer["outcome"] == "approved"
    await bot.settle()
    updated = card_of(bot, ts)
    assert "card_approve" not in str(updated["blocks"])  # no buttons left to click
    assert f"Approved by <@{APPROVER}>" in str(updated["blocks"])
    assert len([m for m in bot.slack.messages(CHANNEL) if m.get("blocks")]) == 2  # the digest note and the one card, edited in place


async def test_an_expiry_by_the_scheduler_updates_the_card_in_slack(bot: BotHarness) -> None:
    account_id = await team(bot)
    action = await prepare(bot.sessions, account_id, title="Acme Corp is 16 days late", options=[CHASE], channel=CHANNEL)
    await bot.settle()
    ts = (await reload(bot.sessions, action.id)).slack_message_ts
    assert ts is not None
    async with bot.sessions() as db, db.begin():
        account = await db.get(Account, account_id)
        row = await db.get(PreparedAction, action.id)
        assert account is not None
        assert row is not None
        row.expires_at = NOW - timedelta(minutes=1)
        await db.flush()
        assert [d.outcome for d in await expire_due(db, account=account, now=NOW)] == ["expired"]
    await bot.settle()
    assert (await reload(bot.sessions, action.id)).status == ActionStatus.EXPIRED
    assert ":hourglass: *Expired*" in str(card_of(bot, ts)["blocks"])


async def test_app_home_is_rendered_once_per_change_and_published_to_every_member(bot: BotHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    account_id = await team(bot)
    action = await prepare(bot.sessions, account_id, title="Acme Corp is 16 days late", options=[CHASE], channel=CHANNEL)
    await bot.settle()
    renders = 0
    real = HomeData.view_for
    loads = 0
    real_load = home.load_home

    async def counting_load(*args: Any, **kwargs: Any) -> HomeData:
        nonlocal loads
        loads += 1
        return await real_load(*args, **kwargs)

    def counting_view(self: HomeData, slack_user_id: str) -> dict[str, Any]:
        nonlocal renders
        renders += 1
        return real(self, slack_user_id)

    monkeypatch.setattr(home, "load_home", counting_load)
    monkeypatch.setattr(HomeData, "view_for", counting_view)
    before = len(bot.slack.calls_to("views.publish"))
    token = await token_for(bot, account_id, APPROVER)
    option_id = (await bot_options(bot, action.id))[0]
    async with aiohttp.ClientSession() as http:
        reply = await http.post(f"{bot.url}api/v1/pipeline/actions/{action.id}/approve", json={"option_id": option_id},
                                headers={"Authorization": f"Bearer {token}"})
        assert reply.status == 200, await reply.text()
    await bot.settle()
    published = bot.slack.calls_to("views.publish")[before:]
    members = {ADMIN, APPROVER, APPROVER2, VIEWER}
    assert {p["user_id"] for p in published} == members
    # The approval and each step of carrying it out queued a refresh; the account was read once for
    # all of them that were waiting, and each member's view built from that one reading.
    async with bot.sessions() as db:
        refreshes = (await db.execute(select(OutboxMessage.result).where(OutboxMessage.kind == "home_refresh"))).scalars().all()
    assert loads == len([r for r in refreshes if "published" in r]) and loads < len(refreshes)
    assert renders == len(published) == loads * len(members)
    settings_button = ["Settings" in str(p["view"]) for p in published if p["user_id"] == ADMIN]
    assert settings_button and all(settings_button)
    assert not any("Settings" in str(p["view"]) for p in published if p["user_id"] == VIEWER)


async def bot_options(bot: BotHarness, action_id: str) -> list[str]:
    async with bot.sessions() as db:
        return list((await db.execute(select(ActionOption.id).where(ActionOption.action_id == action_id).order_by(ActionOption.rank))).scalars())

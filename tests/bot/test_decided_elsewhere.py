"""A decision made anywhere updates the card in the channel (issue 15, item 2), end to end.

The Slack app and the REST API share one server; an approval through ``/api/v1`` (or an expiry by
the scheduler) is written with the outbox rows that update the card, so the delivery worker edits
the card in the local Slack stand-in without any click. App Home is rendered once per change of
the account and published to every member, each with their own role's view.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import bot.home as home
from bot.home import HomeData
from slack_sandbox.standin import SlackStandIn
from tamio.accounts.models import Account, Member
from tamio.accounts.tokens import create_token
from tamio.data.models import Client
from tamio.execution.closing import expire_due
from tamio.execution.models import ExecutionAutomationRule
from tamio.outbox.models import OutboxMessage
from tamio.preparation.models import ActionOption, ActionStatus, PreparedAction
from tests.bot.conftest import ADMIN, APPROVER, APPROVER2, CHANNEL, NOW, VIEWER, BotHarness, start_bot
from tests.bot.prepared import Option, account_of, prepare, reload
from tests.service.execution_factories import Mailbox, free_port

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


@pytest.fixture
async def mailbox() -> AsyncIterator[Mailbox]:
    with Mailbox(free_port()) as box:
        yield box


@pytest.fixture
async def mailing_bot(slack: SlackStandIn, session_factory: async_sessionmaker[AsyncSession], mailbox: Mailbox) -> AsyncIterator[BotHarness]:
    async for harness in start_bot(slack, session_factory, smtp_host="127.0.0.1", smtp_port=mailbox.port, smtp_sender="tamio@acme.test"):
        yield harness


async def test_a_card_sums_up_what_happened_with_its_client(mailing_bot: BotHarness, mailbox: Mailbox) -> None:
    bot = mailing_bot
    account_id = await team(bot)
    await bot.command(ADMIN, 'add client "Acme Corp" 4200 once from 2026-12-11')
    await bot.command(ADMIN, 'contact "Acme Corp" ap@acme.example')
    first = await prepare(bot.sessions, account_id, title="Acme Corp is 16 days late", options=[CHASE], channel=CHANNEL)
    await bot.settle()
    ts = (await reload(bot.sessions, first.id)).slack_message_ts
    assert ts is not None and ":clipboard:" not in str(card_of(bot, ts)["blocks"])  # nothing has happened with Acme yet
    await bot.sender.block_action(APPROVER, CHANNEL, ts, [{"action_id": "card_approve", "value": first.id}])
    await bot.settle()
    assert (await reload(bot.sessions, first.id)).status == ActionStatus.EXECUTED and len(mailbox.to("ap@acme.example")) == 1
    await bot.command(ADMIN, 'paid "Acme Corp" 1000')
    second = await prepare(bot.sessions, account_id, title="Acme Corp is 20 days late", options=[CHASE], channel=CHANNEL)
    async with bot.sessions() as db, db.begin():  # as preparation names a late payer: by its client id
        acme = (await db.execute(select(Client).where(Client.user_id == account_id, Client.name == "Acme Corp"))).scalar_one()
        row = await db.get(PreparedAction, second.id)
        assert row is not None
        row.counterparty_type, row.counterparty_id = "client", acme.id
    await bot.settle()
    card = card_of(bot, str((await reload(bot.sessions, second.id)).slack_message_ts))
    line = next(e["text"] for b in card["blocks"] if b["type"] == "context" for e in b["elements"] if ":clipboard:" in e["text"])
    assert line == f":clipboard: Acme Corp: Chased 1x, last 7 Dec by <@{APPROVER}> · Last paid 7 Dec ($1,000.00)"


async def test_automation_rules_in_slack(bot: BotHarness) -> None:
    await team(bot)

    async def say(user: str, text: str) -> str:
        reply = await bot.sender.slash_command(user, text, CHANNEL)
        answer = reply.json()
        return str(answer.get("text")) + str(answer.get("blocks") or "")

    listed = await say(VIEWER, "rules")
    assert "`payment_batch`: asks a person · below $10,000.00" in listed and "`payroll`: LOCKED: an admin approves" in listed
    assert "The payment batch rule is now: automatic · below $5,000.00." in await say(ADMIN, "rules set payment_batch auto on threshold 5000")
    assert "Only admins can change automation rules; you are an approver." in await say(APPROVER, "rules set payment_batch auto off")
    assert "Payroll actions always need an admin's approval; this rule is locked." in await say(ADMIN, "rules set payroll auto on")
    assert "`autopilot` is not a rule." in await say(ADMIN, "rules set autopilot auto on")
    async with bot.sessions() as db:
        rule = (await db.execute(select(ExecutionAutomationRule).where(ExecutionAutomationRule.action_type == "payment_batch"))).scalar_one()
    assert (rule.auto_execute, rule.threshold_amount) == (True, Decimal("5000"))

"""Only verified requests reach Tamio, each workspace sees only its own account, retries are dropped."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from tamio.accounts.models import Account, Member
from tamio.audit.models import AuditLog
from tamio.data.models import CashAccount
from tamio.scheduler.models import SlackEventReceipt
from tests.bot.conftest import ADMIN, CHANNEL, BotHarness

pytestmark = pytest.mark.backends("sqlite")


async def rows(bot: BotHarness, model: type) -> int:
    async with bot.sessions() as db:
        return int((await db.execute(select(func.count()).select_from(model))).scalar_one())


@pytest.mark.parametrize("forgery", ["bad_signature", "old_timestamp", "future_timestamp"])
async def test_forged_or_stale_requests_get_401_and_change_nothing(bot: BotHarness, forgery: str) -> None:
    # Bolt checks the timestamp against the wall clock when the request arrives: a request that
    # takes a while to get there only ages, so "old" may sit at the limit; "future" keeps a margin.
    kwargs = {
        "bad_signature": {"bad_signature": True},
        "old_timestamp": {"timestamp": int(time.time()) - 301},
        "future_timestamp": {"timestamp": int(time.time()) + 330},
    }[forgery]
    reply = await bot.command(ADMIN, 'balance set "Operating" 45000', **kwargs)
    assert reply.status == 401
    click = await bot.sender.block_action(ADMIN, CHANNEL, "1.000001", [{"action_id": "card_approve", "value": "act_x"}], **kwargs)
    event = await bot.sender.app_home_opened(ADMIN, **kwargs)
    assert (click.status, event.status) == (401, 401)
    await bot.settle()
    for model in (Account, Member, CashAccount, AuditLog, SlackEventReceipt):
        assert await rows(bot, model) == 0
    assert bot.slack.ephemerals == [] and bot.slack.calls == []


async def test_a_timestamp_just_inside_five_minutes_is_accepted(bot: BotHarness) -> None:
    reply = await bot.command(ADMIN, 'balance set "Operating" 45000', timestamp=int(time.time()) - 280)
    assert reply.status == 200 and await rows(bot, CashAccount) == 1


async def test_a_retried_event_is_handled_once(bot: BotHarness) -> None:
    first = await bot.sender.app_home_opened(ADMIN, event_id="Ev0001")
    retry = await bot.sender.app_home_opened(ADMIN, event_id="Ev0001", retry_num=1)
    await bot.settle()
    assert first.status == retry.status == 200
    assert len(bot.slack.calls_to("views.publish")) == 1
    assert await rows(bot, SlackEventReceipt) == 1
    await bot.sender.app_home_opened(ADMIN, event_id="Ev0002")
    await bot.settle()
    assert len(bot.slack.calls_to("views.publish")) == 2


async def test_a_role_changed_elsewhere_counts_at_once_for_anything_that_changes_data(bot: BotHarness) -> None:
    from sqlalchemy import update

    from tamio.accounts.models import Role
    from tests.bot.conftest import APPROVER

    await bot.command(ADMIN, f"role <@{APPROVER}> approver")
    await bot.command(APPROVER, 'balance set "Operating" 100')  # remembered as an approver now
    assert await rows(bot, CashAccount) == 1
    async with bot.sessions() as db, db.begin():  # another replica (or the CLI) demotes them
        await db.execute(update(Member).where(Member.slack_user_id == APPROVER).values(role=Role.VIEWER))
    await bot.command(APPROVER, 'balance set "Savings" 100')
    assert "Only approvers and admins can set balances" in bot.ephemerals_for(APPROVER)[-1]["text"]
    assert await rows(bot, CashAccount) == 1

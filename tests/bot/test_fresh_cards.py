"""Issue 15 in Slack: cards follow the money, and a click on a card whose figures changed is refused
with the card as it is now ("The figures changed since this was prepared; here they are now.")."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from tamio.data.service import set_balance
from tamio.preparation.models import ActionStatus, ActionType, PreparedAction
from tests.bot.conftest import ADMIN, APPROVER, APPROVER2, CHANNEL, NOW, VIEWER, BotHarness
from tests.bot.prepared import account_of, reload
from tests.consistency import assert_figures_agree

pytestmark = pytest.mark.backends("sqlite")


async def business(bot: BotHarness) -> str:
    """Payroll of $42,000 on Tue 8 Dec against $5,000 in Operating, a credit line and savings."""
    await bot.command(ADMIN, "digest here")
    for user in (APPROVER, APPROVER2):
        await bot.command(ADMIN, f"role <@{user}> approver")
    await bot.command(VIEWER, "help")
    await bot.command(ADMIN, 'balance set "Operating" 5000')
    account = await account_of(bot.sessions)
    async with bot.sessions() as db, db.begin():
        await set_balance(db, account=account, name="Credit line", amount=Decimal(0), currency="USD", on_date=NOW.date(), now=NOW,
                          account_type="credit_line", credit_limit=Decimal(100000))
    await bot.command(ADMIN, 'add payroll "Payroll" 42000 semimonthly from 2026-12-08')
    await bot.command(ADMIN, 'add client "Acme Corp" 8000 monthly on 20')
    return account.id


async def buffer_card(bot: BotHarness, account_id: str) -> PreparedAction:
    async with bot.sessions() as db:
        return (await db.execute(select(PreparedAction).where(
            PreparedAction.user_id == account_id, PreparedAction.action_type == ActionType.PAYMENT_PRIORITIZATION,
            PreparedAction.status == ActionStatus.PENDING))).scalar_one()


async def agrees(bot: BotHarness, account_id: str) -> None:
    await assert_figures_agree(bot.sessions, account_id=account_id, now=NOW, settings=bot.settings, home=bot.slack.home_views.get(ADMIN))


async def test_each_change_in_slack_leaves_cards_alerts_and_app_home_agreeing_with_the_forecast(bot: BotHarness) -> None:
    account_id = await business(bot)
    await bot.sender.event({"type": "app_home_opened", "user": ADMIN, "tab": "home"})
    await bot.settle()
    await agrees(bot, account_id)
    first = await buffer_card(bot, account_id)
    await bot.command(ADMIN, 'balance set "Operating" 3000')  # the refresh follows the command
    await agrees(bot, account_id)
    fresh = await buffer_card(bot, account_id)
    assert fresh.id != first.id and (await reload(bot.sessions, first.id)).status == ActionStatus.SUPERSEDED
    old_card = bot.slack.message(CHANNEL, str(first.slack_message_ts))
    assert "Superseded" in str(old_card["blocks"]) and "the figures changed; a fresh card replaces it" in str(old_card["blocks"])
    assert fresh.slack_message_ts and fresh.slack_message_ts != first.slack_message_ts  # its own card, posted


async def test_a_click_on_a_card_whose_figures_changed_is_refused_with_the_card_as_it_is_now(bot: BotHarness) -> None:
    account_id = await business(bot)
    stale = await buffer_card(bot, account_id)
    account = await account_of(bot.sessions)
    async with bot.sessions() as db, db.begin():  # a change the server has not refreshed yet
        await set_balance(db, account=account, name="Operating", amount=Decimal(3000), currency="USD", on_date=NOW.date(), now=NOW)
    await bot.sender.block_action(APPROVER, CHANNEL, str(stale.slack_message_ts), [{"action_id": "card_approve", "value": stale.id}])
    await bot.app.runtime.drain()
    note = bot.ephemerals_for(APPROVER)[-1]
    assert note["text"] == "The figures changed since this was prepared; here they are now."
    fresh = await buffer_card(bot, account_id)
    assert fresh.title in str(note["blocks"]) and fresh.id in str(note["blocks"])  # the fresh card, with its buttons
    assert (await reload(bot.sessions, stale.id)).status == ActionStatus.SUPERSEDED
    await bot.settle()
    assert "Superseded" in str(bot.slack.message(CHANNEL, str(stale.slack_message_ts))["blocks"])
    assert (await reload(bot.sessions, fresh.id)).slack_message_ts  # and the channel has the fresh card
    await agrees(bot, account_id)

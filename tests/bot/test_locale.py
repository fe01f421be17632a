"""Amounts and dates in the account's locale, its time zone from the installer, fresh block ids, dated decisions.

The old code wrote every amount en_US, ignored the installer's ``tz``, reused a card's block ids on
every update (Slack then keeps a stale radio choice) and said "Approved at 3:02 PM" without a day.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tamio.accounts.models import Account
from tests.bot.conftest import ADMIN, APPROVER, APPROVER2, CHANNEL, BotHarness
from tests.bot.prepared import Option, prepare
from tests.bot.test_cards import click, team_with_roles

pytestmark = pytest.mark.backends("sqlite")


async def test_a_new_account_takes_the_installers_time_zone_and_locale(bot: BotHarness) -> None:
    bot.slack.workspace.users[ADMIN].update(tz="Europe/Berlin", locale="de-DE")
    await bot.command(ADMIN, 'balance set "Operating" 45000.5')
    async with bot.sessions() as db:
        account = (await db.execute(select(Account))).scalar_one()
    assert (account.timezone, account.locale) == ("Europe/Berlin", "de_DE")
    assert "45.000,50\xa0$" in bot.ephemerals_for(ADMIN)[-1]["text"]
    await bot.command(ADMIN, "forecast")
    forecast = next(e for e in reversed(bot.ephemerals_for(ADMIN)) if e["blocks"] and e["blocks"][0]["type"] == "header")
    assert forecast["blocks"][1]["text"]["text"].startswith("Today *45.000,50\xa0$*")  # German separators, cents as everywhere
    assert "Mo. 7 Dez." in str(forecast["blocks"])  # the week's first day, in German

    await bot.command(ADMIN, "config set locale en_GB")
    await bot.command(ADMIN, "balance")
    assert "US$45,000.50" in bot.ephemerals_for(ADMIN)[-1]["text"]
    await bot.command(ADMIN, "config set locale xx_YY")
    assert "I don't know the locale" in bot.ephemerals_for(ADMIN)[-1]["text"]


async def test_an_updated_card_has_new_block_ids_and_its_decision_has_a_day(bot: BotHarness) -> None:
    account_id = await team_with_roles(bot)
    action = await prepare(bot.sessions, account_id, title="Pay Cloud Host $25,000", amount="25000", channel=CHANNEL,
                           options=[Option("Send a reminder", subject="Invoice 1042", body="Hello", email="ap@acme.example"),
                                    Option("Send a firm reminder", subject="Invoice 1042", body="Hello again")])
    await bot.settle()
    card = next(m for m in bot.slack.messages(CHANNEL) if m["blocks"] and m["blocks"][0]["type"] == "header")
    before = {b.get("block_id") for b in card["blocks"] if b.get("block_id")}
    await click(bot, APPROVER, card, "card_approve", action.id)
    middle = bot.slack.message(CHANNEL, card["ts"])
    after = {b.get("block_id") for b in middle["blocks"] if b.get("block_id")}
    assert before and after and not before & after  # every block id is new on the updated card
    await click(bot, APPROVER2, middle, "card_approve", action.id)
    final = str(bot.slack.message(CHANNEL, card["ts"])["blocks"])
    assert "Approved by" in final and "^{date_short_pretty} at {time}|" in final  # "today at 3:02 PM", in each reader's words


def test_the_digests_headline_is_written_in_the_accounts_locale() -> None:
    from datetime import UTC, date, datetime
    from decimal import Decimal

    from tamio.digest import DailyDigest

    digest = DailyDigest(account_id="a", account_name="Acme GmbH", day=date(2026, 12, 8), base_currency="EUR",
                         cash_today=Decimal("48250"), lowest_balance=Decimal("3740"), lowest_week=date(2026, 12, 28),
                         runway_weeks=None, since=datetime(2026, 12, 7, tzinfo=UTC), locale="de_DE")
    assert digest.quiet_line() == "Nothing new. Cash 48.250,00\xa0€, lowest 3.740,00\xa0€ (week of 28 Dez.)."
    assert DailyDigest.from_json(digest.to_json()).locale == "de_DE"

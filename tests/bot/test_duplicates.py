"""The same obligation entered twice is flagged at entry (issue 19 item 6).

Before, `/tamio add expense "Rent" 500 monthly` twice made two identical agreements (and two identical
alerts) without a word. Now the second asks "Rent already has $500.00 monthly: add another?" with
Add anyway; the form asks on a field; nothing is written until the person says so.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tamio.obligations.models import ObligationAgreement
from tests.bot.conftest import ADMIN, CHANNEL, BotHarness
from tests.bot.test_home_and_forms import picked, select_option, state, text

pytestmark = pytest.mark.backends("sqlite")


async def agreements(bot: BotHarness) -> int:
    async with bot.sessions() as db:
        return int((await db.execute(select(func.count()).select_from(ObligationAgreement))).scalar_one())


async def test_the_second_rent_asks_first_and_is_added_only_when_asked(bot: BotHarness) -> None:
    await bot.command(ADMIN, 'add expense "Rent" 500 monthly on 1')
    await bot.command(ADMIN, 'add expense "rent" 500.00 monthly on 1')
    question = bot.ephemerals_for(ADMIN)[-1]
    assert question["text"] == ":warning: Rent already has $500.00 monthly: add another?"
    assert await agreements(bot) == 1
    await bot.command(ADMIN, 'add expense "Rent" 650 monthly on 1')  # another amount is no duplicate
    assert "Added another amount to *Rent*" in bot.ephemerals_for(ADMIN)[-1]["text"]
    assert await agreements(bot) == 2

    await bot.command(ADMIN, 'add expense "Rent" 500 monthly on 1')
    shown = bot.ephemerals_for(ADMIN)[-1]
    await bot.sender.block_action(ADMIN, CHANNEL, shown["ts"], [{"action_id": "add_cancel", "value": "cancel"}], is_ephemeral=True)
    await bot.settle()
    assert await agreements(bot) == 2 and bot.ephemerals_for(ADMIN)[-1]["text"] == "Nothing was added."

    await bot.command(ADMIN, 'add expense "Rent" 500 monthly on 1')
    shown = bot.ephemerals_for(ADMIN)[-1]
    button = shown["blocks"][1]["elements"][0]
    await bot.sender.block_action(ADMIN, CHANNEL, shown["ts"], [{"action_id": "add_anyway", "value": button["value"]}], is_ephemeral=True)
    await bot.settle()
    assert await agreements(bot) == 3
    assert "Added another amount to *Rent* (expense): $500.00 monthly" in bot.ephemerals_for(ADMIN)[-1]["text"]


async def test_the_form_asks_on_a_field_and_adds_when_ticked(bot: BotHarness) -> None:
    await bot.command(ADMIN, 'add expense "Rent" 500 monthly on 1')
    await bot.command(ADMIN, "add")
    view = next(iter(bot.slack.views.values()))
    values = state(kind=select_option("expense"), counterparty=select_option("new:Rent", "external_select"), amount=text("500"),
                   currency=text("USD"), frequency=select_option("monthly"), day=text("1"), start_date=picked("2026-12-20"),
                   end_date=picked(None), convention=select_option("none"))["values"]
    refused = await bot.sender.view_submission(ADMIN, {"id": view["id"], "state": {"values": values}})
    assert refused.json()["errors"] == {"allow_duplicate": "Rent already has $500.00 monthly: add another? Tick this to add it anyway."}
    assert await agreements(bot) == 1
    ticked = {**values, "allow_duplicate": {"allow_duplicate": {"type": "checkboxes", "selected_options": [
        {"text": {"type": "plain_text", "text": "x"}, "value": "allow_duplicate"}]}}}
    accepted = await bot.sender.view_submission(ADMIN, {"id": view["id"], "state": {"values": ticked}})
    await bot.settle()
    assert accepted.status == 200 and await agreements(bot) == 2

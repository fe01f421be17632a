"""Who sees the business's figures, and who gets in at all.

The old code made every member, guests included, a viewer who saw cash, runway and alerts; made
workspace admins Tamio admins who could approve payments; and had no confirm on a card's Approve.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from slack_sandbox.signed import find_element
from tamio.accounts.models import Member, Role
from tamio.preparation.models import ActionType
from tests.bot.conftest import ADMIN, APPROVER, CHANNEL, VIEWER, BotHarness
from tests.bot.prepared import Option, account_of, prepare

pytestmark = pytest.mark.backends("sqlite")


def said_to(bot: BotHarness, user: str) -> str:
    shown = bot.ephemerals_for(user)[-1]
    return shown["text"] + str(shown["blocks"])


async def books(bot: BotHarness) -> None:
    await bot.command(ADMIN, 'balance set "Operating" 48250')
    await bot.command(ADMIN, 'add payroll "Payroll" 42000 semimonthly from 2026-12-08')
    await bot.command(ADMIN, "digest here")
    await bot.command(ADMIN, "run")


async def test_viewers_see_only_that_something_needs_attention_until_an_admin_allows_figures(bot: BotHarness) -> None:
    await books(bot)
    for text in ("forecast", "balance", "alerts", "actions"):
        await bot.command(VIEWER, text)
        shown = said_to(bot, VIEWER)
        assert "Something needs attention" in shown and "$" not in shown, text
    await bot.sender.app_home_opened(VIEWER)
    await bot.settle()
    home = str(bot.slack.home_views[VIEWER]["blocks"])
    assert "Something needs attention" in home and "48,250" not in home and "card_approve" not in home

    await bot.command(VIEWER, "config set viewers_see_figures on")
    assert "Only admins can change settings" in said_to(bot, VIEWER)
    await bot.command(ADMIN, "config set viewers_see_figures on")
    await bot.command(VIEWER, "balance")
    assert "$48,250.00" in said_to(bot, VIEWER)
    await bot.command(APPROVER, "help")
    await bot.command(ADMIN, f"role <@{APPROVER}|sam> approver")
    await bot.command(ADMIN, "config set viewers_see_figures off")
    await bot.command(APPROVER, "balance")
    assert "$48,250.00" in said_to(bot, APPROVER)  # approvers always do


async def test_guests_and_people_from_other_organisations_never_get_in(bot: BotHarness) -> None:
    await bot.command(ADMIN, "help")
    bot.slack.workspace.users["UGUEST"] = {"name": "gus", "is_restricted": True}
    bot.slack.workspace.users["UPARTNER"] = {"name": "pat", "team_id": "T0PARTNER"}  # in a Slack Connect channel
    for user, why in (("UGUEST", "guests can't use it"), ("UPARTNER", "other organisations")):
        reply = await bot.command(user, "balance")
        assert why in reply.body, user
    async with bot.sessions() as db:
        members = set((await db.execute(select(Member.slack_user_id))).scalars())
    assert members == {ADMIN}


async def test_a_slack_admin_is_no_tamio_admin_unless_made_one(bot: BotHarness) -> None:
    bot.slack.workspace.users["UOWNER"] = {"name": "olga", "is_owner": True}
    await bot.command(ADMIN, "help")  # the first Slack admin to use a one-workspace Tamio is its first admin
    await bot.command("UOWNER", "config set safety_mode aggressive")
    assert "Only admins can change settings" in said_to(bot, "UOWNER")
    await bot.command(ADMIN, "role <@UOWNER|olga> admin")
    await bot.command("UOWNER", "config set safety_mode aggressive")
    assert "Safety mode is now aggressive" in said_to(bot, "UOWNER")
    async with bot.sessions() as db:
        roles = {m.slack_user_id: m.role for m in (await db.execute(select(Member))).scalars()}
    assert roles == {ADMIN: Role.ADMIN, "UOWNER": Role.ADMIN}


async def test_approve_asks_first_when_it_moves_money_or_emails_someone(bot: BotHarness) -> None:
    await bot.command(ADMIN, "digest here")
    account = await account_of(bot.sessions)
    await prepare(bot.sessions, account.id, title="Acme Corp is 16 days late", channel=CHANNEL,
                  options=[Option("Send a reminder", subject="Invoice 1042", body="Hello", email="ap@acme.example")])
    await prepare(bot.sessions, account.id, title="Cloud Host costs more than planned", channel=CHANNEL,
                  action_type=ActionType.INVOICE_GENERATION, options=[Option("Plan $2,600 a month", kind="adjust_forecast")])
    await bot.settle()
    cards = {m["text"]: m for m in bot.slack.messages(CHANNEL) if m["blocks"] and m["blocks"][0]["type"] == "header"}
    reminder = next(m for text, m in cards.items() if "Acme" in text)
    adjustment = next(m for text, m in cards.items() if "Cloud Host" in text)
    _, approve = find_element(reminder["blocks"], "card_approve")
    assert approve is not None and "email the recipient" in approve["confirm"]["text"]["text"]
    _, approve = find_element(adjustment["blocks"], "card_approve")
    assert approve is not None and "confirm" not in approve  # only Tamio's own figures change

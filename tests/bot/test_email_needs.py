"""Issue 19 item 5: an email action says before approval what it needs (SMTP settings, the contact's address),
offers to add the address from the card, and an approval that could not be sent is refused, never accepted and failing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from slack_sandbox.blockkit_limits import message_block_errors, view_errors
from slack_sandbox.standin import SlackStandIn
from tamio.data.models import Client
from tamio.preparation.models import ActionStatus
from tests.bot.conftest import ADMIN, APPROVER, CHANNEL, BotHarness, start_bot
from tests.bot.prepared import Option, prepare, reload
from tests.bot.test_cards import card_message, click, element, team_with_roles

pytestmark = pytest.mark.backends("sqlite")


def chase(client_id: str | None = None, email: str | None = None) -> Option:
    return Option("Chase Acme Corp's $4,200.00", subject="Invoice INV-1042 is overdue", body="Hi Acme,\nCould you let us know?",
                  email=email, params={"client_id": client_id} if client_id else {})


async def acme(bot: BotHarness) -> str:
    await bot.command(ADMIN, 'add client "Acme Corp" invoice 4200 due 2026-11-21 ref INV-1042')
    async with bot.sessions() as db:
        return (await db.execute(select(Client.id).where(Client.name == "Acme Corp"))).scalar_one()


async def test_no_address_is_said_on_the_card_added_from_it_and_refused_until_then(bot: BotHarness) -> None:
    account_id = await team_with_roles(bot)
    client_id = await acme(bot)
    action = await prepare(bot.sessions, account_id, title="Acme Corp is 16 days late", options=[chase(client_id)], channel=CHANNEL)
    await bot.settle()
    card = card_message(bot)
    assert message_block_errors(card["blocks"]) == []
    assert "Acme Corp has no email address, so this message cannot be sent." in str(card["blocks"])
    button = element(card, "card_add_contact")
    assert button is not None and button["text"]["text"] == "Add email address"

    await click(bot, APPROVER, card, "card_approve", action.id)
    refused = bot.ephemerals_for(APPROVER)[-1]["text"]
    assert "Acme Corp has no email address, so this message cannot be sent. Nothing was approved." in refused
    assert (await reload(bot.sessions, action.id)).status == ActionStatus.PENDING

    await click(bot, APPROVER, card, "card_add_contact", action.id)
    form = next(v for v in bot.slack.views.values() if v.get("callback_id") == "card_add_contact_form")
    assert view_errors({k: form[k] for k in ("type", "title", "submit", "close", "blocks", "callback_id")}) == []
    wrong = await bot.sender.view_submission(APPROVER, {"id": form["id"], "state": {"values": {
        "email": {"email": {"type": "email_text_input", "value": "ap@acme"}}}}})
    assert wrong.json()["response_action"] == "errors" and "email address" in wrong.json()["errors"]["email"]
    await bot.sender.view_submission(APPROVER, {"id": form["id"], "state": {"values": {
        "email": {"email": {"type": "email_text_input", "value": "ap@acme.example"}}}}})
    await bot.settle()
    async with bot.sessions() as db:
        assert (await db.get(Client, client_id)).contact_email == "ap@acme.example"  # type: ignore[union-attr]
    assert "Follow-up emails to *Acme Corp* now go to ap@acme.example" in bot.ephemerals_for(APPROVER)[-1]["text"]
    updated = bot.slack.message(CHANNEL, card["ts"])
    assert "has no email address" not in str(updated["blocks"]) and element(updated, "card_add_contact") is None


@pytest.fixture
async def bot_without_smtp(slack: SlackStandIn, session_factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[BotHarness]:
    async for harness in start_bot(slack, session_factory, smtp_host=None):
        yield harness


async def test_without_smtp_settings_the_card_says_so_and_approval_is_refused(bot_without_smtp: BotHarness) -> None:
    bot = bot_without_smtp
    account_id = await team_with_roles(bot)
    action = await prepare(bot.sessions, account_id, title="Acme Corp is 16 days late", options=[chase(email="ap@acme.example")],
                           channel=CHANNEL)
    await bot.settle()
    card = card_message(bot)
    assert "Tamio cannot send email yet: this server has no SMTP settings (SMTP_HOST)." in str(card["blocks"])
    assert element(card, "card_add_contact") is None
    await click(bot, APPROVER, card, "card_approve", action.id)
    assert "no SMTP settings" in bot.ephemerals_for(APPROVER)[-1]["text"]
    stored = await reload(bot.sessions, action.id)
    assert (stored.status, stored.chosen_option_id) == (ActionStatus.PENDING, None)

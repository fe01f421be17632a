"""Answers that arrive: a modal's confirmation goes through the response URL Slack gives the submission
(``response_url_enabled``) or to the person's DM, and every reply is checked and falls back.

The old code confirmed with chat.postEphemeral in the channel the modal came from: in a channel
Tamio is not in, or a DM, Slack refused it and the person never heard; the error was only logged.
"""

from __future__ import annotations

import pytest

from tests.bot.conftest import ADMIN, APPROVER, CHANNEL, BotHarness
from tests.bot.prepared import Option, account_of, prepare
from tests.bot.test_home_and_forms import picked, select_option, state, text

pytestmark = pytest.mark.backends("sqlite")


def filled(**changes: dict) -> dict:
    return state(kind=select_option("expense"), counterparty=select_option("new:AWS", "external_select"), amount=text("1200"),
                 currency=text("USD"), frequency=select_option("monthly"), day=text(""), start_date=picked("2026-12-10"),
                 end_date=picked(None), convention=select_option("none"), **changes)


async def open_add_form(bot: BotHarness, channel: str) -> dict:
    await bot.command(ADMIN, "add", channel=channel)
    return list(bot.slack.views.values())[-1]


async def test_the_add_forms_confirmation_arrives_in_a_private_channel_tamio_is_not_in(bot: BotHarness) -> None:
    bot.slack.add_channel("C0BOARD", "board", private=True, bot=False)
    view = await open_add_form(bot, "C0BOARD")
    picker = next(b for b in view["blocks"] if b["block_id"] == "confirm_in")["element"]
    assert picker["response_url_enabled"] and picker["initial_conversation"] == "C0BOARD"
    await bot.sender.view_submission(ADMIN, {"id": view["id"], "state": filled()})
    await bot.settle()
    [confirmation] = [e for e in bot.ephemerals_for(ADMIN) if "Added *AWS*" in e["text"]]
    assert confirmation["channel"] == "C0BOARD"
    assert not bot.slack.calls_to("chat.postEphemeral")


async def test_without_a_conversation_to_confirm_in_the_confirmation_goes_to_the_dm(bot: BotHarness) -> None:
    view = await open_add_form(bot, CHANNEL)
    nowhere = filled(confirm_in={"type": "conversations_select", "selected_conversation": None})
    del view["blocks"][-1]["element"]["initial_conversation"]  # the person cleared the picker
    await bot.sender.view_submission(ADMIN, {"id": view["id"], "blocks": view["blocks"], "state": nowhere})
    await bot.settle()
    assert "Added *AWS*" in bot.slack.messages(bot.slack.dm_channel(ADMIN))[-1]["text"]


async def test_a_saved_draft_is_confirmed_where_the_card_is_even_without_tamio_in_the_channel(bot: BotHarness) -> None:
    bot.slack.add_channel("C0PUBLIC", "general", bot=False)  # cards reach it through chat:write.public
    await bot.command(ADMIN, f"role <@{APPROVER}|sam> approver")
    account = await account_of(bot.sessions)
    await prepare(bot.sessions, account.id, title="Acme Corp is 16 days late", channel="C0PUBLIC",
                  options=[Option("Send a reminder", subject="Invoice 1042", body="Hello,\nA reminder.", email="ap@acme.example")])
    await bot.settle()
    [card] = bot.slack.messages("C0PUBLIC")
    await bot.sender.block_action(APPROVER, "C0PUBLIC", card["ts"], [{"action_id": "card_edit_draft"}])
    await bot.settle()
    editor = list(bot.slack.views.values())[-1]
    edited = {"edited_subject": {"edited_subject": text("Invoice 1042, again")},
              "edited_body": {"edited_body": text("Hello,\nA second reminder.")}}
    await bot.sender.view_submission(APPROVER, {"id": editor["id"], "state": {"values": edited}})
    await bot.settle()
    [note] = [e for e in bot.ephemerals_for(APPROVER) if "Draft saved" in e["text"]]
    assert note["channel"] == "C0PUBLIC"


async def test_a_used_up_response_url_falls_back_to_an_ephemeral_then_the_dm(bot: BotHarness) -> None:
    await bot.command(ADMIN, 'balance set "Operating" 48250')
    for target in bot.slack.workspace.response_targets.values():
        target.uses = 5  # every response URL so far is used up; the next command's too, below
    bot.slack.workspace.response_targets.clear()  # and unknown: Slack answers 404 expired_url
    reply = await bot.sender.slash_command(ADMIN, "forecast", CHANNEL)
    bot.slack.workspace.response_targets.clear()
    assert reply.status == 200
    await bot.settle()
    assert any(e["blocks"] and e["blocks"][0]["type"] == "header" for e in bot.ephemerals_for(ADMIN))  # chat.postEphemeral
    dm_first = bot.slack.add_dm(ADMIN, APPROVER)
    await bot.sender.slash_command(ADMIN, "forecast", dm_first)
    bot.slack.workspace.response_targets.clear()
    await bot.settle()
    assert "Cash forecast" in bot.slack.messages(bot.slack.dm_channel(ADMIN))[-1]["text"]  # the DM, the last way left

"""Action cards: posted through the outbox, decided by clicks, updated in place, refused when they should be."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from slack_sandbox.blockkit_limits import message_block_errors
from tamio.detection.models import AlertSeverity
from tamio.execution.models import ActionApproval, ExecutionRecord
from tamio.preparation.models import ActionStatus, ActionType, LinkType
from tests.bot.conftest import ADMIN, APPROVER, APPROVER2, CHANNEL, VIEWER, BotHarness
from tests.bot.prepared import Option, account_of, link, prepare, reload

pytestmark = pytest.mark.backends("sqlite")

CHASE = Option("Chase Acme Corp's $4,200.00", risk="low", lowest="9240", subject="Invoice 1042 is overdue",
               body="Hi Acme,\nInvoice 1042 for $4,200.00 was due on 21 Nov.\nCould you let us know when it will be paid?",
               email="ap@acme.example")
DRAW = Option("Draw $5,000 on the credit line", kind="credit_draw", risk="medium", lowest="6240")


async def team_with_roles(bot: BotHarness) -> str:
    await bot.command(ADMIN, "digest here")
    for user in (APPROVER, APPROVER2):
        await bot.command(ADMIN, f"role <@{user}> approver")
    await bot.command(VIEWER, "help")
    return (await account_of(bot.sessions)).id


def card_message(bot: BotHarness) -> dict:
    return next(m for m in bot.slack.messages(CHANNEL) if m.get("blocks") and m["blocks"][0]["type"] == "header")


def element(message: dict, action_id: str) -> dict | None:
    for block in message["blocks"]:
        for candidate in [*block.get("elements", []), block.get("accessory") or {}]:
            if isinstance(candidate, dict) and candidate.get("action_id") == action_id:
                return candidate
    return None


async def click(bot: BotHarness, user: str, message: dict, action_id: str, value: str) -> None:
    """A click on a button of the card as it was when ``message`` was read (its ts), carrying ``value``."""
    await bot.sender.block_action(user, CHANNEL, message["ts"], [{"action_id": action_id, "value": value}])
    await bot.settle()


async def test_a_card_is_posted_with_options_draft_and_buttons_then_approved_in_place(bot: BotHarness) -> None:
    account_id = await team_with_roles(bot)
    action = await prepare(bot.sessions, account_id, title="Acme Corp is 16 days late", options=[CHASE, DRAW], channel=CHANNEL)
    await bot.settle()
    card = card_message(bot)
    assert message_block_errors(card["blocks"]) == []
    shown = str(card["blocks"])
    assert "Acme Corp is 16 days late" in card["blocks"][0]["text"]["text"] and ":warning:" in card["blocks"][0]["text"]["text"]
    assert "16 days late" in shown and "Fri 11 Dec (in 4 days)" in shown and "$4,200.00" in shown
    radio = element(card, "card_option")
    assert radio is not None and [o["text"]["text"] for o in radio["options"]] == ["1. Chase Acme Corp's $4,200.00", "2. Draw $5,000 on the credit line"]
    assert "risk medium · lowest after: $6,240" in str(radio["options"][1])
    assert "Invoice 1042 is overdue" in shown and "> Hi Acme," in shown
    assert [e["text"]["text"] for e in next(b for b in card["blocks"] if b["type"] == "actions")["elements"]] == ["Approve", "Edit draft", "Skip"]
    stored = await reload(bot.sessions, action.id)
    assert (stored.slack_channel_id, stored.slack_message_ts) == (CHANNEL, card["ts"])

    options_block = next(b for b in card["blocks"] if b.get("block_id", "").startswith("card_options:"))
    chosen = radio["options"][1]
    await bot.sender.block_action(APPROVER, CHANNEL, card["ts"], [{"action_id": "card_approve", "value": action.id}],
                                  state_values={options_block["block_id"]: {"card_option": {"type": "radio_buttons", "selected_option": chosen}}})
    await bot.settle()
    updated = bot.slack.message(CHANNEL, card["ts"])
    assert "edited" in updated and element(updated, "card_approve") is None
    assert f"Approved by <@{APPROVER}>" in str(updated["blocks"]) and "Draw $5,000 on the credit line" in str(updated["blocks"])
    stored = await reload(bot.sessions, action.id)
    assert stored.chosen_option_id == chosen["value"]
    # Carried out after the ack: there is no bank account to draw into, and the card says so, with Retry.
    assert stored.status == ActionStatus.FAILED
    assert "Carrying it out failed: There is no bank account to receive the money." in str(updated["blocks"])
    assert element(updated, "card_retry") is not None
    assert len(bot.slack.messages(CHANNEL)) == 2  # the digest note and the one card, updated in place


async def test_a_second_click_says_who_decided_and_when(bot: BotHarness) -> None:
    account_id = await team_with_roles(bot)
    action = await prepare(bot.sessions, account_id, title="Acme Corp is 16 days late", options=[CHASE], channel=CHANNEL)
    await bot.settle()
    card = card_message(bot)
    await click(bot, APPROVER, card, "card_approve", action.id)
    await click(bot, APPROVER2, card, "card_approve", action.id)
    note = bot.ephemerals_for(APPROVER2)[-1]["text"]
    assert f"<@{APPROVER}> already approved this <!date^" in note and "{date_short_pretty} at {time}" in note  # dated
    async with bot.sessions() as db:
        approvals = (await db.execute(select(func.count()).select_from(ActionApproval))).scalar_one()
    assert approvals == 1 and (await reload(bot.sessions, action.id)).decided_by_member_id is not None


async def test_a_viewer_is_refused_and_nothing_changes(bot: BotHarness) -> None:
    account_id = await team_with_roles(bot)
    action = await prepare(bot.sessions, account_id, title="Acme Corp is 16 days late", options=[CHASE], channel=CHANNEL)
    await bot.settle()
    card = card_message(bot)
    await click(bot, VIEWER, card, "card_approve", action.id)
    await click(bot, VIEWER, card, "card_skip", action.id)
    notes = [e["text"] for e in bot.ephemerals_for(VIEWER)]
    assert any("Only approvers and admins can approve actions; you are a viewer." in n for n in notes)
    assert any("/tamio role @you approver" in n for n in notes)
    stored = await reload(bot.sessions, action.id)
    assert (stored.status, stored.version) == (ActionStatus.PENDING, 1)
    assert element(bot.slack.message(CHANNEL, card["ts"]), "card_approve") is not None


async def test_dual_control_shows_one_of_two_until_a_second_approver(bot: BotHarness) -> None:
    account_id = await team_with_roles(bot)
    action = await prepare(bot.sessions, account_id, title="Pay Cloud Host $25,000", amount="25000", options=[CHASE], channel=CHANNEL)
    await bot.settle()
    card = card_message(bot)
    await click(bot, APPROVER, card, "card_approve", action.id)
    assert "1 of 2" in bot.ephemerals_for(APPROVER)[-1]["text"]
    middle = bot.slack.message(CHANNEL, card["ts"])
    assert f"1 of 2 approvals (<@{APPROVER}>)" in str(middle["blocks"]) and element(middle, "card_approve") is not None
    assert (await reload(bot.sessions, action.id)).status == ActionStatus.PENDING
    await click(bot, APPROVER, middle, "card_approve", action.id)
    assert "needs a different approver" in bot.ephemerals_for(APPROVER)[-1]["text"]
    await click(bot, APPROVER2, middle, "card_approve", action.id)
    final = bot.slack.message(CHANNEL, card["ts"])
    outcome = next(b["text"]["text"] for b in final["blocks"] if "Approved by" in b.get("text", {}).get("text", ""))
    assert f"<@{APPROVER}>" in outcome and f"<@{APPROVER2}>" in outcome  # both approvers
    assert (await reload(bot.sessions, action.id)).status != ActionStatus.PENDING


async def test_payroll_is_for_admins_only(bot: BotHarness) -> None:
    account_id = await team_with_roles(bot)
    action = await prepare(bot.sessions, account_id, title="Payroll on Fri 11 Dec is at risk", action_type=ActionType.PAYROLL_CONTINGENCY,
                           severity=AlertSeverity.EMERGENCY, amount="4000", options=[DRAW], channel=CHANNEL)
    await bot.settle()
    card = card_message(bot)
    assert card["blocks"][0]["text"]["text"].startswith(":rotating_light:")
    await click(bot, APPROVER, card, "card_approve", action.id)
    assert "Payroll actions need an admin's approval" in bot.ephemerals_for(APPROVER)[-1]["text"]
    assert (await reload(bot.sessions, action.id)).status == ActionStatus.PENDING
    await click(bot, ADMIN, card, "card_approve", action.id)
    assert (await reload(bot.sessions, action.id)).status != ActionStatus.PENDING


async def test_skip_updates_the_card_and_records_who(bot: BotHarness) -> None:
    account_id = await team_with_roles(bot)
    action = await prepare(bot.sessions, account_id, title="Acme Corp is 16 days late", options=[CHASE], channel=CHANNEL)
    await bot.settle()
    card = card_message(bot)
    await click(bot, APPROVER, card, "card_skip", action.id)
    assert f"Skipped by <@{APPROVER}>" in str(bot.slack.message(CHANNEL, card["ts"])["blocks"])
    async with bot.sessions() as db:
        events = (await db.execute(select(ExecutionRecord.event).where(ExecutionRecord.action_id == action.id))).scalars().all()
    assert events == ["skipped"]


async def test_a_click_from_another_workspace_with_this_workspaces_action_id_is_refused(bot: BotHarness) -> None:
    account_id = await team_with_roles(bot)
    action = await prepare(bot.sessions, account_id, title="Acme Corp is 16 days late", options=[CHASE], channel=CHANNEL)
    await bot.settle()
    card = card_message(bot)
    other = bot.sender_for("T0OTHER")
    for action_id in ("card_approve", "card_skip", "card_edit_draft"):
        reply = await other.block_action(ADMIN, "C0OTHER", card["ts"], [{"action_id": action_id, "value": action.id}], message=card)
        assert reply.status == 200
    await bot.settle()
    refusals = [e["text"] for e in bot.slack.ephemerals if e["channel"] == "C0OTHER"]
    assert len(refusals) == 3 and all("isn't in this workspace's Tamio account" in r for r in refusals)
    stored = await reload(bot.sessions, action.id)
    assert (stored.status, stored.version, stored.edited_body) == (ActionStatus.PENDING, 1, None)
    assert bot.slack.views == {}


async def test_edit_draft_opens_a_modal_and_saves_on_submit(bot: BotHarness) -> None:
    account_id = await team_with_roles(bot)
    action = await prepare(bot.sessions, account_id, title="Acme Corp is 16 days late", options=[CHASE], channel=CHANNEL)
    await bot.settle()
    card = card_message(bot)
    await click(bot, APPROVER, card, "card_edit_draft", action.id)
    view = next(iter(bot.slack.views.values()))
    assert view["title"]["text"] == "Edit draft"
    subject = view["blocks"][1]["element"]["initial_value"]
    assert subject == "Invoice 1042 is overdue"
    state = {"values": {
        "edited_subject": {"edited_subject": {"type": "plain_text_input", "value": "Invoice 1042: a friendly reminder"}},
        "edited_body": {"edited_body": {"type": "plain_text_input", "value": "Hi Acme,\nA friendly reminder about invoice 1042."}},
    }}
    reply = await bot.sender.view_submission(APPROVER, {"id": view["id"], "state": state})
    await bot.settle()
    assert reply.status == 200 and reply.body == ""
    stored = await reload(bot.sessions, action.id)
    assert (stored.edited_subject, stored.status) == ("Invoice 1042: a friendly reminder", ActionStatus.PENDING)
    updated = bot.slack.message(CHANNEL, card["ts"])
    assert "Invoice 1042: a friendly reminder" in str(updated["blocks"]) and "(edited)" in str(updated["blocks"])

    empty = {"values": {"edited_subject": {"edited_subject": {"type": "plain_text_input", "value": " "}},
                        "edited_body": {"edited_body": {"type": "plain_text_input", "value": "x"}}}}
    await click(bot, APPROVER, updated, "card_edit_draft", action.id)
    second = [v for v in bot.slack.views.values() if v["id"] != view["id"]][0]
    refused = await bot.sender.view_submission(APPROVER, {"id": second["id"], "state": empty})
    assert refused.json() == {"response_action": "errors", "errors": {"edited_subject": "A message needs a subject."}}


FIRM = Option("Chase Acme Corp with a firm email", risk="medium", lowest="9240", subject="Final notice: invoice 1042",
              body="Hi Acme,\nInvoice 1042 is now 16 days overdue. Please pay within 7 days.", email="ap@acme.example")


async def test_an_edited_draft_belongs_to_its_option_and_is_never_sent_under_another(bot: BotHarness) -> None:
    account_id = await team_with_roles(bot)
    action = await prepare(bot.sessions, account_id, title="Acme Corp is 16 days late", options=[CHASE, FIRM], channel=CHANNEL)
    await bot.settle()
    card = card_message(bot)
    options_block = next(b for b in card["blocks"] if b.get("block_id", "").startswith("card_options:"))
    first, second = element(card, "card_option")["options"]  # type: ignore[index]

    def picked(option: dict) -> dict:
        return {options_block["block_id"]: {"card_option": {"type": "radio_buttons", "selected_option": option}}}

    await click(bot, APPROVER, card, "card_edit_draft", action.id)  # option 1, the default
    view = next(iter(bot.slack.views.values()))
    state = {"values": {
        "edited_subject": {"edited_subject": {"type": "plain_text_input", "value": "Invoice 1042: a friendly reminder"}},
        "edited_body": {"edited_body": {"type": "plain_text_input", "value": "Hi Acme,\nA friendly reminder about invoice 1042."}},
    }}
    await bot.sender.view_submission(APPROVER, {"id": view["id"], "state": state})
    await bot.settle()

    # Option 2 chosen: its own draft in the editor, not option 1's edited one.
    await bot.sender.block_action(APPROVER, CHANNEL, card["ts"], [{"action_id": "card_edit_draft", "value": action.id}],
                                  state_values=picked(second))
    await bot.settle()
    editor = [v for v in bot.slack.views.values() if v["id"] != view["id"]][0]
    assert editor["blocks"][1]["element"]["initial_value"] == "Final notice: invoice 1042"

    # Approving option 2 while the edit is option 1's would send the edited text under option 2: refused, nothing changes.
    before = await reload(bot.sessions, action.id)
    await bot.sender.block_action(APPROVER, CHANNEL, card["ts"], [{"action_id": "card_approve", "value": action.id}],
                                  state_values=picked(second))
    await bot.settle()
    said = bot.ephemerals_for(APPROVER)[-1]["text"]
    assert "edited for option 1" in said and "nothing was approved" in said
    stored = await reload(bot.sessions, action.id)
    assert (stored.status, stored.version) == (ActionStatus.PENDING, before.version)
    async with bot.sessions() as db:
        assert await db.scalar(select(func.count()).select_from(ActionApproval).where(ActionApproval.action_id == action.id)) == 0

    # Saving option 2's draft as it is drops option 1's edits; option 2 can then be approved with its own message.
    unchanged = {"values": {
        "edited_subject": {"edited_subject": {"type": "plain_text_input", "value": "Final notice: invoice 1042"}},
        "edited_body": {"edited_body": {"type": "plain_text_input", "value": FIRM.body}},
    }}
    await bot.sender.view_submission(APPROVER, {"id": editor["id"], "state": unchanged})
    await bot.settle()
    stored = await reload(bot.sessions, action.id)
    assert (stored.edited_subject, stored.edited_body) == (None, None)
    await bot.sender.block_action(APPROVER, CHANNEL, card["ts"], [{"action_id": "card_approve", "value": action.id}],
                                  state_values=picked(second))
    await bot.settle()
    stored = await reload(bot.sessions, action.id)
    assert stored.chosen_option_id == second["value"] and stored.status != ActionStatus.PENDING


async def test_linked_actions_show_their_links(bot: BotHarness) -> None:
    account_id = await team_with_roles(bot)
    draw = await prepare(bot.sessions, account_id, title="Draw on the credit line", options=[DRAW])
    breach = await prepare(bot.sessions, account_id, title="Cash falls below the buffer", options=[CHASE])
    await link(bot.sessions, account_id, draw.id, breach.id, LinkType.RESOLVES)
    await bot.command(ADMIN, "actions")
    shown = str(bot.ephemerals_for(ADMIN)[-1]["blocks"])
    assert "Resolves: _Cash falls below the buffer_" in shown and "Resolved by: _Draw on the credit line_" in shown
    assert message_block_errors(bot.ephemerals_for(ADMIN)[-1]["blocks"]) == []


async def test_a_cards_links_name_each_other_action_once_grouped_by_kind(bot: BotHarness) -> None:
    """The walk found a payroll card reading "Conflicts with: _Runway_ · Resolves: _Cash dips_ · Conflicts with:
    _Cloud Host_ · Conflicts with: _Cash dips_ · Resolves: _Runway_": both draw on the credit line (a conflict) and the
    payroll's draw also lifts the low point (resolves). One phrase per kind; what it resolves is not also a conflict."""
    account_id = await team_with_roles(bot)
    payroll = await prepare(bot.sessions, account_id, title="Payroll on Fri 11 Dec is at risk", options=[DRAW])
    breach = await prepare(bot.sessions, account_id, title="Cash dips below your buffer", options=[DRAW])
    runway = await prepare(bot.sessions, account_id, title="Runway is under a week", options=[DRAW])
    vendor = await prepare(bot.sessions, account_id, title="Cloud Host: $2,400.00 is due", options=[CHASE])
    await link(bot.sessions, account_id, payroll.id, runway.id, LinkType.CONFLICTS)
    await link(bot.sessions, account_id, payroll.id, breach.id, LinkType.RESOLVES)
    await link(bot.sessions, account_id, payroll.id, vendor.id, LinkType.CONFLICTS)
    await link(bot.sessions, account_id, breach.id, payroll.id, LinkType.CONFLICTS)
    await link(bot.sessions, account_id, payroll.id, runway.id, LinkType.RESOLVES)
    await link(bot.sessions, account_id, payroll.id, vendor.id, LinkType.SEQUENCE)
    await bot.command(ADMIN, "actions")
    blocks = bot.ephemerals_for(ADMIN)[-1]["blocks"]
    lines = [e["text"] for b in blocks if b["type"] == "context" for e in b["elements"] if "Resolve" in e.get("text", "")]
    assert ("Resolves: _Cash dips below your buffer_; _Runway is under a week_ · Comes before: _Cloud Host: $2,400.00 is due_"
            " · Conflicts with: _Cloud Host: $2,400.00 is due_") in lines
    assert "Resolved by: _Payroll on Fri 11 Dec is at risk_" in lines  # the breach's card: not also "Conflicts with" it
    assert message_block_errors(blocks) == []


async def test_the_amount_on_the_card_is_the_actions(bot: BotHarness) -> None:
    account_id = await team_with_roles(bot)
    action = await prepare(bot.sessions, account_id, title="Acme Corp is 16 days late", options=[CHASE], channel=CHANNEL)
    await bot.settle()
    assert (await reload(bot.sessions, action.id)).amount == Decimal("4200")

"""An action card: one decision, its reasons, its options, the drafted message, and then its outcome.

Pending, the card asks (radio buttons when there are several options, with their risk and their
effect on the forecast's low point; Approve, Edit draft, Skip). Decided, the buttons give way to who
decided, when, which option, and then what carrying it out did. Button values carry the action id
only; the listener finds the action in the account of the verified request.

    blocks = card_blocks(card, today=date(2026, 12, 8))
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

from bot.blocks.alerts import AMOUNT_LABEL, kind_of
from bot.blocks.common import (
    Block,
    actions,
    button,
    confirm_dialog,
    context,
    cut,
    day_label,
    escape,
    fields,
    header,
    in_days,
    money,
    option,
    section,
    slack_date,
    slack_moment,
)
from bot.queries import CardData
from tamio.execution.executors import moves_money_or_emails
from tamio.execution.readiness import EmailNeed
from tamio.execution.views import link_phrases
from tamio.preparation.models import ActionOption, ActionStatus

APPROVE = "card_approve"
SKIP = "card_skip"
EDIT_DRAFT = "card_edit_draft"
ADD_CONTACT = "card_add_contact"
CHOOSE = "card_option"
RETRY = "card_retry"
VENDOR_AGREED = "card_vendor_agreed"
REVIEW = "card_review"
SEVERITY = {
    "emergency": (":rotating_light:", ":red_circle:", "Emergency"),
    "this_week": (":warning:", ":large_yellow_circle:", "This week"),
    "upcoming": (":calendar:", ":large_green_circle:", "Upcoming"),
}
DRAFT_PREVIEW = 400
NOTE_PREVIEW = 2000  # an internal note is shown whole, within a section's 3,000 characters


OPTIONS_BLOCK = "card_options"


def options_block_id(action_id: str, version: int = 0) -> str:
    """New for each version of the card: Slack keeps a radio choice on an updated message with the same block_id."""
    return f"{OPTIONS_BLOCK}:{action_id}:v{version}"


def actions_block_id(action_id: str, version: int = 0) -> str:
    return f"card_actions:{action_id}:v{version}"


def is_options_block(block_id: str, action_id: str) -> bool:
    return block_id == f"{OPTIONS_BLOCK}:{action_id}" or block_id.startswith(f"{OPTIONS_BLOCK}:{action_id}:")


def severity_of(card: CardData) -> tuple[str, str, str]:
    return SEVERITY.get(card.action.severity.value, SEVERITY["this_week"])


def default_option(card: CardData) -> ActionOption | None:
    """The option a click without a choice means: the one already approved once, else the first."""
    if card.action.chosen_option_id:
        return card.option(card.action.chosen_option_id)
    if card.approvals:
        return card.option(card.approvals[0].option_id)
    return card.options[0] if card.options else None


def _effect(opt: ActionOption, currency: str | None) -> str:
    risk = f"risk {opt.risk_level}"
    if opt.forecast_lowest_balance is not None:
        week = f" (week of {day_label(opt.forecast_lowest_week)})" if opt.forecast_lowest_week else ""
        return f"{risk} · lowest after: {money(opt.forecast_lowest_balance, currency)}{week}"
    return risk


def explanation_of(card: CardData) -> str:
    """Why the card exists, said once: the alert's explanation, else the action's summary.

    The summary is a copy of the alert's explanation made when the action was prepared; every
    detection run rewrites the explanation with the day's figures ("22 days late" the next day)
    while the pending action keeps its copy, so the alert's is the current one. A card no longer
    waiting (superseded, decided) keeps its own figures, so it keeps its own words too: a superseded
    late card said "$3,000.00 of $8,500.00 paid, $5,500.00 is 21 days late" (the alert's, after the
    part payment) above its own "Owed $8,500.00".
    """
    alert = card.alert
    if card.action.status != ActionStatus.PENDING and card.action.summary:
        return card.action.summary
    if alert is not None and alert.explanation:
        return alert.explanation
    return card.action.summary or ""


def _why(card: CardData, today: date, currency: str | None) -> list[Block]:
    action, alert = card.action, card.alert
    blocks: list[Block] = [section(escape(explanation_of(card)) or escape(action.title))]
    items = []
    due = action.deadline or (alert.due_date if alert else None)
    if due:
        runway = not action.deadline and alert is not None and kind_of(alert) == "runway_threshold"  # no due date, a week
        items.append(f"*{'By the week of' if runway else 'Due'}*\n{day_label(due)} ({in_days(due, today)})")
    amount = action.amount if action.amount is not None else (alert.amount if alert else None)
    if amount is not None:
        label = AMOUNT_LABEL.get(str(getattr(alert.detection_type, "value", alert.detection_type)), "Amount") if alert else "Amount"
        items.append(f"*{label}*\n{money(amount, action.currency or (alert.currency if alert else None) or currency)}")
    if action.counterparty_name:
        items.append(f"*Who*\n{escape(action.counterparty_name)}")
    top = default_option(card)
    if top is not None and top.forecast_lowest_balance is not None:
        items.append(f"*Lowest after*\n{money(top.forecast_lowest_balance, currency)}")
    chased = last_chased(card)
    if chased:
        items.append(f"*Last chased*\n{chased}")
    if items:
        blocks.append(fields(*items))
    return blocks


def last_chased(card: CardData) -> str | None:
    """``3 Dec (firm reminder)``: when the late payer was last chased for this invoice (preparation says)."""
    for opt in card.options:
        seen = (opt.params or {}).get("last_chased") if opt.kind == "send_email" else None
        if seen and seen.get("text"):
            return escape(str(seen["text"]))
    return None


def _links(card: CardData) -> str:
    """"Resolves: _A_; _B_ · Conflicts with: _C_" (the phrases are the core's, ``link_phrases``)."""
    return cut(" · ".join(f"{words}: " + "; ".join(f"_{escape(cut(title, 80))}_" for title in titles)
                          for words, titles in link_phrases(card.links)), 2900)  # a context element holds 3,000


def is_internal_note(opt: ActionOption) -> bool:
    """A plan's draft (a payroll contingency) is a note for the approvers: carrying the plan out sends
    only its steps' own messages (``ConfirmPlan``), never this one, to anybody."""
    return opt.kind == "confirm_plan"


def draft_recipient(opt: ActionOption) -> str:
    """Who the draft goes to, as the card and the Edit draft modal name them (mrkdwn, escaped)."""
    if is_internal_note(opt):
        return "Internal note for the approvers (not sent to anyone)"
    to = escape(opt.counterparty_name or "")
    if opt.recipient_email:
        to = f"{to} <{escape(opt.recipient_email)}>".strip()
    return to


def _draft(card: CardData, opt: ActionOption | None) -> Block | None:
    if opt is None or (opt.draft_body is None and opt.draft_subject is None):
        return None
    subject, body, was_edited = card.draft_of(opt)
    edited = " (edited)" if was_edited else ""
    if is_internal_note(opt):
        # The note is the plan itself: shown whole (its steps come last), not a preview.
        label = f"*{draft_recipient(opt)}*"
        preview = "\n".join("> " + escape(line) for line in cut(body, NOTE_PREVIEW).splitlines())
    else:
        to = draft_recipient(opt)
        label = f"*Draft message{' to ' + to if to else ''}*"
        preview = "\n".join("> " + escape(line) for line in cut(body, DRAFT_PREVIEW).splitlines()[:8])
    return section(f"{label}{edited}\n*{escape(subject)}*\n{preview}")


def approvals_note(card: CardData) -> str:
    """"needs 2 approvals" before any, "1 of 2 approvals (@sam)" after one; "" when one approval will do."""
    required = max(card.action.approvals_required, 1)
    if required < 2:
        return ""
    given = len(card.approvals)
    if not given:
        return f"needs {required} approvals"
    who = ", ".join(f"<@{a.slack_user_id}>" if a.slack_user_id else escape(a.label) for a in card.approvals)
    return f"{given} of {required} approvals" + (f" ({who})" if who else "")


def _choose(card: CardData, currency: str | None) -> Block:
    chosen = default_option(card)
    if len(card.options) == 1:
        only = card.options[0]
        return section(f"*Plan:* {escape(only.title)}\n{escape(cut(only.description, 300))}\n_{_effect(only, currency)}_".strip())
    radio: dict[str, Any] = {
        "type": "radio_buttons",
        "action_id": CHOOSE,
        "options": [option(f"{o.rank}. {o.title}", o.id, _effect(o, currency)) for o in card.options[:10]],
    }
    initial = next((o for o in radio["options"] if chosen and o["value"] == chosen.id), None)
    if initial is not None:
        radio["initial_option"] = initial
    return section("*Choose what to do:*", block_id=options_block_id(card.action.id, card.action.version), accessory=radio)


def requested_delays(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The delays an executed action asked vendors for and nobody has marked agreed (a plan's steps included)."""
    found: list[dict[str, Any]] = []

    def walk(effects: Any) -> None:
        if isinstance(effects, dict):
            found.extend(r for r in effects.get("requested") or [] if isinstance(r, dict))
            for step in effects.get("steps") or []:
                walk(step)

    walk(result.get("effects"))
    return found


def _delay_lines(result: dict[str, Any]) -> list[str]:
    """A requested delay shown as requested (issue 19.6): the forecast keeps the date until the vendor agrees."""
    lines = []
    for asked in requested_delays(result)[:5]:
        try:
            was, to = date.fromisoformat(str(asked["from"])), date.fromisoformat(str(asked["to"]))
            amount = money(Decimal(str(asked["amount"])), str(asked["currency"]))
        except (KeyError, ValueError, ArithmeticError):
            continue
        lines.append(f":speech_balloon: Asked the vendor to move {amount} from {day_label(was)} to {day_label(to)}: "
                     f"the forecast keeps {day_label(was)} (less certain) until they agree. Click *Vendor agreed* when they do.")
    agreed = result.get("delay_agreed")
    if isinstance(agreed, dict):
        lines.append(f":handshake: The vendor agreed; the payment{'s' if agreed.get('moved') != 1 else ''} moved.")
    return lines


def _outcome(card: CardData) -> list[Block]:
    action = card.action
    status = action.status
    chosen = card.option(action.chosen_option_id)
    when = slack_moment(action.decided_at) if action.decided_at else "earlier"
    deciders = [f"<@{a.slack_user_id}>" for a in card.approvals if a.slack_user_id]
    if not deciders and card.decided_by is not None and card.decided_by.slack_user_id:
        deciders = [f"<@{card.decided_by.slack_user_id}>"]
    who = " and ".join(deciders) or ("an automation rule" if action.auto_executed else "Tamio")
    result = action.execution_result or {}
    lines: list[str] = []
    if status in (ActionStatus.APPROVED, ActionStatus.EXECUTING, ActionStatus.EXECUTED, ActionStatus.FAILED):
        what = f" — {escape(chosen.title)}" if chosen else ""
        lines.append(f":white_check_mark: *Approved by {who}* · {when}{what}")
        if status == ActionStatus.APPROVED:
            lines.append(":hourglass_flowing_sand: Tamio will carry it out in a moment.")
        elif status == ActionStatus.EXECUTING:
            lines.append(":gear: Carrying it out…")
        elif status == ActionStatus.EXECUTED:
            done = slack_moment(action.executed_at) if action.executed_at else ""
            summary = result.get("summary") or result.get("message") or "done"
            lines.append(f":heavy_check_mark: Executed {done}: {escape(cut(str(summary), 1500))}")
            lines += _delay_lines(result)
        else:
            lines.append(f":x: Carrying it out failed: {escape(cut(action.last_error or 'unknown error', 1000))}")
    elif status == ActionStatus.SKIPPED:
        reason = result.get("reason")
        lines.append(f":fast_forward: *Skipped by {who}* · {when}" + (f": {escape(str(reason))}" if reason else ". Nothing will be done."))
    elif status == ActionStatus.SUPERSEDED:
        lines.append(":leftwards_arrow_with_hook: *Superseded*" + (f": {escape(str(result.get('reason')))}" if result.get("reason") else "."))
    elif status == ActionStatus.EXPIRED:
        lines.append(":hourglass: *Expired*: nobody decided before its deadline.")
    blocks = [section("\n".join(lines))]
    if status == ActionStatus.EXECUTED and requested_delays(result):
        blocks.append(actions(button("Vendor agreed", VENDOR_AGREED, action.id, style="primary"),
                              block_id=actions_block_id(action.id, action.version)))
    if status == ActionStatus.FAILED:
        blocks.append(actions(button("Retry", RETRY, action.id, style="primary"), block_id=actions_block_id(action.id, action.version)))
    return blocks


def _email_need(card: CardData) -> EmailNeed | None:
    """What the chosen (else the first) email option needs before approval, said on the card before anyone clicks."""
    chosen = default_option(card)
    if chosen is not None and chosen.id in card.needs:
        return card.needs[chosen.id]
    return next((card.needs[o.id] for o in card.options if o.id in card.needs), None)


def approve_confirm(card: CardData) -> dict[str, Any] | None:
    """Approving what moves money or emails someone asks first (Skip does too); a forecast adjustment doesn't."""
    if not any(moves_money_or_emails(o.kind) for o in card.options):
        return None
    effects = []
    if any(o.kind == "send_email" or (o.draft_body and o.kind != "confirm_plan") for o in card.options):
        effects.append("it may email the recipient")
    if any(o.kind != "send_email" and moves_money_or_emails(o.kind) for o in card.options):
        effects.append("it may move money or payment dates")
    return confirm_dialog("Approve this action?",
                          f"Tamio carries out the option chosen above right away: {' and '.join(effects)}.",
                          "Approve", "Not yet")


def card_blocks(card: CardData, *, today: date, base_currency: str | None = None, with_buttons: bool = True) -> list[Block]:
    action = card.action
    currency = base_currency or action.currency
    big, dot, label = severity_of(card)
    blocks: list[Block] = [header(f"{big} {action.title}")]
    blocks += _why(card, today, currency)
    links = _links(card)
    if links:
        blocks.append(context(links))
    if card.history_line:
        name = action.counterparty_name or next((o.counterparty_name for o in card.options if o.counterparty_name), "")
        # The line is dates, amounts and deciders (Slack mentions when a member has no name): not escaped.
        blocks.append(context(cut(f":clipboard: {escape(name)}: {card.history_line}" if name else f":clipboard: {card.history_line}", 1000)))
    if action.status == ActionStatus.PENDING:
        if card.options:
            blocks.append(_choose(card, currency))
        draft = _draft(card, default_option(card))
        if draft is not None:
            blocks.append(draft)
        need = _email_need(card)
        if need is not None:
            blocks.append(context(cut(f":warning: {escape(need.message)} {escape(need.hint)}".strip(), 1000)))
        if with_buttons:
            elements = [button("Approve", APPROVE, action.id, style="primary", confirm=approve_confirm(card))]
            if need is not None and need.missing == "address" and need.counterparty_id:
                elements.append(button("Add email address", ADD_CONTACT, action.id))
            if any(o.draft_body or o.draft_subject for o in card.options):
                elements.append(button("Edit draft", EDIT_DRAFT, action.id))
            elements.append(button("Skip", SKIP, action.id, confirm=confirm_dialog(
                "Skip this action?", f"Tamio won't do anything about “{escape(cut(action.title, 150))}”.", "Skip it", "Keep it")))
            blocks.append(actions(*elements, block_id=actions_block_id(action.id, action.version)))
    else:
        draft = _draft(card, card.option(action.chosen_option_id)) if action.status != ActionStatus.SKIPPED else None
        if draft is not None:
            blocks.append(draft)
        blocks += _outcome(card) if with_buttons or action.status != ActionStatus.FAILED else _outcome(card)[:1]
    raised = slack_date(action.created_at, "{date_short_pretty} {time}") if action.created_at else ""
    notes = [f"{dot} {label}", f"raised {raised}" if raised else ""]
    if action.status == ActionStatus.PENDING:
        notes.append(approvals_note(card))
    blocks.append(context(" · ".join(n for n in notes if n)))
    return blocks


def card_text(card: CardData) -> str:
    """The notification text (what a phone shows)."""
    _, _, label = severity_of(card)
    return f"{label}: {escape(card.action.title)}"


CONTACT_CALLBACK = "card_add_contact_form"


def contact_form(*, action_id: str, name: str) -> dict[str, Any]:
    """The small form the card's "Add email address" opens: one address for the client or vendor the email is for."""
    element = {"type": "email_text_input", "action_id": "email", "placeholder": {"type": "plain_text", "text": "ap@client.com"}}
    return {
        "type": "modal", "callback_id": CONTACT_CALLBACK, "private_metadata": json.dumps({"action_id": action_id}),
        "title": {"type": "plain_text", "text": "Add email address"}, "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [{"type": "input", "block_id": "email", "label": {"type": "plain_text", "text": cut(f"Email address for {name}", 2000)},
                    "element": element,
                    "hint": {"type": "plain_text", "text": "Tamio's follow-up emails to them go here; it changes their contact, not just this card."}}],
    }

"""The App Home tab: cash today and runway, the 13-week chart, open alerts, the queue, the settings.

The chart is an image block whose URL ``tamio serve`` answers (``GET /charts/<token>.png``). Slack
fetches image URLs itself, so a loopback public URL with the real Slack means no chart (the
forecast command's chart still works, it is uploaded).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from bot.blocks.alerts import alert_sections
from bot.blocks.card import APPROVE, REVIEW, SKIP, approvals_note, default_option, explanation_of, severity_of
from bot.blocks.common import (
    VIEW_MAX_BLOCKS,
    Block,
    actions,
    button,
    confirm_dialog,
    context,
    cut,
    day_label,
    divider,
    escape,
    header,
    image,
    in_days,
    section,
)
from bot.blocks.forecast import consequence, headline
from bot.queries import CardData
from tamio.accounts.models import Account
from tamio.detection.models import DetectionAlert
from tamio.forecast.engine import Forecast

SETTINGS_ACTION = "home_settings"
TERMS_ACTION = "home_terms"
QUEUE_SHOWN = 12


def queue_item(card: CardData, today: date) -> list[Block]:
    action = card.action
    big, _, _ = severity_of(card)
    top = default_option(card)
    lines = [f"{big} *{escape(cut(action.title, 200))}*"]
    why = explanation_of(card)
    if why:
        lines.append(escape(cut(why, 300)))
    due = action.deadline
    plan = f"Plan: {escape(cut(top.title, 150))} · risk {top.risk_level}" if top else ""
    if due:
        plan += f" · due {day_label(due)} ({in_days(due, today)})"
    if plan:
        lines.append(f"_{plan.strip(' ·')}_")
    approvals = approvals_note(card)  # the card's words: "needs 2 approvals", then "1 of 2 approvals (@sam)"
    if approvals:
        lines.append(approvals)
    approve_text = f"Approve “{escape(cut(top.title, 150))}”?" if top else "Approve this action?"
    buttons = [
        button("Approve", APPROVE, action.id, style="primary", confirm=confirm_dialog("Approve", approve_text, "Approve")),
        button("Review", REVIEW, action.id),
        button("Skip", SKIP, action.id, confirm=confirm_dialog("Skip this action?", "Tamio won't do anything about it.", "Skip it", "Keep it")),
    ]
    return [section("\n".join(lines)), actions(*buttons, block_id=f"home_actions:{action.id}:v{action.version}")]


def attention_view(*, account: Account, line: str, hint: str, today: date) -> dict[str, Any]:
    """The Home tab of someone the account shows no figures: whether something needs attention, and why no more."""
    blocks: list[Block] = [header(f"Tamio · {account.name}"), section(line), context(hint, f"Updated {day_label(today)}")]
    return {"type": "home", "callback_id": "tamio_home", "blocks": blocks}


def home_view(
    *,
    account: Account,
    forecast: Forecast | None,
    chart_url: str | None,
    alerts: Sequence[DetectionAlert],
    cards: Sequence[CardData],
    pending_total: int,
    safety_mode: str,
    is_admin: bool,
    today: date,
    notices: Sequence[str] = (),
    manages_data: bool = False,
    scenarios: Sequence[str] = (),
    alert_counts: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """The Home tab; ``notices`` (what went wrong, e.g. a channel that lost messages) come first."""
    blocks: list[Block] = [header(f"Tamio · {account.name}")]
    blocks += [section(notice) for notice in notices[:3]]
    if forecast is None or (forecast.opening_balance == 0 and not forecast.items):
        blocks.append(section(
            "Tell Tamio what you hold and what comes in and goes out:\n"
            "`/tamio balance set \"Operating\" 45000` · `/tamio add client \"Acme Corp\" 5000 monthly on -1` · `/tamio add` for a form"
        ))
    else:
        blocks.append(section(headline(forecast)))
        warning = consequence(forecast)
        if warning:
            blocks.append(section(warning))
        if chart_url:
            blocks.append(image(alt="Closing balance per week for 13 weeks, with the likely range and the buffer", url=chart_url))
    blocks += [divider(), header("Open alerts")]
    blocks += alert_sections(alerts, today=today, per_group=8, counts=alert_counts) or [section(":white_check_mark: No open alerts.")]
    blocks += [divider(), header(f"Waiting for you ({pending_total})")]
    if not cards:
        blocks.append(section("Nothing waits for a decision."))
    for card in cards[:QUEUE_SHOWN]:
        blocks += queue_item(card, today)
    if pending_total > min(len(cards), QUEUE_SHOWN):
        blocks.append(context(f"{pending_total - min(len(cards), QUEUE_SHOWN)} more: `/tamio actions`"))
    if scenarios:
        blocks += [divider(), header("Saved what-ifs, on today's figures"), section("\n".join(scenarios)[:2900])]
    channel = f"<#{account.digest_channel_id}>" if account.digest_channel_id else "no channel yet (`/tamio digest here`)"
    blocks += [divider(), context(f"Alerts and digest: {channel}", f"Safety mode: {safety_mode}", f"Updated {day_label(today)}")]
    buttons = [button("Settings", SETTINGS_ACTION, "settings")] if is_admin else []
    if manages_data:  # a client's kind, a vendor's flexibility: what preparation goes by
        buttons.append(button("Clients and vendors", TERMS_ACTION, "terms"))
    if buttons:
        blocks.append(actions(*buttons, block_id="home_settings"))
    return {"type": "home", "callback_id": "tamio_home", "blocks": blocks[:VIEW_MAX_BLOCKS]}

"""Open alerts grouped by severity (emergency, this week, upcoming), one line each.

Used by ``/tamio alerts`` and App Home (the outbox's alert announcements are ``bot.digests``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from bot.blocks.common import Block, cut, day_label, escape, in_days, money, section
from tamio.detection.models import DetectionAlert

GROUPS = (("emergency", ":red_circle:", "Emergency"), ("this_week", ":large_yellow_circle:", "This week"),
          ("upcoming", ":large_green_circle:", "Upcoming"))
SECTION_BUDGET = 2900
# What an alert's amount is, by its kind: a bare "$9,532.62" beside a runway says nothing (cards and alert lines).
AMOUNT_LABEL = {
    "runway_threshold": "To free up",
    "buffer_breach": "Shortfall",
    "payroll_safety": "Payroll",
    "late_payment": "Owed",
    "statutory_deadline": "Tax due",
    "vendor_terms_expiring": "Due to vendor",
    "payment_timing_conflict": "Due that week",
}


# An alert's own amount where it is not what the card's label names (the card shows the action's amount):
# a payroll alert's is its shortfall ($4,000 short of the buffer; the card, the $21,000 payroll) and a
# runway alert's is the monthly burn ($2,160.73; the card, the $25,637.18 to free up).
ALERT_AMOUNT_WORDS = {"payroll_safety": "short by {}", "runway_threshold": "burning {} a month"}


def date_words(kind: str | None, day: date) -> str:
    """An alert's date in words: "due Sun 28 Feb"; a runway has no due date, only the week cash gets short."""
    return f"{'by the week of' if kind == 'runway_threshold' else 'due'} {day_label(day)}"


def kind_of(alert: DetectionAlert) -> str:
    return str(getattr(alert.detection_type, "value", alert.detection_type))


def alert_amount(alert: DetectionAlert) -> str:
    """The alert's amount with what it is: "burning $9,532.62 a month", "owed $5,000.00" (empty without one)."""
    if alert.amount is None or not alert.currency:
        return ""
    if kind_of(alert) in ALERT_AMOUNT_WORDS:
        return ALERT_AMOUNT_WORDS[kind_of(alert)].format(money(alert.amount, alert.currency))
    label = AMOUNT_LABEL.get(kind_of(alert))
    return f"{label.lower()} {money(alert.amount, alert.currency)}" if label else money(alert.amount, alert.currency)


def alert_line(alert: DetectionAlert, today: date) -> str:
    bits = []
    if alert.due_date:
        bits.append(f"{date_words(kind_of(alert), alert.due_date)} ({in_days(alert.due_date, today)})")
    if alert_amount(alert):
        bits.append(alert_amount(alert))
    extra = f" — {', '.join(bits)}" if bits else ""
    escalated = " :arrow_up: escalated" if alert.escalated else ""
    return f"• *{escape(cut(alert.title, 150))}*{extra}{escalated}"


def alert_sections(alerts: Sequence[DetectionAlert], *, today: date, per_group: int = 15,
                   counts: Mapping[str, int] | None = None) -> list[Block]:
    """A section per severity: its first ``per_group`` alerts and how many more there are. ``counts``:
    how many open alerts each severity has (``bot.queries.count_open_alerts``) when ``alerts`` holds
    only the first few of each; without it, ``alerts`` is every open alert."""
    blocks: list[Block] = []
    for key, dot, label in GROUPS:
        group = [a for a in alerts if a.severity.value == key]
        total = max(counts.get(key, 0), len(group)) if counts is not None else len(group)
        if not total:
            continue
        lines = [f"{dot} *{label}* ({total})"]
        for alert in group[:per_group]:
            line = alert_line(alert, today)
            if sum(len(x) + 1 for x in lines) + len(line) > SECTION_BUDGET:
                break
            lines.append(line)
        hidden = total - (len(lines) - 1)
        if hidden > 0:
            lines.append(f"…and {hidden} more")
        blocks.append(section("\n".join(lines)))
    return blocks

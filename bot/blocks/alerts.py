"""Open alerts grouped by severity (emergency, this week, upcoming), one line each.

Used by ``/tamio alerts`` and App Home (the outbox's alert announcements are ``bot.digests``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from bot.blocks.common import Block, cut, day_label, escape, in_days, money, section
from tamio.detection.models import DetectionAlert

GROUPS = (("emergency", ":red_circle:", "Emergency"), ("this_week", ":large_yellow_circle:", "This week"),
          ("upcoming", ":large_green_circle:", "Upcoming"))
SECTION_BUDGET = 2900


def alert_line(alert: DetectionAlert, today: date) -> str:
    bits = []
    if alert.due_date:
        bits.append(f"due {day_label(alert.due_date)} ({in_days(alert.due_date, today)})")
    if alert.amount is not None and alert.currency:
        bits.append(money(alert.amount, alert.currency))
    extra = f" — {', '.join(bits)}" if bits else ""
    escalated = " :arrow_up: escalated" if alert.escalated else ""
    return f"• *{escape(cut(alert.title, 150))}*{extra}{escalated}"


def alert_sections(alerts: Sequence[DetectionAlert], *, today: date, per_group: int = 15) -> list[Block]:
    blocks: list[Block] = []
    for key, dot, label in GROUPS:
        group = [a for a in alerts if a.severity.value == key]
        if not group:
            continue
        lines = [f"{dot} *{label}* ({len(group)})"]
        for alert in group[:per_group]:
            line = alert_line(alert, today)
            if sum(len(x) + 1 for x in lines) + len(line) > SECTION_BUDGET:
                break
            lines.append(line)
        hidden = len(group) - (len(lines) - 1)
        if hidden > 0:
            lines.append(f"…and {hidden} more")
        blocks.append(section("\n".join(lines)))
    return blocks


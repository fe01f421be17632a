"""The question when the same obligation is entered twice: "Rent already has $500.00 monthly: add another?".

Its "Add anyway" button carries what was typed (kind, name, amount, currency, recurrence) so the
click adds exactly that, through the same core function, allowed this once.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

from bot.blocks.common import Block, actions, button, escape, section
from tamio.obligations.recurrence import BusinessDayConvention, Frequency
from tamio.obligations.schemas import RecurrenceSpec

ADD_ANYWAY = "add_anyway"
DONT_ADD = "add_cancel"


def pending_value(*, kind: str, name: str, amount: Decimal, currency: str, recurrence: RecurrenceSpec) -> str:
    r = recurrence
    return json.dumps({
        "kind": kind, "name": name, "amount": format(amount, "f"), "currency": currency, "frequency": r.frequency.value,
        "start": r.start_date.isoformat(), "end": r.end_date.isoformat() if r.end_date else None, "count": r.count, "day": r.day,
        "interval": r.interval, "rrule": r.custom_rrule, "convention": r.convention.value, "calendar": r.calendar,
        "last_business_day": r.last_business_day,
    }, separators=(",", ":"))


def read_pending(value: str) -> dict[str, Any]:
    """The button's value back as add_obligation's arguments (a ``ValueError`` when it is not one of ours)."""
    raw = json.loads(value)
    spec = RecurrenceSpec(
        frequency=Frequency(raw["frequency"]), start_date=date.fromisoformat(raw["start"]),
        end_date=date.fromisoformat(raw["end"]) if raw.get("end") else None, count=raw.get("count"), day=raw.get("day"),
        interval=int(raw.get("interval") or 1), custom_rrule=raw.get("rrule"), convention=BusinessDayConvention(raw["convention"]),
        calendar=raw.get("calendar"), last_business_day=bool(raw.get("last_business_day")),
    )
    return {"kind": str(raw["kind"]), "name": str(raw["name"]), "amount": Decimal(raw["amount"]), "currency": str(raw["currency"]),
            "recurrence": spec}


def duplicate_blocks(question: str, value: str) -> tuple[str, list[Block]]:
    text = f":warning: {question}"
    return text, [section(escape(text)), actions(button("Add anyway", ADD_ANYWAY, value, style="primary"),
                                                 button("Don't add", DONT_ADD, "cancel"), block_id="duplicate")]

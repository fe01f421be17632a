"""The question when the same obligation is entered twice: "Rent already has $500.00 monthly: add another?".

Its "Add anyway" button carries what was typed (the core's ``AddObligation``) so the click adds
exactly that, through the same core function, allowed this once.
"""

from __future__ import annotations

import json
from datetime import date

from bot.blocks.common import Block, actions, button, escape, section
from tamio.obligations.adding import AddObligation

ADD_ANYWAY = "add_anyway"
DONT_ADD = "add_cancel"


def pending_value(obligation: AddObligation) -> str:
    return obligation.model_dump_json(exclude={"allow_duplicate"}, exclude_none=True)


def read_pending(value: str, *, today: date) -> AddObligation:
    """The button's value back as the core's input, allowed as a duplicate (a ``ValueError`` when it is not one of ours)."""
    raw = json.loads(value)
    if not isinstance(raw, dict):
        raise ValueError("not an obligation")
    return AddObligation.read({**raw, "allow_duplicate": True}, today=today)


def duplicate_blocks(question: str, value: str) -> tuple[str, list[Block]]:
    text = f":warning: {question}"
    return text, [section(escape(text)), actions(button("Add anyway", ADD_ANYWAY, value, style="primary"),
                                                 button("Don't add", DONT_ADD, "cancel"), block_id="duplicate")]

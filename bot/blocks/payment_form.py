"""The "Record a payment" modal, opened from a message's shortcut: who paid (or was paid), how much, when.

The amount starts as the first amount the message mentions ("Acme paid the $4,200 invoice"), the
date as today; the counterparty is picked like in the Add form (the same ``counterparty`` options).
Input block ids are the field names, so field errors land on their field.

    view = payment_form(base_currency="USD", today=date(2026, 12, 7), amount="4200", metadata="{}")
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from bot.blocks.common import plain

PAYMENT_CALLBACK = "record_payment_form"
AMOUNT_IN_TEXT = re.compile(r"(?<![\w.])[$€£¥]?\s?(\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?)(?![\w.])")


def amount_mentioned(text: str) -> str | None:
    """The first amount a message mentions, as written (``"$4,200.50"`` -> ``"4,200.50"``)."""
    found = AMOUNT_IN_TEXT.search(text or "")
    return found.group(1) if found else None


def payment_form(*, base_currency: str, today: date, amount: str | None, metadata: str) -> dict[str, Any]:
    def text_input(block_id: str, label: str, placeholder: str, initial: str | None) -> dict[str, Any]:
        element: dict[str, Any] = {"type": "plain_text_input", "action_id": block_id, "placeholder": plain(placeholder, 150)}
        if initial:
            element["initial_value"] = initial
        return {"type": "input", "block_id": block_id, "label": plain(label, 2000), "element": element}

    return {
        "type": "modal",
        "callback_id": PAYMENT_CALLBACK,
        "private_metadata": metadata,
        "title": plain("Record a payment", 24),
        "submit": plain("Record", 24),
        "close": plain("Cancel", 24),
        "blocks": [
            {"type": "input", "block_id": "counterparty", "label": plain("Who paid, or was paid", 2000),
             "element": {"type": "external_select", "action_id": "counterparty", "min_query_length": 0,
                         "placeholder": plain("Acme Corp", 150)}},
            text_input("amount", "Amount", "1,200.50", amount),
            text_input("currency", "Currency", "USD", base_currency),
            {"type": "input", "block_id": "paid_on", "label": plain("On", 2000),
             "element": {"type": "datepicker", "action_id": "paid_on", "initial_date": today.isoformat()}},
        ],
    }

"""The "Add to Tamio" modal: what is owed or owed to whom, how much, and when it recurs.

Input block ids are the field names (``amount``, ``currency``, ...), so a validation error maps
straight onto the field it concerns (``ack(response_action="errors", errors={block_id: ...})``).
A client's kind (strategic or standard) and a vendor's flexibility and criticality are set with
the amount, as ``/tamio client`` and ``/tamio vendor`` set them. The counterparty is an ``external_select``: its options come from the ``counterparty`` options
listener, which offers the existing clients and vendors and "New: <what you typed>".

"Confirm in" is a conversation picker with ``response_url_enabled``: Slack starts it on the
conversation the form came from and hands the submission a response URL for the one picked, so the
confirmation arrives there even where Tamio is not a member (without one, it goes to the person's DM).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from bot.blocks.common import option, plain

CALLBACK_ID = "add_obligation"
CONFIRM_IN = "confirm_in"
KINDS = (("client", "Client revenue"), ("expense", "Vendor expense"), ("payroll", "Payroll"), ("tax", "Tax"))
FREQUENCIES = (("once", "Once"), ("weekly", "Weekly"), ("biweekly", "Every two weeks"), ("semimonthly", "Twice a month (15th and last)"),
               ("monthly", "Monthly"), ("quarterly", "Quarterly"), ("annually", "Yearly"))
RELATIONSHIPS = (("standard", "Standard"), ("strategic", "Strategic: chase gently"))
FLEXIBILITIES = (("can-delay", "Can be delayed"), ("negotiable", "Negotiable"), ("cannot-delay", "Cannot be delayed"))
CRITICAL = "critical"
CONVENTIONS = (("none", "Keep the date"), ("following", "Next business day"), ("preceding", "Business day before"),
               ("modified_following", "Next business day, same month"))


def _select(block_id: str, label: str, choices: tuple[tuple[str, str], ...], initial: str | None, *, optional: bool = False) -> dict[str, Any]:
    options = [option(text, value) for value, text in choices]
    element: dict[str, Any] = {"type": "static_select", "action_id": block_id, "options": options,
                               "placeholder": plain("Choose", 150)}
    chosen = next((o for o in options if o["value"] == initial), None)
    if chosen is not None:
        element["initial_option"] = chosen
    return {"type": "input", "block_id": block_id, "label": plain(label, 2000), "element": element, "optional": optional}


def _hinted(block: dict[str, Any], hint: str) -> dict[str, Any]:
    return {**block, "hint": plain(hint, 2000)}


def _text(block_id: str, label: str, *, placeholder: str, initial: str | None = None, optional: bool = False,
          hint: str | None = None, max_length: int | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": block_id, "placeholder": plain(placeholder, 150)}
    if initial:
        element["initial_value"] = initial
    if max_length:
        element["max_length"] = max_length
    block: dict[str, Any] = {"type": "input", "block_id": block_id, "label": plain(label, 2000), "element": element, "optional": optional}
    if hint:
        block["hint"] = plain(hint, 2000)
    return block


def _email(block_id: str, label: str, *, placeholder: str, hint: str) -> dict[str, Any]:
    element = {"type": "email_text_input", "action_id": block_id, "placeholder": plain(placeholder, 150)}
    return {"type": "input", "block_id": block_id, "label": plain(label, 2000), "element": element, "optional": True,
            "hint": plain(hint, 2000)}


def _date(block_id: str, label: str, initial: date | None, *, optional: bool = False) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "datepicker", "action_id": block_id}
    if initial:
        element["initial_date"] = initial.isoformat()
    return {"type": "input", "block_id": block_id, "label": plain(label, 2000), "element": element, "optional": optional}


def relationship_field() -> dict[str, Any]:
    return _hinted(_select("relationship", "Kind of client", RELATIONSHIPS, None, optional=True),
                   "For a client: a strategic one gets the gentler tone when chased.")


def flexibility_field() -> dict[str, Any]:
    return _hinted(_select("flexibility", "Can its payments move", FLEXIBILITIES, None, optional=True),
                   "For a vendor: Tamio only offers to delay payments that can move.")


def critical_field() -> dict[str, Any]:
    element = {"type": "checkboxes", "action_id": CRITICAL, "options": [option("The business can't do without this vendor", CRITICAL)]}
    return {"type": "input", "block_id": CRITICAL, "label": plain("Critical vendor", 2000), "element": element, "optional": True,
            "hint": plain("Tamio never offers to delay a critical vendor's payments.", 2000)}


ALLOW_DUPLICATE = "allow_duplicate"


def allow_duplicate_field() -> dict[str, Any]:
    element = {"type": "checkboxes", "action_id": ALLOW_DUPLICATE,
               "options": [option("Add it even if the same amount is already there", ALLOW_DUPLICATE)]}
    return {"type": "input", "block_id": ALLOW_DUPLICATE, "label": plain("Same amount twice", 2000), "element": element,
            "optional": True, "hint": plain("Tamio asks before adding an amount a client or vendor already has.", 2000)}


def confirm_in() -> dict[str, Any]:
    element = {"type": "conversations_select", "action_id": CONFIRM_IN, "response_url_enabled": True,
               "default_to_current_conversation": True, "filter": {"exclude_bot_users": True},
               "placeholder": plain("Your DM with Tamio", 150)}
    return {"type": "input", "block_id": CONFIRM_IN, "label": plain("Confirm in", 2000), "element": element, "optional": True,
            "hint": plain("Where Tamio tells you it's added; only you see it.", 2000)}


def add_form(*, kind: str | None, base_currency: str, today: date, channel_id: str | None) -> dict[str, Any]:
    counterparty = {
        "type": "input", "block_id": "counterparty", "label": plain("Who", 2000),
        "hint": plain("Start typing: pick an existing client or vendor, or create a new one.", 2000),
        "element": {"type": "external_select", "action_id": "counterparty", "min_query_length": 0,
                    "placeholder": plain("Acme Corp", 150)},
    }
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "private_metadata": json.dumps({"channel": channel_id}),
        "title": plain("Add to Tamio", 24),
        "submit": plain("Add", 24),
        "close": plain("Cancel", 24),
        "blocks": [
            _select("kind", "What is it", KINDS, kind or "client"),
            counterparty,
            _email("contact_email", "Contact email", placeholder="ap@acme.example",
                   hint="For a client or vendor: where Tamio's follow-up emails go. Empty keeps the one Tamio has."),
            _text("amount", "Amount", placeholder="1,200.50"),
            _text("currency", "Currency", placeholder="USD", initial=base_currency, max_length=3),
            _select("frequency", "How often", FREQUENCIES, "monthly"),
            _text("day", "Day of the month", placeholder="15, or -1 for the last day", optional=True,
                  hint="For monthly, quarterly and yearly amounts; leave empty to use the start date's day."),
            _date("start_date", "First date", today),
            _text("invoice", "Invoice number", placeholder="INV-1042", optional=True, max_length=64,
                  hint="For one invoice or bill (How often: Once): what a payment for it names. A first date past is already overdue."),
            _date("end_date", "Last date", None, optional=True),
            _select("convention", "If it falls on a weekend", CONVENTIONS, "none"),
            relationship_field(),
            flexibility_field(),
            critical_field(),
            allow_duplicate_field(),
            confirm_in(),
        ],
    }


def form_values(view: dict[str, Any]) -> dict[str, str | None]:
    """The submitted values by field: selected option values, text, or picked dates."""
    values: dict[str, str | None] = {}
    for block_id, actions in (view.get("state") or {}).get("values", {}).items():
        for element in actions.values():
            kind = element.get("type")
            if kind in ("static_select", "external_select"):
                selected = element.get("selected_option") or {}
                values[block_id] = selected.get("value")
            elif kind == "datepicker":
                values[block_id] = element.get("selected_date")
            elif kind == "checkboxes":
                values[block_id] = ",".join(o.get("value", "") for o in element.get("selected_options") or []) or None
            else:
                raw = element.get("value")
                values[block_id] = raw.strip() if isinstance(raw, str) else None
    return values

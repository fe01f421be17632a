"""The values a drafted email shows, read and written as people write them.

Split from ``tamio.preparation.message_drafting`` (the drafts and their templates) because these
are the checks and formats every draft shares: an amount read exactly (a float through its text)
and shown with its currency, a date read from ISO text and shown as "1 January 2026", typed names
folded onto one line, greetings and signatures, and the field errors a bad value gets.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.dates import format_date
from babel.numbers import list_currencies

from tamio.errors import ValidationError
from tamio.money import format_money

KNOWN_CURRENCIES = frozenset(list_currencies())

AmountLike = Decimal | int | float | str
DateLike = date | str


def _invoice_context(
    client_name: str, contact_name: str | None, invoice_number: str | None, amount: AmountLike, currency: str, due_date: DateLike
) -> dict[str, Any]:
    # Without a number the invoice is named by its amount and due date, which the sentences carry.
    number = _one_line(invoice_number)
    return {
        "greeting": _greeting(_required_text(client_name, "client_name"), contact_name),
        "invoice_number": number,
        "invoice": f"invoice {number}" if number else "the invoice",
        "Invoice": f"Invoice {number}" if number else "The invoice",
        "invoice_title": f"invoice {number}" if number else "invoice",
        "Invoice_title": f"Invoice {number}" if number else "Invoice",
        "amount": _format_amount(amount, currency),
        "due_date": _format_date(_as_date(due_date, "due_date")),
    }


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def _greeting(organisation: str, contact_name: str | None) -> str:
    contact = _one_line(contact_name)
    return f"Hi {contact}" if contact else f"Hello {organisation} team"


def _signature(sender_name: str, company_name: str) -> list[str]:
    return [line for line in (_one_line(sender_name), _one_line(company_name)) if line]


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _earlier_reminders(previous_reminders: int) -> str:
    return "our earlier reminder" if previous_reminders <= 1 else f"our {previous_reminders} earlier reminders"


def _format_amount(amount: AmountLike, currency: str, *, allow_negative: bool = False) -> str:
    code = (currency or "").strip().upper()
    if code not in KNOWN_CURRENCIES:
        hint = "Use a three-letter ISO code such as USD, EUR or GBP."
        raise ValidationError(f"I don't know the currency `{currency}`.", field_errors={"currency": hint})
    value = _as_decimal(amount, "amount", allow_negative=allow_negative)
    return _formatted(value, code)


def _formatted(value: Decimal, code: str) -> str:
    return format_money(value, code)


def _as_decimal(value: AmountLike, field: str, *, allow_negative: bool = False) -> Decimal:
    unreadable = ValidationError(f"I couldn't read the amount `{value}`.", field_errors={field: "Give a number such as 1200.50."})
    try:
        # Through str so that a float 5000.1 means 5000.1, not its binary approximation.
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise unreadable from None
    if isinstance(value, bool) or not amount.is_finite():
        raise unreadable
    if amount < 0 and not allow_negative:
        raise ValidationError("The amount must not be negative.", field_errors={field: "Give 0 or more."})
    return amount


def _as_date(value: DateLike, field: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        hint = "Write it as YYYY-MM-DD, e.g. 2026-01-31."
        raise ValidationError(f"I couldn't read the date `{value}`.", field_errors={field: hint}) from None


@functools.lru_cache(maxsize=4096)
def _format_date(value: date) -> str:
    # babel is tens of microseconds a date, and a run's drafts name the same few dates again and again.
    return str(format_date(value, "d MMMM y", locale="en_GB"))


def _required_text(value: str, field: str) -> str:
    text = _one_line(value)
    if not text:
        raise ValidationError(f"`{field}` is empty.", field_errors={field: "This cannot be blank."})
    return text


def _non_negative(value: int, field: str) -> int:
    if value < 0:
        raise ValidationError(f"`{field}` cannot be negative.", field_errors={field: "Use 0 or more."})
    return value


def _one_of(value: str, allowed: Sequence[str], field: str) -> str:
    if value not in allowed:
        raise ValidationError(f"`{value}` is not a valid {field}.", field_errors={field: f"Use one of: {', '.join(allowed)}."})
    return value

"""The limits every edge shares: how large an amount, how long a name or a note, how far a rate.

One place, so Slack, the REST API, the CLI, the CSV import and the services refuse the same things
with the same words, and nothing a person can type overflows a column, a sum or a product:

- amounts: at most 10^12 either way, in any currency (and again once converted to the account's
  base currency). Money is stored as integer thousandths in a BIGINT (up to 9.2e18), so one
  amount is at most 10^15 of them, and sums use ``tamio.db.money_sum``;
- names: 1 to 200 characters on one line; notes: up to 2,000 characters; no control characters
  (a line break in a note is fine);
- exchange rates: from 10^-9 to 10^9 units of one currency per unit of the other.

    check_amount(Decimal("99999999999999999"))   # ValidationError: ... at most 1,000,000,000,000 ...
    check_name("  Acme Corp ")                   # 'Acme Corp'
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

from tamio.errors import ValidationError

MAX_AMOUNT = Decimal(10) ** 12
MAX_NAME = 200
MAX_NOTES = 2000
MAX_INVOICE = 64  # an invoice number: the schedule's invoice_number column
MIN_RATE = Decimal(10) ** -9
MAX_RATE = Decimal(10) ** 9

AMOUNT_LIMIT_TEXT = "1,000,000,000,000"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_EXCEPT_NEWLINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")


def amount_too_large(amount: Decimal) -> bool:
    return not amount.is_finite() or abs(amount) > MAX_AMOUNT


def check_amount(amount: Decimal, *, field: str = "amount", what: str = "An amount", currency: str | None = None) -> Decimal:
    """``amount`` if it is within the limit; otherwise a ValidationError saying the limit."""
    if amount_too_large(amount):
        shown = format(amount, ",f") if amount.is_finite() else str(amount)
        unit = f" {currency}" if currency else ""
        message = f"at most {AMOUNT_LIMIT_TEXT} in any currency"
        raise ValidationError(f"{what} of {shown}{unit} is more than Tamio takes: {message}.", field_errors={field: message})
    return amount


def check_converted(amount: Decimal, currency: str, *, field: str = "amount") -> Decimal:
    """An amount converted to the base currency is held to the same limit as one typed in it."""
    if amount_too_large(amount):
        message = f"in {currency} it would be more than {AMOUNT_LIMIT_TEXT}"
        raise ValidationError(
            f"That amount is {format(amount, ',f')} {currency} in the account's base currency, more than the "
            f"{AMOUNT_LIMIT_TEXT} Tamio takes.",
            field_errors={field: message},
        )
    return amount


def check_rate(rate: Decimal, *, field: str = "rate") -> Decimal:
    if not rate.is_finite() or not MIN_RATE <= rate <= MAX_RATE:
        message = "between 0.000000001 and 1,000,000,000"
        raise ValidationError(f"An exchange rate of {rate} is out of range: it must be {message}.", field_errors={field: message})
    return rate


def _has_control(text: str, *, newlines: bool) -> bool:
    pattern = _CONTROL_EXCEPT_NEWLINES if newlines else _CONTROL
    return bool(pattern.search(text)) or any(unicodedata.category(ch) == "Cs" for ch in text)


def check_name(text: str, *, field: str = "name", what: str = "The name") -> str:
    """A name on one line, 1 to 200 characters, stripped; refused otherwise (never cut)."""
    name = (text or "").strip()
    if not name:
        raise ValidationError(f"{what} is empty.", field_errors={field: "must not be empty"})
    if _has_control(name, newlines=False):
        raise ValidationError(f"{what} has a line break or another control character; write it on one line.",
                              field_errors={field: "one line, without control characters"})
    if len(name) > MAX_NAME:
        raise ValidationError(f"{what} has {len(name):,} characters; use at most {MAX_NAME}.",
                              field_errors={field: f"at most {MAX_NAME} characters"})
    return name


def check_notes(text: str | None, *, field: str = "notes", what: str = "The note") -> str | None:
    """Free text up to 2,000 characters; line breaks are fine, other control characters are not."""
    if text is None:
        return None
    if _has_control(text, newlines=True):
        raise ValidationError(f"{what} has a control character; use plain text.", field_errors={field: "no control characters"})
    if len(text) > MAX_NOTES:
        raise ValidationError(f"{what} has {len(text):,} characters; use at most {MAX_NOTES:,}.",
                              field_errors={field: f"at most {MAX_NOTES:,} characters"})
    return text

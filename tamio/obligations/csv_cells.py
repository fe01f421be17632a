"""Reading one cell of the obligations CSV: its value, or ``BadCell`` saying what would be right.

Each reader takes the cell's text (already stripped) and returns what it means: an amount as a
``Decimal``, a kind as one of ``KINDS`` (whatever word names it), a date, a day of the month, a
business-day rule. ``csv_format`` reads a row with them and names the line and column of a problem.

    >>> read_amount("1,200.50", "USD")
    Decimal('1200.50')
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Final

from tamio import dates
from tamio.errors import ValidationError
from tamio.limits import AMOUNT_LIMIT_TEXT
from tamio.money import AmountProblem, is_currency, precision
from tamio.money import read_amount as money_read_amount
from tamio.obligations.counterparties import MAX_CONTACT_NAME_LENGTH, is_email
from tamio.obligations.csv_columns import FLEXIBILITY_LEVELS, KINDS, NAMED_FREQUENCIES, kind_of, kind_words
from tamio.obligations.recurrence import BusinessDayConvention, Frequency

MAX_COUNTERPARTY_LENGTH: Final = 200


class BadCell(Exception):
    """A cell that cannot be read; the message says what would be right."""


def read_counterparty(raw: str) -> str:
    name = " ".join(raw.split())
    if not name:
        raise BadCell("the counterparty is empty; write who pays you or whom you pay")
    if len(name) > MAX_COUNTERPARTY_LENGTH:
        raise BadCell(f"the counterparty is longer than {MAX_COUNTERPARTY_LENGTH} characters; shorten it")
    return name


def read_kind(raw: str) -> str:
    kind = kind_of(raw)
    if kind is None:
        shown = f"I don't know the kind '{raw}'" if raw else "the kind is empty"
        others = "; ".join(f"{', '.join(kind_words(k))} mean {k}" for k in KINDS)
        raise BadCell(f"{shown}; use revenue, expense, payroll or tax ({others})")
    return kind


def read_currency(raw: str, default: str | None = None) -> str:
    code = raw.upper()
    if not raw and default is not None:
        return default
    if not raw:
        raise BadCell("the currency is empty; use the ISO code such as USD, EUR or GBP")
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise BadCell(f"'{raw[:20]}' is not a currency code; use three letters such as USD, EUR or GBP")
    if not is_currency(code):
        raise BadCell(f"'{raw}' is not a currency I know; use the ISO code of a currency in circulation such as USD, EUR or GBP")
    return code


def read_amount(raw: str, currency: str | None) -> Decimal:
    """``tamio.money.read_amount``'s rules, worded for a cell."""
    try:
        return money_read_amount(raw, currency=currency)
    except AmountProblem as problem:
        if problem.kind == "negative":
            raise BadCell("the amount must be positive; the kind says which way the money goes") from None
        if problem.kind == "zero":
            raise BadCell("the amount must be more than zero") from None
        if problem.kind == "too_large":
            raise BadCell(f"'{raw[:40]}' is more than Tamio takes: at most {AMOUNT_LIMIT_TEXT} in any currency") from None
        if problem.kind == "precision" and currency is not None:
            raise BadCell(f"{currency} amounts have at most {precision(currency)} decimal places; '{raw}' has {problem.digits}") from None
        shown = f"I couldn't read '{raw}' as an amount" if raw else "the amount is empty"
        raise BadCell(f"{shown}; write it like 1200 or 1,200.50") from None


def read_frequency(raw: str) -> tuple[Frequency, str | None]:
    """The frequency and, for a custom schedule, the rule text as written."""
    if raw.upper().startswith(("FREQ=", "RRULE:")):
        return Frequency.CUSTOM, raw
    for frequency in NAMED_FREQUENCIES:
        if raw.lower() == frequency.value:
            return frequency, None
    names = ", ".join(f.value for f in NAMED_FREQUENCIES)
    shown = f"I don't know the frequency '{raw}'" if raw else "the frequency is empty"
    raise BadCell(f"{shown}; use {names}, or an RRULE such as FREQ=MONTHLY;BYMONTHDAY=1")


def read_date(raw: str) -> date:
    """The one date reader's (``tamio.dates``), with its words: the same as in Slack, the CLI and the API."""
    try:
        return dates.read_date(raw)
    except ValidationError as exc:
        message = exc.message.rstrip(".")
        raise BadCell(message[:1].lower() + message[1:] if message.startswith("The ") else message) from None


def read_day(raw: str) -> int | None:
    if not raw:
        return None
    if raw.lower() == "last":
        return -1
    if not re.fullmatch(r"[+-]?\d{1,3}", raw):
        raise BadCell(f"I couldn't read '{raw}' as a day; write a day of the month from 1 to 31, or -1 for the last day")
    day = int(raw)
    if not (1 <= day <= 31 or day == -1):
        raise BadCell("day must be between 1 and 31, or -1 for the month's last day")
    return day


def read_convention(raw: str) -> BusinessDayConvention:
    value = re.sub(r"[\s-]+", "_", raw.lower())
    if value in ("", "none"):
        return BusinessDayConvention.NONE
    try:
        return BusinessDayConvention(value)
    except ValueError:
        raise BadCell(
            f"I don't know the business-day rule '{raw}'; use following, preceding or modified_following, "
            "or leave it empty"
        ) from None


def read_flexibility(raw: str) -> str | None:
    value = re.sub(r"[\s-]+", "_", raw.lower())
    if not value:
        return None
    if value not in FLEXIBILITY_LEVELS:
        raise BadCell(f"I don't know the flexibility '{raw}'; use can_delay, negotiable or cannot_delay, or leave it empty")
    return value


def read_email(raw: str) -> str | None:
    if not raw:
        return None
    if not is_email(raw):
        raise BadCell(f"I couldn't read '{raw[:80]}' as an email address; write one address like ap@client.com, or leave it empty")
    return raw


def read_contact_name(raw: str) -> str | None:
    name = " ".join(raw.split())
    if not name:
        return None
    if len(name) > MAX_CONTACT_NAME_LENGTH:
        raise BadCell(f"the contact name is longer than {MAX_CONTACT_NAME_LENGTH} characters; shorten it")
    return name

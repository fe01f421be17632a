"""Reading the CSV of ``tamio import obligations FILE.csv``: all rows or none, every problem at once.

Why: a business moving its bills, payroll and retainers into Tamio does it from a spreadsheet.
One bad cell must not import half a file, and a list of every problem with its line and column
lets them fix the file in one pass. This module is pure (no database): it turns text into
``ObligationRow`` values, each with an ``import_key`` so importing the same file twice can be
made idempotent. The header is exactly these columns, in any order::

    counterparty,kind,amount,currency,frequency,start_date,end_date,day,business_day,calendar
    Landlord LLC,expense,"4,500.00",usd,monthly,2026-01-31,,31,preceding,US
    Payroll,payroll,18200,USD,semimonthly,2026-01-15,,,modified_following,US
    Acme retainer,revenue,3000,USD,"FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",2026-01-01,,,,

``start_date`` is where the schedule begins (the due date itself for ``once``); the first due date
is the first date of the schedule on or after it. ``end_date`` is inclusive. ``day`` (1..31, -1 or
"last" for the month's last day) applies to monthly, quarterly and annual rows, the start date's day
when empty. A frequency starting with ``FREQ=`` or ``RRULE:`` is an RFC 5545 rule kept as written
(in double quotes when it has commas).

One more column is optional: ``flexibility`` says whether a vendor's payments may move when cash
runs short (``can_delay``, ``negotiable`` or ``cannot_delay``; empty leaves it as it is). It belongs
to the vendor, not the obligation: it is refused on revenue rows, two rows of one vendor must not
disagree, and it is not part of ``import_key`` (adding the column later sets it, duplicating nothing).

Two more say whom Tamio's follow-up emails go to: ``email`` (one address, like ap@acme.example) and
``contact_name`` (the person, like Jane Doe). Like flexibility they belong to the client or vendor,
empty leaves what is there, two rows of one counterparty must not disagree, and neither is part of
``import_key``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Final, TypeVar

from tamio.errors import ValidationError
from tamio.limits import AMOUNT_LIMIT_TEXT, amount_too_large
from tamio.money import is_currency, precision, quantize
from tamio.obligations.counterparties import MAX_CONTACT_NAME_LENGTH, is_email
from tamio.obligations.recurrence import (
    BusinessDayConvention,
    Frequency,
    Recurrence,
    RecurrenceError,
    build_rrule,
    check_calendar,
    custom_rrule,
)

HEADER: Final = (
    "counterparty",
    "kind",
    "amount",
    "currency",
    "frequency",
    "start_date",
    "end_date",
    "day",
    "business_day",
    "calendar",
)
OPTIONAL_HEADER: Final = ("flexibility", "email", "contact_name")
KINDS: Final = ("revenue", "expense", "payroll", "tax")
FLEXIBILITY_LEVELS: Final = ("can_delay", "negotiable", "cannot_delay")
MAX_COUNTERPARTY_LENGTH: Final = 200
_AMOUNT: Final = re.compile(r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?")  # ASCII digits only
_ISO_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_NAMED_FREQUENCIES: Final = tuple(f for f in Frequency if f is not Frequency.CUSTOM)
# Where a RecurrenceError's field shows in the file.
_COLUMN_OF_FIELD: Final = {
    "day": "day",
    "last_business_day": "day",
    "end": "end_date",
    "count": "end_date",
    "start": "start_date",
    "calendar": "calendar",
}

T = TypeVar("T")


@dataclass(frozen=True)
class CsvFieldError:
    line: int  # the header is line 1
    column: str  # empty for a problem with the whole row or file
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}, column {self.column}" if self.column else f"line {self.line}"
        return f"{where}: {self.message}"


class CsvImportError(ValidationError, ValueError):
    """Nothing was imported; ``errors`` lists every problem, in file order."""

    title = "Invalid CSV file"

    def __init__(self, errors: Sequence[CsvFieldError]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(str(error) for error in self.errors))


@dataclass(frozen=True)
class ObligationRow:
    line: int
    counterparty: str
    kind: str
    amount: Decimal
    currency: str
    frequency: Frequency
    rrule: str
    start_date: date
    end_date: date | None
    day: int | None
    convention: BusinessDayConvention
    calendar: str | None
    flexibility: str | None = None  # the vendor's, one of FLEXIBILITY_LEVELS; not part of import_key
    email: str | None = None  # the counterparty's contact email; not part of import_key
    contact_name: str | None = None  # the person at the counterparty; not part of import_key

    @property
    def is_client(self) -> bool:
        return self.kind == "revenue"

    @property
    def import_key(self) -> str:
        """sha256 of what the row means (not where it is): the same obligation gives the same key."""
        content = [
            "tamio.obligations.csv/1",
            " ".join(self.counterparty.split()).casefold(),
            self.kind,
            format(quantize(self.amount, self.currency), "f"),
            self.currency,
            self.rrule,
            self.start_date.isoformat(),
            self.end_date.isoformat() if self.end_date else "",
            self.convention.value,
            self.calendar or "",
        ]
        return hashlib.sha256(json.dumps(content, separators=(",", ":")).encode()).hexdigest()

    @property
    def recurrence(self) -> Recurrence:
        return Recurrence(self.rrule, self.start_date, self.convention, self.calendar)


class _BadCell(Exception):
    """A cell that cannot be read; the message says what would be right."""


def _read_counterparty(raw: str) -> str:
    name = " ".join(raw.split())
    if not name:
        raise _BadCell("the counterparty is empty; write who pays you or whom you pay")
    if len(name) > MAX_COUNTERPARTY_LENGTH:
        raise _BadCell(f"the counterparty is longer than {MAX_COUNTERPARTY_LENGTH} characters; shorten it")
    return name


def _read_kind(raw: str) -> str:
    kind = raw.lower()
    if kind not in KINDS:
        shown = f"I don't know the kind '{raw}'" if raw else "the kind is empty"
        raise _BadCell(f"{shown}; use revenue, expense, payroll or tax")
    return kind


def _read_currency(raw: str) -> str:
    code = raw.upper()
    if not raw:
        raise _BadCell("the currency is empty; use the ISO code such as USD, EUR or GBP")
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise _BadCell(f"'{raw[:20]}' is not a currency code; use three letters such as USD, EUR or GBP")
    if not is_currency(code):
        raise _BadCell(f"'{raw}' is not a currency I know; use the ISO code of a currency in circulation such as USD, EUR or GBP")
    return code


def _read_amount(raw: str, currency: str | None) -> Decimal:
    if raw.startswith("-") and _AMOUNT.fullmatch(raw[1:]):
        raise _BadCell("the amount must be positive; the kind says which way the money goes")
    if not _AMOUNT.fullmatch(raw):
        shown = f"I couldn't read '{raw}' as an amount" if raw else "the amount is empty"
        raise _BadCell(f"{shown}; write it like 1200 or 1,200.50")
    amount = Decimal(raw.replace(",", ""))
    if amount == 0:
        raise _BadCell("the amount must be more than zero")
    if amount_too_large(amount):
        raise _BadCell(f"'{raw[:40]}' is more than Tamio takes: at most {AMOUNT_LIMIT_TEXT} in any currency")
    exponent = amount.as_tuple().exponent
    if currency is not None and isinstance(exponent, int) and -exponent > precision(currency):
        raise _BadCell(f"{currency} amounts have at most {precision(currency)} decimal places; '{raw}' has {-exponent}")
    return amount


def _read_frequency(raw: str) -> tuple[Frequency, str | None]:
    """The frequency and, for a custom schedule, the rule text as written."""
    if raw.upper().startswith(("FREQ=", "RRULE:")):
        return Frequency.CUSTOM, raw
    for frequency in _NAMED_FREQUENCIES:
        if raw.lower() == frequency.value:
            return frequency, None
    names = ", ".join(f.value for f in _NAMED_FREQUENCIES)
    shown = f"I don't know the frequency '{raw}'" if raw else "the frequency is empty"
    raise _BadCell(f"{shown}; use {names}, or an RRULE such as FREQ=MONTHLY;BYMONTHDAY=1")


def _read_date(raw: str) -> date:
    if not raw:
        raise _BadCell("the date is empty; write it as YYYY-MM-DD, like 2026-12-03")
    if not _ISO_DATE.fullmatch(raw):
        raise _BadCell(f"I couldn't read '{raw}' as a date; write it as YYYY-MM-DD, like 2026-12-03")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise _BadCell(f"{raw} is not a date on the calendar; check the month and day") from None


def _read_day(raw: str) -> int | None:
    if not raw:
        return None
    if raw.lower() == "last":
        return -1
    if not re.fullmatch(r"[+-]?\d{1,3}", raw):
        raise _BadCell(f"I couldn't read '{raw}' as a day; write a day of the month from 1 to 31, or -1 for the last day")
    day = int(raw)
    if not (1 <= day <= 31 or day == -1):
        raise _BadCell("day must be between 1 and 31, or -1 for the month's last day")
    return day


def _read_convention(raw: str) -> BusinessDayConvention:
    value = re.sub(r"[\s-]+", "_", raw.lower())
    if value in ("", "none"):
        return BusinessDayConvention.NONE
    try:
        return BusinessDayConvention(value)
    except ValueError:
        raise _BadCell(
            f"I don't know the business-day rule '{raw}'; use following, preceding or modified_following, "
            "or leave it empty"
        ) from None


def _read_flexibility(raw: str) -> str | None:
    value = re.sub(r"[\s-]+", "_", raw.lower())
    if not value:
        return None
    if value not in FLEXIBILITY_LEVELS:
        raise _BadCell(f"I don't know the flexibility '{raw}'; use can_delay, negotiable or cannot_delay, or leave it empty")
    return value


def _read_email(raw: str) -> str | None:
    if not raw:
        return None
    if not is_email(raw):
        raise _BadCell(f"I couldn't read '{raw[:80]}' as an email address; write one address like ap@client.com, or leave it empty")
    return raw


def _read_contact_name(raw: str) -> str | None:
    name = " ".join(raw.split())
    if not name:
        return None
    if len(name) > MAX_CONTACT_NAME_LENGTH:
        raise _BadCell(f"the contact name is longer than {MAX_CONTACT_NAME_LENGTH} characters; shorten it")
    return name


def _header_problem(cells: list[str]) -> str | None:
    names = [cell.strip().lower() for cell in cells]
    missing = [name for name in HEADER if name not in names]
    unexpected = [name for name in names if name not in HEADER + OPTIONAL_HEADER]
    repeated = sorted({name for name in names if names.count(name) > 1 and name in HEADER + OPTIONAL_HEADER})
    if not (missing or unexpected or repeated):
        return None
    found = "; ".join(
        f"{label}: {', '.join(values)}"
        for label, values in (("missing", missing), ("unexpected", unexpected), ("repeated", repeated))
        if values
    )
    return f"the first line must be the header {','.join(HEADER)} (and optionally {', '.join(OPTIONAL_HEADER)}) ({found})"


def _read_row(line: int, cells: dict[str, str], errors: list[CsvFieldError]) -> ObligationRow | None:
    before = len(errors)

    def read(column: str, reader: Callable[[str], T]) -> T | None:
        try:
            return reader(cells.get(column, ""))
        except (_BadCell, RecurrenceError) as exc:
            errors.append(CsvFieldError(line, column, exc.message if isinstance(exc, RecurrenceError) else str(exc)))
            return None

    counterparty = read("counterparty", _read_counterparty)
    kind = read("kind", _read_kind)
    currency = read("currency", _read_currency)
    amount = read("amount", lambda raw: _read_amount(raw, currency))
    frequency_and_rule = read("frequency", _read_frequency)
    start = read("start_date", _read_date)
    end = read("end_date", lambda raw: _read_date(raw) if raw else None)
    day = read("day", _read_day)
    convention = read("business_day", _read_convention)
    calendar = read("calendar", check_calendar)
    flexibility = read("flexibility", _read_flexibility)
    email = read("email", _read_email)
    contact_name = read("contact_name", _read_contact_name)
    if flexibility is not None and kind == "revenue":
        errors.append(CsvFieldError(line, "flexibility", "flexibility is for what you pay (expense, payroll or tax); leave it empty on revenue rows"))
    if end is not None and start is not None and end < start:
        errors.append(CsvFieldError(line, "end_date", f"the end date {end} is before the start date {start}"))
    # The schedule is checked whenever its own cells could be read, so one pass shows every problem.
    schedule_columns = {"frequency", "start_date", "end_date", "day"}
    if frequency_and_rule is None or start is None or any(e.column in schedule_columns for e in errors[before:]):
        return None
    frequency, written_rule = frequency_and_rule
    try:
        if written_rule is None:
            rule = build_rrule(frequency, start=start, day=day, end=end)
        elif day is not None:
            raise RecurrenceError("day doesn't apply to an RRULE; put BYMONTHDAY in the rule instead", field="day")
        else:
            rule = custom_rrule(written_rule, start=start, end=end)
    except RecurrenceError as exc:
        errors.append(CsvFieldError(line, _COLUMN_OF_FIELD.get(exc.field or "", "frequency"), exc.message))
        return None
    if len(errors) > before:
        return None
    assert counterparty is not None and kind is not None and amount is not None and currency is not None
    assert convention is not None
    return ObligationRow(
        line=line,
        counterparty=counterparty,
        kind=kind,
        amount=amount,
        currency=currency,
        frequency=frequency,
        rrule=rule,
        start_date=start,
        end_date=end,
        day=day,
        convention=convention,
        calendar=calendar,
        flexibility=flexibility,
        email=email,
        contact_name=contact_name,
    )


def parse_obligations_csv(text: str) -> list[ObligationRow]:
    """Every row of the file, or ``CsvImportError`` listing every problem (nothing half-read)."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    errors: list[CsvFieldError] = []
    rows: list[ObligationRow] = []
    columns: list[str] | None = None
    first_line_of_key: dict[str, int] = {}
    flexibility_of_vendor: dict[str, tuple[str, int]] = {}
    said_of: dict[tuple[str, bool, str], tuple[str, int]] = {}  # (column, is a client, name) -> (value, line)
    last_line = 0
    try:
        for cells in reader:
            line, last_line = last_line + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue  # a blank line, or a spreadsheet's row of empty cells
            if columns is None:
                problem = _header_problem(cells)
                if problem:
                    raise CsvImportError([CsvFieldError(line, "", problem)])
                columns = [cell.strip().lower() for cell in cells]
                continue
            if len(cells) != len(columns):
                hint = ""
                if len(cells) > len(columns) and any(cell.strip().upper().startswith(("FREQ=", "RRULE:")) for cell in cells):
                    hint = ' (put an RRULE with commas in double quotes, like "FREQ=WEEKLY;BYDAY=MO,FR")'
                errors.append(CsvFieldError(line, "", f"this row has {len(cells)} cells; the header has {len(columns)}{hint}"))
                continue
            row = _read_row(line, dict(zip(columns, (cell.strip() for cell in cells), strict=True)), errors)
            if row is None:
                continue
            earlier = first_line_of_key.setdefault(row.import_key, line)
            if earlier != line:
                errors.append(CsvFieldError(line, "", f"this row repeats line {earlier}; merge them into one row"))
                continue
            if row.flexibility is not None:
                said = flexibility_of_vendor.setdefault(row.counterparty.casefold(), (row.flexibility, line))
                if said[0] != row.flexibility:
                    errors.append(CsvFieldError(
                        line, "flexibility", f"line {said[1]} says {said[0]} for {row.counterparty}; give a vendor one flexibility"
                    ))
                    continue
            disagreements = []
            for column, value in (("email", row.email), ("contact_name", row.contact_name)):
                if value is None:
                    continue
                said = said_of.setdefault((column, row.is_client, row.counterparty.casefold()), (value, line))
                if said[0] != value:
                    disagreements.append(CsvFieldError(
                        line, column, f"line {said[1]} says {said[0]} for {row.counterparty}; give a {'client' if row.is_client else 'vendor'} one {column.replace('_', ' ')}"
                    ))
            if disagreements:
                errors.extend(disagreements)
                continue
            rows.append(row)
    except csv.Error as exc:
        errors.append(CsvFieldError(reader.line_num, "", f"the file isn't valid CSV ({exc}); check its quotes"))
    if columns is None and not errors:
        errors.append(CsvFieldError(1, "", f"the file is empty; the first line must be the header {','.join(HEADER)}"))
    elif not rows and not errors:
        errors.append(CsvFieldError(last_line or 1, "", "the file has a header but no obligations below it"))
    if errors:
        raise CsvImportError(errors)
    return rows

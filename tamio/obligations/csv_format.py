"""Reading the CSV of ``tamio import obligations FILE.csv``: all rows or none, every problem at once.

Why: a business moving its bills, payroll and retainers into Tamio does it from a spreadsheet.
One bad cell must not import half a file, and a list of every problem with its line and column
lets them fix the file in one pass. This module is pure (no database): it turns text into
``ObligationRow`` values, each with an ``import_key`` so importing the same file twice can be
made idempotent. The header names the columns, in any order; ``csv_columns.COLUMNS`` says which
are needed (counterparty, kind, amount, frequency, start_date) and what each takes::

    counterparty,kind,amount,currency,frequency,start_date,end_date,day,business_day,calendar
    Landlord LLC,expense,"4,500.00",usd,monthly,2026-01-31,,31,preceding,US
    Payroll,payroll,18200,USD,semimonthly,2026-01-15,,,modified_following,US
    Acme retainer,revenue,3000,USD,"FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",2026-01-01,,,,

``kind`` takes the words of ``/tamio add`` in Slack too: ``client`` is revenue, ``vendor`` an
expense (``client`` and ``revenue`` rows are the same obligation: the same ``import_key``). A
column left out reads as empty; ``currency``, empty or left out, is the account's base currency
when the caller names it. Spreadsheet exports read the same: a byte-order mark, CRLF line ends,
rows of empty cells, and semicolons or tabs between cells (found from the header line).

``start_date`` is where the schedule begins (the due date itself for ``once``); the first due date
is the first date of the schedule on or after it. ``end_date`` is inclusive. ``day`` (1..31, -1 or
"last" for the month's last day) applies to monthly, quarterly and annual rows, the start date's day
when empty. A frequency starting with ``FREQ=`` or ``RRULE:`` is an RFC 5545 rule kept as written
(in double quotes when it has commas).

``flexibility`` says whether a vendor's payments may move when cash runs short (``can_delay``,
``negotiable`` or ``cannot_delay``; empty leaves it as it is). It belongs to the vendor, not the
obligation: it is refused on revenue rows, two rows of one vendor must not disagree, and it is not
part of ``import_key`` (adding the column later sets it, duplicating nothing). ``email`` (one
address, like ap@acme.example) and ``contact_name`` (the person, like Jane Doe) say whom Tamio's
follow-up emails go to; like flexibility they belong to the client or vendor, empty leaves what is
there, two rows of one counterparty must not disagree, and neither is part of ``import_key``.

A file too big to hold is read row by row: ``ObligationsReader(lines)`` yields each row as it is
read and raises ``CsvImportError`` with every problem at the end; ``parse_obligations_csv(text)``
is the same over a string, as a list.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cached_property
from itertools import chain
from typing import Final, TypeVar

from tamio.errors import ValidationError
from tamio.money import quantize
from tamio.obligations.business_days import check_calendar
from tamio.obligations.csv_cells import (
    BadCell,
    read_amount,
    read_contact_name,
    read_convention,
    read_counterparty,
    read_currency,
    read_date,
    read_day,
    read_email,
    read_flexibility,
    read_frequency,
    read_kind,
)
from tamio.obligations.csv_columns import (
    ALL_COLUMNS,
    FLEXIBILITY_LEVELS,
    HEADER,
    KINDS,
    OPTIONAL_HEADER,
    REQUIRED_COLUMNS,
)
from tamio.obligations.recurrence import (
    BusinessDayConvention,
    Frequency,
    Recurrence,
    RecurrenceError,
    build_rrule,
    custom_rrule,
)

__all__ = [
    "ALL_COLUMNS", "FLEXIBILITY_LEVELS", "HEADER", "KINDS", "OPTIONAL_HEADER", "REQUIRED_COLUMNS",
    "CsvFieldError", "CsvImportError", "ObligationRow", "ObligationsReader", "parse_obligations_csv",
]

_DELIMITERS: Final = (",", ";", "\t")  # the first is the default, and wins a tie
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
    invoice: str | None = None  # the invoice's number as written (the core's rules read it on import); part of import_key

    @property
    def is_client(self) -> bool:
        return self.kind == "revenue"

    @cached_property
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
            *([f"invoice:{self.invoice}"] if self.invoice is not None else []),  # without one, a key is as it always was
        ]
        return hashlib.sha256(json.dumps(content, separators=(",", ":")).encode()).hexdigest()

    @property
    def recurrence(self) -> Recurrence:
        return Recurrence(self.rrule, self.start_date, self.convention, self.calendar)


def _header_problem(cells: list[str], required: Sequence[str]) -> str | None:
    names = [cell.strip().lower() for cell in cells]
    missing = [name for name in required if name not in names]
    unexpected = [name for name in names if name not in ALL_COLUMNS]
    repeated = sorted({name for name in names if names.count(name) > 1 and name in ALL_COLUMNS})
    if not (missing or unexpected or repeated):
        return None
    found = "; ".join(
        f"{label}: {', '.join(values)}"
        for label, values in (("missing", missing), ("unexpected", unexpected), ("repeated", repeated))
        if values
    )
    return (f"the first line must be the header {','.join(HEADER)} (and optionally {', '.join(OPTIONAL_HEADER)}); "
            f"only {', '.join(required)} are needed ({found})")


def _read_row(line: int, cells: dict[str, str], errors: list[CsvFieldError], default_currency: str | None) -> ObligationRow | None:
    before = len(errors)

    def read(column: str, reader: Callable[[str], T]) -> T | None:
        try:
            return reader(cells.get(column, ""))
        except (BadCell, RecurrenceError) as exc:
            errors.append(CsvFieldError(line, column, exc.message if isinstance(exc, RecurrenceError) else str(exc)))
            return None

    counterparty = read("counterparty", read_counterparty)
    kind = read("kind", read_kind)
    currency = read("currency", lambda raw: read_currency(raw, default_currency))
    amount = read("amount", lambda raw: read_amount(raw, currency))
    frequency_and_rule = read("frequency", read_frequency)
    start = read("start_date", read_date)
    end = read("end_date", lambda raw: read_date(raw) if raw else None)
    day = read("day", read_day)
    convention = read("business_day", read_convention)
    calendar = read("calendar", check_calendar)
    flexibility = read("flexibility", read_flexibility)
    email = read("email", read_email)
    contact_name = read("contact_name", read_contact_name)
    invoice = cells.get("invoice", "").strip() or None  # its rules are the core's: ``importer.row_obligation``
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
        invoice=invoice,
    )


def _delimited(lines: Iterable[str]) -> tuple[str, Iterator[str]]:
    """The cell delimiter, found from the header line (the first with more than separators on it),
    and the lines again from the start, the first without its byte-order mark."""
    remaining = iter(lines)
    peeked: list[str] = []
    for raw in remaining:
        peeked.append(raw.removeprefix("\ufeff") if not peeked else raw)
        if peeked[-1].strip(" \r\n" + "".join(_DELIMITERS)):
            counts = {delimiter: peeked[-1].count(delimiter) for delimiter in _DELIMITERS}
            found = max(counts, key=lambda delimiter: counts[delimiter])
            return (found if counts[found] else _DELIMITERS[0]), chain(peeked, remaining)
    return _DELIMITERS[0], chain(peeked, remaining)


class ObligationsReader:
    """The rows of an obligations CSV as they are read: a file too big to hold is never held.

    Iterating yields each good row, in file order, until the first problem; then reading goes on to
    the end without yielding, so that every problem is found, and ``CsvImportError`` lists them all.
    A caller writing rows as they come does it in a transaction that the error rolls back.
    ``currency`` is what an empty or missing currency cell means (the account's base currency);
    without it the column is needed. What stays in memory is one key per row (to refuse a row
    repeated anywhere in the file) and one entry per counterparty (to refuse rows that disagree).

        for row in ObligationsReader(open("obligations.csv", newline="", encoding="utf-8-sig"), currency="USD"):
            ...
    """

    def __init__(self, lines: Iterable[str], *, currency: str | None = None) -> None:
        self._lines = lines
        self._currency = currency

    def __iter__(self) -> Iterator[ObligationRow]:
        delimiter, lines = _delimited(self._lines)
        reader = csv.reader(lines, delimiter=delimiter)
        required = REQUIRED_COLUMNS if self._currency is not None else (*REQUIRED_COLUMNS, "currency")
        errors: list[CsvFieldError] = []
        rows = 0
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
                    problem = _header_problem(cells, required)
                    if problem:
                        raise CsvImportError([CsvFieldError(line, "", problem)])
                    columns = [cell.strip().lower() for cell in cells]
                    continue
                if len(cells) != len(columns):
                    hint = ""
                    if len(cells) > len(columns) and any(cell.strip().upper().startswith(("FREQ=", "RRULE:")) for cell in cells):
                        hint = ' (put an RRULE with commas in double quotes, like "FREQ=WEEKLY;BYDAY=MO,FR")'
                    elif any("\n" in cell or "\r" in cell for cell in cells):  # a quoted cell ran on past its line's end
                        hint = " (a double quote on this line is not closed where its cell ends; close it or take it out)"
                    count = f"{len(cells)} cell{'s' if len(cells) != 1 else ''}"
                    errors.append(CsvFieldError(line, "", f"this row has {count}; the header has {len(columns)}{hint}"))
                    continue
                row = _read_row(line, dict(zip(columns, (cell.strip() for cell in cells), strict=True)), errors, self._currency)
                if row is None or not _consistent(row, errors, first_line_of_key, flexibility_of_vendor, said_of):
                    continue
                rows += 1
                if not errors:
                    yield row
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                problem = (f"a cell is longer than {csv.field_size_limit():,} characters, far more than any column takes "
                           "(a double quote that is never closed makes the rest of the file one cell)")
            else:
                problem = f"the file isn't valid CSV ({exc}); check its quotes"
            errors.append(CsvFieldError(reader.line_num, "", problem))
        if columns is None and not errors:
            errors.append(CsvFieldError(1, "", f"the file is empty; the first line must be the header {','.join(HEADER)}"))
        elif not rows and not errors:
            errors.append(CsvFieldError(last_line or 1, "", "the file has a header but no obligations below it"))
        if errors:
            raise CsvImportError(errors)


def _consistent(
    row: ObligationRow,
    errors: list[CsvFieldError],
    first_line_of_key: dict[str, int],
    flexibility_of_vendor: dict[str, tuple[str, int]],
    said_of: dict[tuple[str, bool, str], tuple[str, int]],
) -> bool:
    """Whether the row agrees with the rows above it: not one of them again, and one flexibility,
    email and contact name per counterparty; a problem is added to ``errors`` otherwise."""
    line = row.line
    earlier = first_line_of_key.setdefault(row.import_key, line)
    if earlier != line:
        errors.append(CsvFieldError(line, "", f"this row repeats line {earlier}; merge them into one row"))
        return False
    if row.flexibility is not None:
        said = flexibility_of_vendor.setdefault(row.counterparty.casefold(), (row.flexibility, line))
        if said[0] != row.flexibility:
            errors.append(CsvFieldError(
                line, "flexibility", f"line {said[1]} says {said[0]} for {row.counterparty}; give a vendor one flexibility"
            ))
            return False
    disagreements = []
    for column, value in (("email", row.email), ("contact_name", row.contact_name)):
        if value is None:
            continue
        said = said_of.setdefault((column, row.is_client, row.counterparty.casefold()), (value, line))
        if said[0] != value:
            disagreements.append(CsvFieldError(
                line, column, f"line {said[1]} says {said[0]} for {row.counterparty}; give a {'client' if row.is_client else 'vendor'} one {column.replace('_', ' ')}"
            ))
    errors.extend(disagreements)
    return not disagreements


def parse_obligations_csv(text: str, *, currency: str | None = None) -> list[ObligationRow]:
    """Every row of the file, or ``CsvImportError`` listing every problem (nothing half-read)."""
    return list(ObligationsReader(io.StringIO(text, newline=""), currency=currency))

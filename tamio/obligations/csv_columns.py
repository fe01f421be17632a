"""The columns of the obligations CSV: which are needed, what each means, what each accepts.

Why one list: the parser (``csv_format``) checks the header against it and ``tamio import
obligations --help`` prints it, so the help never names a column or a value the import refuses, and
a value the import takes is never missing from the help. The kinds are the words ``/tamio add``
takes in Slack (``KIND_WORDS``): a client is revenue, a vendor an expense, in the file as in Slack.

    >>> [c.name for c in COLUMNS if c.required]
    ['counterparty', 'kind', 'amount', 'frequency', 'start_date']
    >>> kind_of("Vendor")
    'expense'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import holidays

from tamio.limits import MAX_INVOICE
from tamio.obligations.recurrence import BusinessDayConvention, Frequency
from tamio.obligations.schemas import KIND_WORDS

# The full header as the import has always written it (what an export of every column looks like).
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
OPTIONAL_HEADER: Final = ("flexibility", "email", "contact_name", "invoice")
ALL_COLUMNS: Final = HEADER + OPTIONAL_HEADER
KINDS: Final = ("revenue", "expense", "payroll", "tax")
FLEXIBILITY_LEVELS: Final = ("can_delay", "negotiable", "cannot_delay")
NAMED_FREQUENCIES: Final = tuple(f for f in Frequency if f is not Frequency.CUSTOM)
BUSINESS_DAY_RULES: Final = tuple(c.value for c in BusinessDayConvention if c is not BusinessDayConvention.NONE)


def kind_of(word: str) -> str | None:
    """The kind a word names (``client`` -> ``revenue``), or None for a word that names none."""
    kind = KIND_WORDS.get(word.strip().lower())
    return kind.value if kind is not None else None


def kind_words(kind: str) -> tuple[str, ...]:
    """The other words for ``kind`` (``revenue`` -> client, customer, income)."""
    return tuple(sorted(word for word, named in KIND_WORDS.items() if named.value == kind and word != kind))


def calendar_codes() -> tuple[str, ...]:
    """Every two-letter country code a ``calendar`` cell may name (three-letter ISO codes work too)."""
    return tuple(sorted(code for code in holidays.list_supported_countries() if len(code) == 2))


@dataclass(frozen=True)
class Column:
    name: str
    required: bool
    meaning: str
    accepts: str  # every value it takes, or the form of them


def _kinds_accepted() -> str:
    return "; ".join(f"{kind} (or {', '.join(kind_words(kind))})" for kind in KINDS)


COLUMNS: Final = (
    Column("counterparty", True, "who pays you or whom you pay; rows with one name (ignoring case and spaces) are one client or vendor",
           "a name of 1 to 200 characters"),
    Column("kind", True, "which way the money goes and what it is", _kinds_accepted()),
    Column("amount", True, "what each payment is, in the row's currency", "more than zero, like 1200 or 1,200.50, "
           "with at most the currency's decimal places, up to 1,000,000,000,000"),
    Column("frequency", True, "how often it falls due",
           f"{', '.join(f.value for f in NAMED_FREQUENCIES)}, or an RRULE such as FREQ=MONTHLY;BYMONTHDAY=1 "
           '(in double quotes when it has commas: "FREQ=WEEKLY;BYDAY=MO,FR")'),
    Column("start_date", True, "where the schedule begins (a one-off's due date; it may be in the past)", "a date as YYYY-MM-DD"),
    Column("currency", False, "the amount's currency", "an ISO code in circulation such as USD, EUR or GBP; "
           "empty or left out: the account's base currency"),
    Column("end_date", False, "the last day the schedule may fall on", "a date as YYYY-MM-DD, on or after start_date; empty: no end"),
    Column("day", False, "the day of the month (monthly, quarterly and annual rows)",
           "1 to 31, or -1 or last for the month's last day; empty: the start date's day"),
    Column("business_day", False, "where a due date on a weekend or holiday moves",
           f"{', '.join(BUSINESS_DAY_RULES)}; empty or none: it stays"),
    Column("calendar", False, "whose public holidays are not business days", "a country code listed below; empty: weekends only"),
    Column("flexibility", False, "whether a vendor's payments may move when cash runs short (vendors only)",
           f"{', '.join(FLEXIBILITY_LEVELS)}; empty: leave it as it is"),
    Column("email", False, "whom follow-up emails go to at the client or vendor", "one address like ap@acme.example; empty: leave it as it is"),
    Column("contact_name", False, "the person at the client or vendor", "a name like Jane Doe, up to 200 characters; empty: leave it as it is"),
    Column("invoice", False, "the invoice's (or bill's) number, what `tamio paid \"Acme\" 5000 --for INV-1042` matches (once rows only)",
           f"a number like INV-1042, up to {MAX_INVOICE} characters, one the client or vendor does not have yet; empty: none"),
)
REQUIRED_COLUMNS: Final = tuple(c.name for c in COLUMNS if c.required)

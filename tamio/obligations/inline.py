"""The one-line way to say an obligation: ``client "Acme" 5000 EUR monthly on -1 from 2026-12-01``.

Pure: no database, no Slack. ``today`` and the account's base currency are arguments. Every edge
that takes an obligation as a line of words reads it here (``/tamio add``, the what-if
``--what-if 'expense "New hire" 8000 monthly from 2027-03-01'``), so the words and the messages are
the same everywhere. Dates are ``tamio.dates.read_day``'s: ISO, ``today``, or month words (``from March``,
``from 15 March``). Anything wrong raises ``ValidationError`` saying what was wrong (and, where it
helps, a hint); the edge wraps it in its own wording (Slack adds the usage and an example).

    parse_add(split_words('expense "AWS" 1200 USD monthly on 15'), today=date(2026, 11, 30), base_currency="USD")
    -> AddObligation(kind='expense', name='AWS', amount=Decimal('1200'), currency='USD', ...)
"""

from __future__ import annotations

import re
import shlex
from datetime import date, timedelta
from typing import Final

from tamio.dates import read_day, take_day
from tamio.errors import TamioError, ValidationError
from tamio.money import normalize_currency, parse_amount
from tamio.obligations.adding import AddObligation
from tamio.obligations.business_days import check_calendar
from tamio.obligations.models import ObligationType
from tamio.obligations.recurrence import BusinessDayConvention, Frequency
from tamio.obligations.schemas import KIND_WORDS, RecurrenceSpec

SYNTAX: Final = (
    'client|expense|payroll|tax "Name" AMOUNT [CURRENCY] [FREQUENCY] [on DAY] [from DATE] [until DATE] [following|preceding]'
    ' | client "Name" invoice AMOUNT [CURRENCY] [due DATE] [ref NUMBER]'
)
# The core's words for each kind (the CSV import's ``kind`` column reads the same), as this syntax's kinds.
KIND_ALIASES: Final = {word: "client" if kind is ObligationType.REVENUE else kind.value for word, kind in KIND_WORDS.items()}
FREQUENCY_ALIASES: Final = {
    "once": Frequency.ONCE, "one-off": Frequency.ONCE, "weekly": Frequency.WEEKLY, "biweekly": Frequency.BIWEEKLY,
    "fortnightly": Frequency.BIWEEKLY, "semimonthly": Frequency.SEMIMONTHLY, "semi-monthly": Frequency.SEMIMONTHLY,
    "monthly": Frequency.MONTHLY, "quarterly": Frequency.QUARTERLY, "annually": Frequency.ANNUALLY,
    "yearly": Frequency.ANNUALLY,
}
CONVENTION_ALIASES: Final = {
    "following": BusinessDayConvention.FOLLOWING, "preceding": BusinessDayConvention.PRECEDING,
    "modified_following": BusinessDayConvention.MODIFIED_FOLLOWING, "modified-following": BusinessDayConvention.MODIFIED_FOLLOWING,
}
WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SMART_QUOTES: Final = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "«": '"', "»": '"'})


def split_words(text: str) -> list[str]:
    """Words, with quotes grouping them (``shlex``); the curly quotes chat clients type read as straight ones."""
    try:
        return shlex.split(text.translate(SMART_QUOTES))
    except ValueError as exc:
        reason = "a quote is not closed" if "quotation" in str(exc) else "a backslash is at the very end"
        raise ValidationError(f"I couldn't read that: {reason}.", hint="Put names in straight double quotes.") from exc


def read_kind(word: str) -> str:
    """``client``, ``expense``, ``payroll`` or ``tax`` from any of their aliases (``revenue``, ``vendor``, ...)."""
    kind = KIND_ALIASES.get(word.lower())
    if kind is None:
        raise ValidationError(f"`{word[:40]}` is not something I can add.", hint="Say `client`, `expense`, `payroll` or `tax`.")
    return kind


def read_day_word(token: str, today: date) -> date:
    """A date, ``today`` / ``tomorrow`` / ``yesterday``, or month words (``tamio.dates.read_day``; past dates taken)."""
    return read_day(token, today=today)


KEYWORDS: Final = frozenset({"on", "from", "starting", "due", "until", "to", "holidays", "ref", "for", "invoice"})


def looks_like_currency(token: str) -> bool:
    return len(token) == 3 and token.isalpha() and token.lower() not in FREQUENCY_ALIASES and token.lower() not in KEYWORDS


def parse_add(words: list[str], *, today: date, base_currency: str) -> AddObligation:
    """``KIND "Name" AMOUNT [CURRENCY] [FREQUENCY] [on DAY] [from DATE] [until DATE] [CONVENTION] [holidays CAL]``,
    or an invoice: ``KIND "Name" invoice AMOUNT [CURRENCY] [due DATE] [ref NUMBER]`` (a one-off, due today
    unless ``due`` says otherwise; a date past is an invoice already overdue)."""
    if not words:
        raise ValidationError("I need what to add, a name in quotes and an amount.")
    kind = read_kind(words[0])
    invoice = len(words) > 2 and words[2].lower() == "invoice"
    rest = words[3:] if invoice else words[2:]
    if len(words) < 2 or not rest:
        raise ValidationError("I need a name in quotes and an amount." if not invoice else "I need the invoice's amount after `invoice`.")
    name, amount_token, rest = words[1].strip(), rest[0], rest[1:]
    if not name:
        raise ValidationError("The name is empty.")
    currency: str | None = None
    if rest and looks_like_currency(rest[0]):
        currency = normalize_currency(rest[0])
        rest = rest[1:]
    currency = currency or base_currency
    amount = parse_amount(amount_token, currency=currency)
    frequency = Frequency.ONCE if invoice else Frequency.MONTHLY
    day: int | None = None
    weekday: int | None = None
    last_business_day = False
    start: date | None = None
    end: date | None = None
    ref: str | None = None
    convention = BusinessDayConvention.NONE
    calendar: str | None = None
    takes_word = KEYWORDS - {"for", "invoice"}
    i = 0
    while i < len(rest):
        word = rest[i].lower()
        following = rest[i + 1] if i + 1 < len(rest) else None
        if word in FREQUENCY_ALIASES:
            if invoice and FREQUENCY_ALIASES[word] != Frequency.ONCE:
                raise ValidationError(f"An invoice is paid once, not `{rest[i]}`.",
                                      hint="Leave out `invoice` for an amount that recurs.")
            frequency = FREQUENCY_ALIASES[word]
        elif word in CONVENTION_ALIASES:
            convention = CONVENTION_ALIASES[word]
        elif word in takes_word and following is None:
            raise ValidationError(f"`{word}` needs something after it.")
        elif word == "on":
            day, weekday, last_business_day = read_on(str(following))
            i += 1
        elif word in ("from", "starting", "due", "until", "to"):
            # month words may take up to three: ``from March``, ``from 15 March``, ``until March 15 2027``
            day_read, taken = take_day(rest[i + 1:], today=today)
            if word in ("until", "to"):
                end = day_read
            else:
                start = day_read
            i += taken
        elif word == "ref":
            ref = str(following)
            i += 1
        elif word == "holidays":
            try:
                calendar = check_calendar(following)
            except TamioError as exc:
                raise ValidationError(exc.message) from exc
            i += 1
        elif looks_like_currency(word):
            raise ValidationError(f"`{rest[i]}` is in the wrong place.", hint="The currency comes right after the amount.")
        else:
            raise ValidationError(f"I don't understand `{rest[i][:40]}`.")
        i += 1
    start = start or today
    if weekday is not None:
        if frequency not in (Frequency.WEEKLY, Frequency.BIWEEKLY):
            raise ValidationError("A weekday applies to weekly and biweekly schedules only.")
        start = start + timedelta(days=(weekday - start.weekday()) % 7)
    spec = RecurrenceSpec(frequency=frequency, start_date=start, end_date=end, day=day, convention=convention,
                          calendar=calendar, last_business_day=last_business_day)
    return AddObligation.read({"kind": kind, "name": name, "amount": amount, "currency": currency, "recurrence": spec,
                               "invoice": ref}, today=today)


def read_on(token: str) -> tuple[int | None, int | None, bool]:
    """``on 15``, ``on -1`` / ``on last``, ``on last-business-day``, ``on fri``: (day, weekday, last business day)."""
    lowered = token.lower()
    if lowered in ("last", "end"):
        return -1, None, False
    if lowered in ("last-business-day", "last_business_day", "lbd"):
        return None, None, True
    if lowered[:3] in WEEKDAYS and lowered.isalpha():
        return None, WEEKDAYS.index(lowered[:3]), False
    if re.fullmatch(r"-?\d{1,2}", lowered) and (1 <= int(lowered) <= 31 or int(lowered) == -1):
        return int(lowered), None, False
    raise ValidationError(f"`on {token[:20]}` is not a day I can use.", hint="Use 1 to 31, -1 (or `last`) for the last day, or a weekday.")

"""The one date reader: Slack, the CLI, the CSV import and the REST API read a typed date here, with one set of messages.

    read_date("2026-12-01")    # date(2026, 12, 1)
    read_date("2027-02-31")    # ValidationError: 2027-02-31 is not a date on the calendar; check the month and day.
    read_date("12/01/2026")    # ValidationError: I couldn't read '12/01/2026' as a date; write it as YYYY-MM-DD, like 2026-12-01.

``read_day`` reads the add and what-if syntax's dates: the same ISO dates, ``today``/``tomorrow``/``yesterday``,
and month words. A month without a year is the next such month on or after today's, in this month only where
the syntax takes past dates (``/tamio add`` and its what-if lines, which may start in arrears), else next
year's; with a day the same, and a day already past this month is next year's where past dates are refused.
On 2026-12-06: ``March`` = 2027-03-01; ``december`` = 2026-12-01 (past dates taken) or 2027-12-01 (not);
``mar 15`` / ``15 March`` = 2027-03-15; ``March 2026`` = 2026-03-01. Files (the CSV import) and flags
stay strict ISO: ``read_date``.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from functools import lru_cache
from typing import Final

from tamio.errors import ValidationError

FIRST_DAY: Final = date(1900, 1, 1)
LAST_DAY: Final = date(2199, 12, 31)
EXAMPLE: Final = "2026-12-01"
_ISO: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DAY_WORDS: Final = {"today": 0, "tomorrow": 1, "yesterday": -1}
MONTH_NAMES: Final = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
                      "october", "november", "december")
MONTHS: Final = {**{name: i for i, name in enumerate(MONTH_NAMES, 1)}, **{name[:3]: i for i, name in enumerate(MONTH_NAMES, 1)},
                 "sept": 9}
SPOKEN_EXAMPLE: Final = "March or 15 March"
_MONTH: Final = "(?P<month>[a-z]+)"
_DAY: Final = "(?P<day>[0-9]{1,2})(?:st|nd|rd|th)?"
_YEAR: Final = "(?P<year>[0-9]{4})"
_SPOKEN: Final = tuple(re.compile(pattern) for pattern in (
    f"{_MONTH}(?: {_YEAR})?",              # March, March 2027
    f"{_DAY} {_MONTH}(?: {_YEAR})?",       # 15 March, 15th March 2027
    f"{_MONTH} {_DAY}(?:,? {_YEAR})?",     # March 15, March 15, 2027
))
MAX_SPOKEN_WORDS: Final = 3


def read_date(text: str, *, field: str = "date", what: str = "The date", spoken: bool = False) -> date:
    """A strict ISO date (``spoken`` only adds month words to the message, for ``read_day``)."""
    raw = (text or "").strip()
    if not raw:
        raise ValidationError(f"{what} is empty; write it like {EXAMPLE}.", field_errors={field: f"write it like {EXAMPLE}"})
    shown = raw if len(raw) <= 40 else raw[:39] + "…"
    if not _ISO.fullmatch(raw):
        raise _unreadable(shown, field=field, spoken=spoken)
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise ValidationError(f"{raw} is not a date on the calendar; check the month and day.",
                              field_errors={field: "not a date on the calendar"}) from None
    return check_date(day, field=field)


def _unreadable(shown: str, *, field: str, spoken: bool) -> ValidationError:
    """The one message for a date that can't be read; the syntax that takes month words says so."""
    also = f", or a month, like {SPOKEN_EXAMPLE}" if spoken else ""
    return ValidationError(f"I couldn't read '{shown}' as a date; write it as YYYY-MM-DD, like {EXAMPLE}{also}.",
                           field_errors={field: f"write it like {EXAMPLE}{also}"})


def read_day(text: str, *, today: date, past_ok: bool = True, field: str = "date", what: str = "The date") -> date:
    """A date as the add and what-if syntax takes it: ISO, ``today``/``tomorrow``/``yesterday``, or month words
    (the module's rule). ``past_ok`` says whether the syntax takes a date before today."""
    words = " ".join((text or "").lower().split())
    if words in DAY_WORDS:
        return check_date(today + timedelta(days=DAY_WORDS[words]), field=field)
    day = spoken_day(words, today=today, past_ok=past_ok, field=field)
    return day if day is not None else read_date(text, field=field, what=what, spoken=True)


def take_day(words: list[str], *, today: date, past_ok: bool = True, field: str = "date") -> tuple[date, int]:
    """The date that ``words`` start with, and how many words it took: ``March 15 monthly`` is 2027-03-15 and 2."""
    for count in range(min(MAX_SPOKEN_WORDS, len(words)), 1, -1):
        day = spoken_day(" ".join(words[:count]).lower(), today=today, past_ok=past_ok, field=field)
        if day is not None:
            return day, count
    return read_day(words[0] if words else "", today=today, past_ok=past_ok, field=field), 1


def spoken_day(words: str, *, today: date, past_ok: bool, field: str = "date") -> date | None:
    """Month words (lower case, single spaces) as a date, or None when they aren't month words at all;
    a day the month doesn't have is refused."""
    for pattern in _SPOKEN:
        found = pattern.fullmatch(words)
        if found is None or found["month"] not in MONTHS:
            continue
        month, parts = MONTHS[found["month"]], found.groupdict()
        day = int(parts.get("day") or 1)
        if parts.get("year"):
            year = max(int(parts["year"]), 1)  # year 0 is refused as too far away, like any other
        else:
            later = (month, day) > (today.month, today.day)
            this_month = month == today.month and (past_ok or day >= today.day)
            year = today.year if later or this_month else today.year + 1
        try:
            return check_date(date(year, month, day), field=field)
        except ValueError:
            name = MONTH_NAMES[month - 1].capitalize()
            raise ValidationError(f"{name} {year} has no day {day}; check the day.",
                                  field_errors={field: "not a date on the calendar"}) from None
    return None


def check_date(day: date, *, field: str = "date") -> date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValidationError(f"{day.isoformat()} is too far away; use a date from {FIRST_DAY.year} to {LAST_DAY.year}.",
                              field_errors={field: f"a date from {FIRST_DAY.year} to {LAST_DAY.year}"})
    return day


def day_text(day: date, *, year: bool = False) -> str:
    """The one way text writes a date: ``Mon 7 Dec`` (``Mon 7 Dec 2026`` with the year), never ``07 Dec``;
    a week is ``the week of Mon 7 Dec``. Slack's ``day_label`` says the same in the account's locale."""
    return _day_text(day) + (f" {day.year}" if year else "")


@lru_cache(maxsize=4096)
def _day_text(day: date) -> str:
    # Each day written once: a detection run writes thousands of dates, most of them the same few weeks'.
    return f"{day:%a} {day.day} {day:%b}"

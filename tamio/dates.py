"""The one date reader: Slack, the CLI, the CSV import and the REST API read a typed date here, with one set of messages.

    read_date("2026-12-01")    # date(2026, 12, 1)
    read_date("2027-02-31")    # ValidationError: 2027-02-31 is not a date on the calendar; check the month and day.
    read_date("12/01/2026")    # ValidationError: I couldn't read '12/01/2026' as a date; write it as YYYY-MM-DD, like 2026-12-01.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Final

from tamio.errors import ValidationError

FIRST_DAY: Final = date(1900, 1, 1)
LAST_DAY: Final = date(2199, 12, 31)
EXAMPLE: Final = "2026-12-01"
_ISO: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def read_date(text: str, *, field: str = "date", what: str = "The date") -> date:
    raw = (text or "").strip()
    if not raw:
        raise ValidationError(f"{what} is empty; write it like {EXAMPLE}.", field_errors={field: f"write it like {EXAMPLE}"})
    shown = raw if len(raw) <= 40 else raw[:39] + "…"
    if not _ISO.fullmatch(raw):
        raise ValidationError(f"I couldn't read '{shown}' as a date; write it as YYYY-MM-DD, like {EXAMPLE}.", field_errors={field: f"write it like {EXAMPLE}"})
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise ValidationError(f"{raw} is not a date on the calendar; check the month and day.",
                              field_errors={field: "not a date on the calendar"}) from None
    return check_date(day, field=field)


def check_date(day: date, *, field: str = "date") -> date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValidationError(f"{day.isoformat()} is too far away; use a date from {FIRST_DAY.year} to {LAST_DAY.year}.",
                              field_errors={field: f"a date from {FIRST_DAY.year} to {LAST_DAY.year}"})
    return day


def day_text(day: date, *, year: bool = False) -> str:
    """The one way text writes a date: ``Mon 7 Dec`` (``Mon 7 Dec 2026`` with the year), never ``07 Dec``;
    a week is ``the week of Mon 7 Dec``. Slack's ``day_label`` says the same in the account's locale."""
    return f"{day:%a} {day.day} {day:%b}" + (f" {day.year}" if year else "")

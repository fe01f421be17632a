"""Business days: holiday calendars and the conventions that move a due date off a weekend or holiday.

Split from ``tamio.obligations.recurrence`` (RRULE schedules and their occurrences) because this
is the calendar half of "when does it fall due": which days are business days (never Saturday or
Sunday, and not a holiday of the obligation's calendar, a country code of the ``holidays``
package, loaded once per (country, year)), and where following, preceding and modified following
move a date. ``RecurrenceError`` lives here, the lowest module that raises it; ``recurrence``
re-exports it and ``BusinessDayConvention``, which most code imports from there.
"""

from __future__ import annotations

from datetime import date, timedelta
from enum import Enum
from functools import lru_cache
from typing import Final

from tamio.errors import ValidationError


class RecurrenceError(ValidationError, ValueError):
    """A schedule the business can fix; ``field`` names the input that was wrong."""

    title = "Invalid schedule"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message, field_errors={field: message} if field else None)
        self.field = field


class BusinessDayConvention(str, Enum):
    NONE = "none"
    FOLLOWING = "following"
    PRECEDING = "preceding"
    MODIFIED_FOLLOWING = "modified_following"


# The furthest a convention may move a date; windows are widened by this much to catch rule dates
# just outside them whose due date falls inside.
MAX_SHIFT_DAYS: Final = 21


@lru_cache(maxsize=1)
def _supported_calendars() -> frozenset[str]:
    import holidays  # start-up cost: only rules with a calendar need it

    return frozenset(holidays.list_supported_countries())


def check_calendar(code: str | None) -> str | None:
    """The holiday calendar in upper case, None for none; refuses codes ``holidays`` doesn't know."""
    if code is None or not code.strip():
        return None
    value = code.strip().upper()
    if value not in _supported_calendars():
        raise RecurrenceError(
            f"unknown holiday calendar '{code}'; use a country code such as US, GB or DE", field="calendar"
        )
    return value


@lru_cache(maxsize=4096)
def _holiday_dates(calendar: str, year: int) -> frozenset[date]:
    import holidays  # start-up cost

    return frozenset(holidays.country_holidays(calendar, years=year).keys())


def _is_business_day(day: date, calendar: str | None) -> bool:
    if day.weekday() >= 5:
        return False
    return calendar is None or day not in _holiday_dates(calendar, day.year)


def is_business_day(d: date, calendar: str | None) -> bool:
    return _is_business_day(d, check_calendar(calendar))


def _step_to_business_day(day: date, direction: int, calendar: str | None) -> date:
    for shift in range(1, MAX_SHIFT_DAYS + 1):
        candidate = day + timedelta(days=direction * shift)
        if _is_business_day(candidate, calendar):
            return candidate
    raise RecurrenceError(f"there is no business day within {MAX_SHIFT_DAYS} days of {day.isoformat()}")


def _adjust(day: date, convention: BusinessDayConvention, calendar: str | None) -> date:
    if convention is BusinessDayConvention.NONE or _is_business_day(day, calendar):
        return day
    if convention is BusinessDayConvention.PRECEDING:
        return _step_to_business_day(day, -1, calendar)
    following = _step_to_business_day(day, 1, calendar)
    if convention is BusinessDayConvention.MODIFIED_FOLLOWING and following.month != day.month:
        return _step_to_business_day(day, -1, calendar)
    return following


def adjust_business_day(d: date, convention: BusinessDayConvention | str, calendar: str | None) -> date:
    """Move ``d`` to a business day by the convention (modified following stays in the month)."""
    return _adjust(d, BusinessDayConvention(convention), check_calendar(calendar))

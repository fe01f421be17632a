"""When obligations fall due: RRULE schedules, business-day conventions and holiday calendars.

Why: a forecast is only as good as its dates. Rent on the 31st must land on 28 February, not skip
the month; payroll that falls on a bank holiday moves to the business day before or after; and a
forecast over 10,000 obligations must come back in well under a second. A schedule is stored as a
standard RFC 5545 RRULE (without DTSTART) plus a start date, a business-day convention and an
optional holiday calendar (a country code of the ``holidays`` package); dateutil does the calendar
work. Weekends (Saturday and Sunday) are never business days.

    >>> rule = build_rrule(Frequency.MONTHLY, start=date(2026, 1, 31))
    >>> rule
    'FREQ=MONTHLY;BYMONTHDAY=-1'
    >>> rent = Recurrence(rule, date(2026, 1, 31), BusinessDayConvention.PRECEDING, "US")
    >>> [o.due_date.isoformat() for o in rent.occurrences(date(2026, 1, 1), date(2026, 3, 31))]
    ['2026-01-30', '2026-02-27', '2026-03-31']

Day ``d`` of a month: 31 (or -1) is the month's last day; 29 and 30 are clamped to a shorter
month's last day (``BYMONTHDAY=30,-1;BYSETPOS=1``); no month is ever skipped. An annual date of
29 February is 28 February in other years. Speed comes from caches: rules are parsed once per
text, holidays are loaded once per (country, year), and the rule dates of a window are computed
once per (rule, aligned start, window) after moving the start forward by whole periods. Business
days (holiday calendars and the conventions) are ``tamio.obligations.business_days``.
"""

from __future__ import annotations

import calendar as calendar_module
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import Enum
from functools import lru_cache
from types import MappingProxyType
from typing import Final

from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrule, rrulestr

from tamio.obligations.business_days import MAX_SHIFT_DAYS, _adjust, check_calendar

# BusinessDayConvention and RecurrenceError are imported from here in many places: re-exported.
from tamio.obligations.business_days import BusinessDayConvention as BusinessDayConvention
from tamio.obligations.business_days import RecurrenceError as RecurrenceError


class Frequency(str, Enum):
    ONCE = "once"
    WEEKLY = "weekly"
    BIWEEKLY = "biweekly"
    SEMIMONTHLY = "semimonthly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    ANNUALLY = "annually"
    CUSTOM = "custom"  # a raw RRULE


@dataclass(frozen=True, slots=True)
class Occurrence:
    rule_date: date  # the date the rule gives
    due_date: date  # after the business-day convention


WEEKDAY_CODES: Final = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_DAY_SELECTORS: Final = frozenset({"BYMONTHDAY", "BYDAY", "BYYEARDAY", "BYWEEKNO", "BYEASTER"})
_SUB_DAILY: Final = frozenset({"HOURLY", "MINUTELY", "SECONDLY", "BYHOUR", "BYMINUTE", "BYSECOND"})
_PLACEHOLDER_START: Final = datetime(2000, 1, 1)
_SLACK: Final = {
    BusinessDayConvention.NONE: (0, 0),
    BusinessDayConvention.FOLLOWING: (MAX_SHIFT_DAYS, 0),
    BusinessDayConvention.PRECEDING: (0, MAX_SHIFT_DAYS),
    BusinessDayConvention.MODIFIED_FOLLOWING: (MAX_SHIFT_DAYS, MAX_SHIFT_DAYS),
}
_DAY_MESSAGE: Final = "day must be between 1 and 31, or -1 for the month's last day"


# -- parsing and building rules -----------------------------------------------------------------


def normalise_rrule(text: str) -> str:
    """Upper-case, trimmed, without the ``RRULE:`` prefix or empty parts."""
    value = text.strip().upper()
    value = value.removeprefix("RRULE:").strip()
    return ";".join(part.strip() for part in value.split(";") if part.strip())


@lru_cache(maxsize=4096)
def _parse(text: str) -> tuple[rrule, MappingProxyType[str, str]]:
    """The parsed rule (with a placeholder start) and its parts, once per rule text."""
    if "DTSTART" in text or "\n" in text:
        raise RecurrenceError("leave DTSTART out of the rule; the start date says when it begins", field="rrule")
    parts: dict[str, str] = {}
    for chunk in text.split(";"):
        key, sep, value = chunk.partition("=")
        if not sep or not value or key in parts:
            raise RecurrenceError(f"I couldn't read '{chunk}' in the rule '{text}'; write KEY=VALUE parts", field="rrule")
        parts[key] = value
    if parts.get("FREQ") in _SUB_DAILY or _SUB_DAILY & parts.keys():
        raise RecurrenceError("obligations fall due on days; use FREQ=DAILY, WEEKLY, MONTHLY or YEARLY", field="rrule")
    if "FREQ" not in parts:
        raise RecurrenceError(f"the rule '{text}' needs a FREQ, like FREQ=MONTHLY", field="rrule")
    if "COUNT" in parts and "UNTIL" in parts:
        raise RecurrenceError("give the rule an UNTIL or a COUNT, not both", field="rrule")
    try:
        parsed = rrulestr(text, dtstart=_PLACEHOLDER_START, ignoretz=True)
    except (ValueError, TypeError, KeyError) as exc:
        raise RecurrenceError(f"I couldn't read the rule '{text}': {exc}", field="rrule") from exc
    if not isinstance(parsed, rrule):  # pragma: no cover - a single RRULE line always gives an rrule
        raise RecurrenceError(f"I couldn't read the rule '{text}'", field="rrule")
    return parsed, MappingProxyType(parts)


def _month_day_parts(day: int) -> str:
    """BYMONTHDAY for day ``day`` of every month, never skipping a shorter month."""
    if day in (-1, 31):
        return "BYMONTHDAY=-1"
    if day <= 28:
        return f"BYMONTHDAY={day}"
    return f"BYMONTHDAY={day},-1;BYSETPOS=1"  # the day itself, or the last day of a shorter month


def build_rrule(
    frequency: Frequency,
    *,
    start: date,
    day: int | None = None,
    interval: int = 1,
    end: date | None = None,
    count: int | None = None,
    last_business_day: bool = False,
) -> str:
    """The RRULE (without DTSTART) for a schedule starting at ``start``.

    ``day`` is a day of the month (1..31, -1 = last day) for monthly, quarterly and annual schedules,
    the start's day when None. ``interval`` multiplies the period: biweekly with 2 is every 4 weeks.
    """
    frequency = Frequency(frequency)
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
        raise RecurrenceError("interval must be a whole number of 1 or more", field="interval")
    if count is not None and (isinstance(count, bool) or count < 1):
        raise RecurrenceError("count must be 1 or more", field="count")
    if end is not None and count is not None:
        raise RecurrenceError("give an end date or a number of payments, not both", field="end")
    if end is not None and end < start:
        raise RecurrenceError(f"the end date {end.isoformat()} is before the start date {start.isoformat()}", field="end")
    if day is not None and (isinstance(day, bool) or not (1 <= day <= 31 or day == -1)):
        raise RecurrenceError(_DAY_MESSAGE, field="day")
    by_day_of_month = {Frequency.MONTHLY, Frequency.QUARTERLY, Frequency.ANNUALLY}
    if day is not None and frequency not in by_day_of_month:
        raise RecurrenceError(
            "day applies only to monthly, quarterly and annual schedules; leave it empty", field="day"
        )
    if last_business_day and frequency not in by_day_of_month:
        raise RecurrenceError(
            "the last business day applies only to monthly, quarterly and annual schedules", field="last_business_day"
        )
    if last_business_day and day is not None:
        raise RecurrenceError("give a day or the last business day, not both", field="day")
    if frequency is Frequency.CUSTOM:
        raise RecurrenceError("a custom schedule is an RRULE; write it with custom_rrule()", field="frequency")

    if frequency is Frequency.ONCE:
        if interval != 1 or (count or 1) != 1 or (end is not None and end != start):
            raise RecurrenceError("a one-off obligation has no end date, count or interval", field="end")
        return "FREQ=DAILY;COUNT=1"

    wanted_day = start.day if day is None else day
    business_days = "BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"
    if frequency in (Frequency.WEEKLY, Frequency.BIWEEKLY):
        weeks = interval * (2 if frequency is Frequency.BIWEEKLY else 1)
        parts = ["FREQ=WEEKLY", f"INTERVAL={weeks}", f"BYDAY={WEEKDAY_CODES[start.weekday()]}"]
    elif frequency is Frequency.SEMIMONTHLY:
        parts = ["FREQ=MONTHLY", f"INTERVAL={interval}", "BYMONTHDAY=15,-1"]
    elif frequency in (Frequency.MONTHLY, Frequency.QUARTERLY):
        months = interval * (3 if frequency is Frequency.QUARTERLY else 1)
        on = business_days if last_business_day else _month_day_parts(wanted_day)
        parts = ["FREQ=MONTHLY", f"INTERVAL={months}", on]
    else:  # ANNUALLY, in the start's month
        # Past the month's shortest length (2001 is not a leap year) means its last day: 29 Feb is 28 Feb
        # in other years, 31 Apr is 30 Apr.
        shortest = calendar_module.monthrange(2001, start.month)[1]
        on_day = "BYMONTHDAY=-1" if wanted_day == -1 or wanted_day > shortest else f"BYMONTHDAY={wanted_day}"
        on = business_days if last_business_day else on_day
        parts = ["FREQ=YEARLY", f"INTERVAL={interval}", f"BYMONTH={start.month}", on]
    if count is not None:
        parts.append(f"COUNT={count}")
    if end is not None:
        parts.append(f"UNTIL={end:%Y%m%d}")
    text = ";".join(part for part in parts if part != "INTERVAL=1")
    if end is not None and Recurrence(text, start).first_occurrence() is None:
        raise RecurrenceError(
            f"there is no date between {start.isoformat()} and {end.isoformat()} on this schedule", field="end"
        )
    return text


def custom_rrule(text: str, *, start: date, end: date | None = None) -> str:
    """A business's own RRULE, checked and normalised; ``end`` (inclusive) becomes its UNTIL."""
    rule = normalise_rrule(text)
    if not rule:
        raise RecurrenceError("the rule is empty; write it like FREQ=MONTHLY;BYMONTHDAY=1", field="rrule")
    _, parts = _parse(rule)
    if end is not None:
        if end < start:
            raise RecurrenceError(f"the end date {end.isoformat()} is before the start date {start.isoformat()}", field="end")
        if "UNTIL" in parts or "COUNT" in parts:
            raise RecurrenceError("the rule already has an UNTIL or COUNT; leave the end date empty", field="end")
        rule = f"{rule};UNTIL={end:%Y%m%d}"
        _parse(rule)
    if Recurrence(rule, start).first_occurrence() is None:
        raise RecurrenceError(f"the rule '{rule}' gives no date on or after {start.isoformat()}", field="rrule")
    return rule


# -- occurrences ----------------------------------------------------------------------------------


def _aligned_start(parts: MappingProxyType[str, str], start: date, lower: date) -> date:
    """A later start that gives the same dates from ``lower`` on: whole periods after ``start``.

    dateutil walks every period from the start, so an obligation started years ago would cost years
    of iteration. Periods are counted from the start (weeks from its WKST week), and with COUNT the
    skipped dates matter, so only whole periods are skipped and only when the rule has no COUNT and
    names its days (otherwise dateutil takes the day from the start).
    """
    if "COUNT" in parts or lower <= start:
        return start
    freq = parts["FREQ"]
    interval = int(parts.get("INTERVAL", "1"))
    if freq == "DAILY":
        return start + timedelta(days=(lower - start).days // interval * interval)
    if not _DAY_SELECTORS & parts.keys():
        return start
    if freq == "WEEKLY":
        week_start_day = WEEKDAY_CODES.index(parts["WKST"]) if "WKST" in parts else calendar_module.firstweekday()
        week_start = start - timedelta(days=(start.weekday() - week_start_day) % 7)
        steps = (lower - week_start).days // (7 * interval)
        return week_start + timedelta(weeks=steps * interval) if steps > 0 else start
    if freq == "MONTHLY":
        steps = ((lower.year - start.year) * 12 + lower.month - start.month) // interval
        return start.replace(day=1) + relativedelta(months=steps * interval) if steps > 0 else start
    if freq == "YEARLY":
        steps = (lower.year - start.year) // interval
        return date(start.year + steps * interval, 1, 1) if steps > 0 else start
    return start


@lru_cache(maxsize=65536)
def _rule_dates(text: str, start: date, lower: date, upper: date) -> tuple[date, ...]:
    rule = _parse(text)[0].replace(dtstart=datetime.combine(start, time()))
    moments = rule.between(datetime.combine(lower, time()), datetime.combine(upper, time()), inc=True)
    return tuple(moment.date() for moment in moments)


@dataclass(frozen=True)
class Recurrence:
    """A stored schedule: the RRULE text, its start, and how to treat non-business days."""

    rrule: str
    start: date
    convention: BusinessDayConvention = BusinessDayConvention.NONE
    calendar: str | None = None

    def __post_init__(self) -> None:
        rule = normalise_rrule(self.rrule)
        _parse(rule)
        object.__setattr__(self, "rrule", rule)
        object.__setattr__(self, "convention", BusinessDayConvention(self.convention))
        object.__setattr__(self, "calendar", check_calendar(self.calendar))

    @property
    def parts(self) -> MappingProxyType[str, str]:
        return _parse(self.rrule)[1]

    def occurrences(self, window_start: date, window_end: date) -> list[Occurrence]:
        """Every occurrence whose due date lies in [window_start, window_end], by rule date."""
        before, after = _SLACK[self.convention]
        lower = max(window_start - timedelta(days=before), self.start)
        upper = window_end + timedelta(days=after)
        if upper < lower:
            return []
        found = []
        for rule_date in _rule_dates(self.rrule, _aligned_start(self.parts, self.start, lower), lower, upper):
            due_date = _adjust(rule_date, self.convention, self.calendar)
            if window_start <= due_date <= window_end:
                found.append(Occurrence(rule_date, due_date))
        return found

    def first_occurrence(self) -> Occurrence | None:
        """The first occurrence on or after the start, None when the rule gives no date at all."""
        rule = _parse(self.rrule)[0].replace(dtstart=datetime.combine(self.start, time()))
        moment = rule.after(datetime.combine(self.start, time()), inc=True)
        if moment is None:
            return None
        return Occurrence(moment.date(), _adjust(moment.date(), self.convention, self.calendar))


_WEEKDAY_NAMES: Final = dict(zip(WEEKDAY_CODES, calendar_module.day_name, strict=True))
_NTH: Final = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", -1: "last", -2: "second to last"}
_NTH_WEEKDAY: Final = re.compile(r"([+-]?\d)(MO|TU|WE|TH|FR|SA|SU)")
_CONVENTION_TEXT: Final = {
    BusinessDayConvention.FOLLOWING: "the next business day",
    BusinessDayConvention.PRECEDING: "the business day before",
    BusinessDayConvention.MODIFIED_FOLLOWING: "the next business day (the one before at a month end)",
}


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _day_of_period(parts: dict[str, str], start: date) -> str | None:
    """The days a monthly or yearly rule names: "the last day", "the 15th", "the first Monday"."""
    month_day, weekday, position = parts.pop("BYMONTHDAY", None), parts.pop("BYDAY", None), parts.pop("BYSETPOS", None)
    nth = _NTH_WEEKDAY.fullmatch(weekday or "")
    if weekday == "MO,TU,WE,TH,FR" and position == "-1" and month_day is None:
        return "the last business day"
    if nth and int(nth[1]) in _NTH and month_day is None and position is None:
        return f"the {_NTH[int(nth[1])]} {_WEEKDAY_NAMES[nth[2]]}"
    if weekday is not None or (position is not None and not (month_day or "").endswith(",-1")):
        return None
    if month_day is None:
        return f"the {_ordinal(start.day)}"
    days = [int(day) for day in month_day.split(",") if re.fullmatch(r"-?\d+", day)]
    if len(days) != len(month_day.split(",")) or len(days) > 2 or 0 in days:
        return None
    if days == [-1]:
        return "the last day"
    if len(days) == 1 and days[0] > 0:
        return f"the {_ordinal(days[0])}"
    if days[1:] == [-1] and days[0] > 0 and position is None:
        return f"the {_ordinal(days[0])} and last day"
    if days[1:] == [-1] and days[0] > 0 and position == "1":
        return f"the {_ordinal(days[0])}, or the last day of shorter months"
    return None


def _schedule_text(parts: dict[str, str], start: date) -> str | None:
    freq, interval = parts.pop("FREQ"), int(parts.pop("INTERVAL", "1"))
    parts.pop("WKST", None)
    if freq == "DAILY" and parts.get("COUNT") == "1" and parts.keys() == {"COUNT"}:
        parts.pop("COUNT")
        return f"once on {start.day} {start:%b %Y}"
    if freq == "DAILY":
        return "daily" if interval == 1 else f"every {interval} days"
    if freq == "WEEKLY":
        codes = parts.pop("BYDAY", WEEKDAY_CODES[start.weekday()]).split(",")
        if not all(code in _WEEKDAY_NAMES for code in codes):
            return None
        names = [_WEEKDAY_NAMES[code] for code in codes]
        on = " and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " and " + names[-1]
        return f"{'weekly' if interval == 1 else f'every {interval} weeks'} on {on}"
    if freq == "MONTHLY":
        semi = parts.get("BYMONTHDAY") == "15,-1" and interval == 1 and "BYSETPOS" not in parts
        period = {1: "monthly", 3: "quarterly"}.get(interval, f"every {interval} months")
        day = _day_of_period(parts, start)
        return None if day is None else f"{'semi-monthly' if semi else period} on {day}"
    if freq == "YEARLY":
        month = int(parts.pop("BYMONTH", str(start.month)) if "," not in parts.get("BYMONTH", "") else "0")
        day = _day_of_period(parts, start) if 1 <= month <= 12 else None
        if day is None:
            return None
        period = "annually" if interval == 1 else f"every {interval} years"
        plain = re.fullmatch(r"the (\d+)\w\w", day)
        when = f"{plain[1]} {calendar_module.month_name[month]}" if plain else f"{day} of {calendar_module.month_name[month]}"
        return f"{period} on {when}"
    return None


def describe(recurrence: Recurrence) -> str:
    """A short description for Slack and the CLI: "monthly on the last day", "every 2 weeks on Friday"."""
    parts = dict(recurrence.parts)
    count, until = parts.pop("COUNT", None), parts.pop("UNTIL", None)
    if count == "1" and parts.get("FREQ") == "DAILY" and parts.keys() == {"FREQ"}:
        parts["COUNT"], count = "1", None
    text = _schedule_text(parts, recurrence.start)
    if text is None or parts:
        text = f"on a custom schedule ({recurrence.rrule})"
    if count is not None:
        text += f", {count} times"
    if until is not None and re.match(r"\d{8}", until):
        end = date(int(until[:4]), int(until[4:6]), int(until[6:8]))
        text += f", until {end.day} {end:%b %Y}"
    if recurrence.convention is not BusinessDayConvention.NONE:
        holidays_text = f" and {recurrence.calendar} holidays" if recurrence.calendar else ""
        text += f"; on weekends{holidays_text}, {_CONVENTION_TEXT[recurrence.convention]}"
    return text

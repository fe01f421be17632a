"""When a small business's rent, payroll, retainers and taxes fall due, month ends and holidays included."""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta

import pytest
from dateutil.rrule import rrulestr
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tamio.obligations import business_days
from tamio.obligations import recurrence as recurrence_module
from tamio.obligations.business_days import adjust_business_day, is_business_day
from tamio.obligations.recurrence import (
    BusinessDayConvention,
    Frequency,
    Occurrence,
    Recurrence,
    RecurrenceError,
    build_rrule,
    custom_rrule,
    describe,
)

NONE = BusinessDayConvention.NONE
FOLLOWING = BusinessDayConvention.FOLLOWING
PRECEDING = BusinessDayConvention.PRECEDING
MODIFIED_FOLLOWING = BusinessDayConvention.MODIFIED_FOLLOWING


def schedule(
    frequency: Frequency,
    start: date,
    *,
    convention: BusinessDayConvention = NONE,
    calendar: str | None = None,
    **options: object,
) -> Recurrence:
    return Recurrence(build_rrule(frequency, start=start, **options), start, convention, calendar)  # type: ignore[arg-type]


def due_dates(recurrence: Recurrence, window_start: date, window_end: date) -> list[str]:
    return [o.due_date.isoformat() for o in recurrence.occurrences(window_start, window_end)]


# -- month ends -------------------------------------------------------------------------------------


def test_rent_on_the_31st_lands_on_each_months_last_day_and_never_skips_february() -> None:
    rent = schedule(Frequency.MONTHLY, date(2026, 1, 31))
    assert rent.rrule == "FREQ=MONTHLY;BYMONTHDAY=-1"
    assert due_dates(rent, date(2026, 1, 1), date(2026, 4, 30)) == [
        "2026-01-31",
        "2026-02-28",
        "2026-03-31",
        "2026-04-30",
    ]
    assert due_dates(rent, date(2028, 2, 1), date(2028, 2, 29)) == ["2028-02-29"]


@pytest.mark.parametrize(
    ("day", "february_2027", "february_2028", "april_2027"),
    [(29, "2027-02-28", "2028-02-29", "2027-04-29"), (30, "2027-02-28", "2028-02-29", "2027-04-30")],
)
def test_a_loan_repayment_on_the_29th_or_30th_moves_to_a_shorter_months_last_day(
    day: int, february_2027: str, february_2028: str, april_2027: str
) -> None:
    repayment = schedule(Frequency.MONTHLY, date(2027, 1, day))
    assert due_dates(repayment, date(2027, 2, 1), date(2027, 2, 28)) == [february_2027]
    assert due_dates(repayment, date(2028, 2, 1), date(2028, 2, 29)) == [february_2028]
    assert due_dates(repayment, date(2027, 4, 1), date(2027, 4, 30)) == [april_2027]
    assert due_dates(repayment, date(2027, 3, 1), date(2027, 3, 31)) == [f"2027-03-{day}"]


def test_a_day_given_apart_from_the_start_date_starts_at_the_first_such_day() -> None:
    subscription = schedule(Frequency.MONTHLY, date(2026, 1, 20), day=5)
    assert due_dates(subscription, date(2026, 1, 1), date(2026, 3, 31)) == ["2026-02-05", "2026-03-05"]


def test_the_last_business_day_of_a_month_ending_on_a_weekend_is_the_friday_before() -> None:
    bonus = schedule(Frequency.MONTHLY, date(2027, 1, 1), last_business_day=True)
    assert bonus.rrule == "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"
    # January 2027 ends on a Sunday, February 2026 on a Saturday.
    assert due_dates(bonus, date(2027, 1, 1), date(2027, 3, 31)) == ["2027-01-29", "2027-02-26", "2027-03-31"]
    assert due_dates(
        schedule(Frequency.MONTHLY, date(2026, 2, 1), last_business_day=True),
        date(2026, 2, 1),
        date(2026, 2, 28),
    ) == ["2026-02-27"]


# -- payroll and holidays -------------------------------------------------------------------------


def test_semi_monthly_payroll_is_paid_on_the_15th_and_the_last_day() -> None:
    payroll = schedule(Frequency.SEMIMONTHLY, date(2026, 1, 15))
    assert payroll.rrule == "FREQ=MONTHLY;BYMONTHDAY=15,-1"
    assert due_dates(payroll, date(2026, 1, 1), date(2026, 3, 31)) == [
        "2026-01-15",
        "2026-01-31",
        "2026-02-15",
        "2026-02-28",
        "2026-03-15",
        "2026-03-31",
    ]


def test_semi_monthly_payroll_moves_past_a_weekend_and_presidents_day() -> None:
    # 15 Feb 2026 is a Sunday and Monday 16 Feb is Presidents' Day.
    payroll = schedule(Frequency.SEMIMONTHLY, date(2026, 1, 15), convention=FOLLOWING, calendar="US")
    # 31 Jan (a Saturday) is paid on Monday 2 Feb; 28 Feb (a Saturday) on 2 March.
    assert payroll.occurrences(date(2026, 2, 1), date(2026, 2, 28)) == [
        Occurrence(rule_date=date(2026, 1, 31), due_date=date(2026, 2, 2)),
        Occurrence(rule_date=date(2026, 2, 15), due_date=date(2026, 2, 17)),
    ]
    early = schedule(Frequency.SEMIMONTHLY, date(2026, 1, 15), convention=PRECEDING, calendar="US")
    assert due_dates(early, date(2026, 2, 1), date(2026, 2, 28)) == ["2026-02-13", "2026-02-27"]


@pytest.mark.parametrize(
    ("convention", "christmas_payroll"),
    [
        (NONE, "2026-12-25"),
        (FOLLOWING, "2026-12-28"),
        (PRECEDING, "2026-12-24"),
        (MODIFIED_FOLLOWING, "2026-12-28"),
    ],
)
def test_payroll_on_christmas_day_moves_by_the_convention(
    convention: BusinessDayConvention, christmas_payroll: str
) -> None:
    payroll = schedule(Frequency.MONTHLY, date(2026, 1, 25), convention=convention, calendar="US")
    assert due_dates(payroll, date(2026, 12, 1), date(2026, 12, 31)) == [christmas_payroll]


def test_without_a_calendar_only_weekends_move_a_date() -> None:
    payroll = schedule(Frequency.MONTHLY, date(2026, 1, 25), convention=FOLLOWING)
    assert due_dates(payroll, date(2026, 12, 1), date(2026, 12, 31)) == ["2026-12-25"]


def test_weekly_payroll_on_the_observed_independence_day_is_paid_on_tuesday() -> None:
    # 4 July 2027 is a Sunday; the holiday is observed on Monday 5 July.
    payroll = schedule(Frequency.WEEKLY, date(2027, 6, 7), convention=FOLLOWING, calendar="US")
    assert due_dates(payroll, date(2027, 6, 28), date(2027, 7, 12)) == [
        "2027-06-28",
        "2027-07-06",
        "2027-07-12",
    ]


def test_modified_following_at_a_month_end_rolls_back_into_the_month() -> None:
    # Friday 31 Dec 2027 is New Year's Day observed; the next business day is in January.
    payroll = schedule(Frequency.MONTHLY, date(2027, 1, 31), convention=MODIFIED_FOLLOWING, calendar="US")
    assert payroll.occurrences(date(2027, 12, 1), date(2027, 12, 31)) == [
        Occurrence(date(2027, 12, 31), date(2027, 12, 30))
    ]
    plain_following = schedule(Frequency.MONTHLY, date(2027, 1, 31), convention=FOLLOWING, calendar="US")
    assert plain_following.occurrences(date(2027, 12, 1), date(2028, 1, 31))[0] == Occurrence(
        date(2027, 12, 31), date(2028, 1, 3)
    )


def test_an_occurrence_belongs_to_the_window_of_its_due_date() -> None:
    # Rent of 31 Jan 2026 (a Saturday) paid the Monday after falls in February's window, not January's.
    rent = schedule(Frequency.MONTHLY, date(2026, 1, 31), convention=FOLLOWING)
    assert due_dates(rent, date(2026, 1, 1), date(2026, 1, 31)) == []
    # ...and February's own rent (28 Feb, a Saturday) is paid on 2 March.
    assert rent.occurrences(date(2026, 2, 1), date(2026, 2, 28)) == [
        Occurrence(date(2026, 1, 31), date(2026, 2, 2))
    ]
    assert rent.occurrences(date(2026, 3, 1), date(2026, 3, 2)) == [
        Occurrence(date(2026, 2, 28), date(2026, 3, 2))
    ]


def test_business_days_and_adjustments_on_their_own() -> None:
    assert not is_business_day(date(2026, 12, 25), "US")
    assert is_business_day(date(2026, 12, 25), "GB") is False  # Christmas in the UK too
    assert is_business_day(date(2026, 11, 26), "GB")  # US Thanksgiving is a UK business day
    assert not is_business_day(date(2026, 11, 28), None)  # a Saturday
    assert adjust_business_day(date(2026, 11, 26), FOLLOWING, "us") == date(2026, 11, 27)
    assert adjust_business_day(date(2026, 11, 26), "preceding", "US") == date(2026, 11, 25)
    with pytest.raises(
        RecurrenceError, match="unknown holiday calendar 'XX'; use a country code such as US, GB or DE"
    ):
        is_business_day(date(2026, 1, 1), "XX")


# -- other cadences ---------------------------------------------------------------------------------


def test_a_contractor_paid_every_two_weeks_on_friday() -> None:
    contractor = schedule(Frequency.BIWEEKLY, date(2026, 1, 2))
    assert contractor.rrule == "FREQ=WEEKLY;INTERVAL=2;BYDAY=FR"
    assert due_dates(contractor, date(2026, 1, 1), date(2026, 2, 28)) == [
        "2026-01-02",
        "2026-01-16",
        "2026-01-30",
        "2026-02-13",
        "2026-02-27",
    ]
    every_three_weeks = schedule(Frequency.WEEKLY, date(2026, 1, 2), interval=3)
    assert due_dates(every_three_weeks, date(2026, 1, 1), date(2026, 2, 28)) == [
        "2026-01-02",
        "2026-01-23",
        "2026-02-13",
    ]


def test_quarterly_vat_on_the_31st_lands_on_each_quarters_last_day() -> None:
    vat = schedule(Frequency.QUARTERLY, date(2026, 3, 31))
    assert due_dates(vat, date(2026, 1, 1), date(2027, 3, 31)) == [
        "2026-03-31",
        "2026-06-30",
        "2026-09-30",
        "2026-12-31",
        "2027-03-31",
    ]


def test_an_annual_renewal_on_29_february_is_on_28_february_in_other_years() -> None:
    renewal = schedule(Frequency.ANNUALLY, date(2028, 2, 29))
    assert [
        o.due_date.year * 100 + o.due_date.day
        for o in renewal.occurrences(date(2028, 1, 1), date(2032, 12, 31))
    ] == [
        202829,
        202928,
        203028,
        203128,
        203229,
    ]
    assert schedule(Frequency.ANNUALLY, date(2026, 4, 15), day=31).occurrences(
        date(2026, 1, 1), date(2026, 12, 31)
    ) == [Occurrence(date(2026, 4, 30), date(2026, 4, 30))]


def test_a_payment_plan_of_three_instalments_stops_after_the_third() -> None:
    plan = schedule(Frequency.MONTHLY, date(2026, 1, 10), count=3)
    assert plan.rrule == "FREQ=MONTHLY;BYMONTHDAY=10;COUNT=3"
    assert due_dates(plan, date(2025, 1, 1), date(2027, 1, 1)) == ["2026-01-10", "2026-02-10", "2026-03-10"]


def test_a_lease_ending_on_the_31st_includes_its_last_payment() -> None:
    lease = schedule(Frequency.MONTHLY, date(2026, 1, 31), end=date(2026, 3, 31))
    assert lease.rrule == "FREQ=MONTHLY;BYMONTHDAY=-1;UNTIL=20260331"
    assert due_dates(lease, date(2026, 1, 1), date(2026, 12, 31)) == [
        "2026-01-31",
        "2026-02-28",
        "2026-03-31",
    ]


def test_a_one_off_payment_happens_once() -> None:
    deposit = schedule(Frequency.ONCE, date(2026, 12, 3))
    assert deposit.rrule == "FREQ=DAILY;COUNT=1"
    assert due_dates(deposit, date(2026, 1, 1), date(2027, 12, 31)) == ["2026-12-03"]
    assert due_dates(deposit, date(2026, 12, 4), date(2027, 12, 31)) == []


def test_an_obligation_started_years_ago_still_gives_this_quarters_dates() -> None:
    retainer = schedule(Frequency.MONTHLY, date(2019, 5, 30))
    fortnightly = schedule(Frequency.BIWEEKLY, date(2019, 5, 3))
    assert due_dates(retainer, date(2026, 2, 1), date(2026, 4, 30)) == [
        "2026-02-28",
        "2026-03-30",
        "2026-04-30",
    ]
    # 13 Feb 2026 is 177 fortnights after 3 May 2019; 6 Feb and 20 Feb are off-weeks.
    assert due_dates(fortnightly, date(2026, 2, 1), date(2026, 2, 28)) == ["2026-02-13", "2026-02-27"]


# -- custom rules and bad input ---------------------------------------------------------------------


def test_a_custom_rrule_is_kept_and_its_end_date_becomes_until() -> None:
    rule = custom_rrule("RRULE:freq=monthly;byday=1mo", start=date(2026, 1, 1), end=date(2026, 3, 31))
    assert rule == "FREQ=MONTHLY;BYDAY=1MO;UNTIL=20260331"
    assert due_dates(Recurrence(rule, date(2026, 1, 1)), date(2026, 1, 1), date(2026, 12, 31)) == [
        "2026-01-05",
        "2026-02-02",
        "2026-03-02",
    ]


@pytest.mark.parametrize(
    ("build", "field", "message"),
    [
        (
            lambda: build_rrule(Frequency.MONTHLY, start=date(2026, 1, 1), day=32),
            "day",
            "day must be between 1 and 31",
        ),
        (
            lambda: build_rrule(Frequency.MONTHLY, start=date(2026, 1, 1), day=0),
            "day",
            "or -1 for the month's last day",
        ),
        (
            lambda: build_rrule(Frequency.WEEKLY, start=date(2026, 1, 1), day=5),
            "day",
            "day applies only to monthly",
        ),
        (
            lambda: build_rrule(Frequency.MONTHLY, start=date(2026, 2, 1), end=date(2026, 1, 1)),
            "end",
            "is before the start",
        ),
        (
            lambda: build_rrule(Frequency.MONTHLY, start=date(2026, 1, 1), end=date(2026, 5, 1), count=2),
            "end",
            "not both",
        ),
        (
            lambda: build_rrule(Frequency.MONTHLY, start=date(2026, 1, 20), day=5, end=date(2026, 1, 31)),
            "end",
            "no date",
        ),
        (lambda: build_rrule(Frequency.MONTHLY, start=date(2026, 1, 1), interval=0), "interval", "1 or more"),
        (lambda: build_rrule(Frequency.ONCE, start=date(2026, 1, 1), end=date(2026, 2, 1)), "end", "one-off"),
        (lambda: Recurrence("FREQ=HOURLY", date(2026, 1, 1)), "rrule", "fall due on days"),
        (lambda: Recurrence("FREQ=MONTHLY;FOO=1", date(2026, 1, 1)), "rrule", "couldn't read the rule"),
        (lambda: Recurrence("DTSTART:20260101\nRRULE:FREQ=DAILY", date(2026, 1, 1)), "rrule", "DTSTART"),
        (
            lambda: Recurrence("FREQ=MONTHLY", date(2026, 1, 1), calendar="XX"),
            "calendar",
            "unknown holiday calendar 'XX'",
        ),
        (
            lambda: custom_rrule("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", start=date(2026, 1, 1)),
            "rrule",
            "gives no date",
        ),
    ],
)
def test_bad_schedules_are_refused_with_a_message_naming_the_field(
    build: object, field: str, message: str
) -> None:
    with pytest.raises(RecurrenceError, match=message) as caught:
        build()  # type: ignore[operator]
    assert caught.value.field == field
    assert isinstance(caught.value, ValueError)


# -- descriptions -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("recurrence", "text"),
    [
        (schedule(Frequency.MONTHLY, date(2026, 1, 31)), "monthly on the last day"),
        (schedule(Frequency.SEMIMONTHLY, date(2026, 1, 15)), "semi-monthly on the 15th and last day"),
        (schedule(Frequency.BIWEEKLY, date(2026, 1, 2)), "every 2 weeks on Friday"),
        (schedule(Frequency.QUARTERLY, date(2026, 1, 1)), "quarterly on the 1st"),
        (schedule(Frequency.ONCE, date(2026, 12, 3)), "once on 3 Dec 2026"),
        (schedule(Frequency.MONTHLY, date(2026, 1, 22)), "monthly on the 22nd"),
        (
            schedule(Frequency.MONTHLY, date(2026, 1, 30)),
            "monthly on the 30th, or the last day of shorter months",
        ),
        (
            schedule(Frequency.MONTHLY, date(2026, 1, 1), last_business_day=True),
            "monthly on the last business day",
        ),
        (schedule(Frequency.ANNUALLY, date(2026, 3, 15)), "annually on 15 March"),
        (schedule(Frequency.ANNUALLY, date(2028, 2, 29)), "annually on the last day of February"),
        (schedule(Frequency.MONTHLY, date(2026, 1, 10), count=3), "monthly on the 10th, 3 times"),
        (
            schedule(Frequency.MONTHLY, date(2026, 1, 31), end=date(2027, 1, 31)),
            "monthly on the last day, until 31 Jan 2027",
        ),
        (
            schedule(Frequency.MONTHLY, date(2026, 1, 25), convention=FOLLOWING, calendar="US"),
            "monthly on the 25th; on weekends and US holidays, the next business day",
        ),
        (
            schedule(Frequency.MONTHLY, date(2026, 1, 31), convention=MODIFIED_FOLLOWING),
            "monthly on the last day; on weekends, the next business day (the one before at a month end)",
        ),
        (Recurrence("FREQ=MONTHLY;BYDAY=-1FR", date(2026, 1, 1)), "monthly on the last Friday"),
        (Recurrence("FREQ=WEEKLY;BYDAY=MO,TH", date(2026, 1, 1)), "weekly on Monday and Thursday"),
        (
            Recurrence("FREQ=YEARLY;BYWEEKNO=20", date(2026, 1, 1)),
            "on a custom schedule (FREQ=YEARLY;BYWEEKNO=20)",
        ),
    ],
)
def test_descriptions_read_as_a_bookkeeper_would_say_them(recurrence: Recurrence, text: str) -> None:
    assert describe(recurrence) == text


# -- properties and speed ---------------------------------------------------------------------------

month_days = st.one_of(st.integers(1, 31), st.just(-1))
starts = st.dates(date(2015, 1, 1), date(2030, 12, 31))


@settings(max_examples=300, deadline=None)
@given(day=month_days, start=starts, months_later=st.integers(1, 60), months=st.integers(1, 15))
def test_a_monthly_rule_falls_exactly_once_in_every_calendar_month(
    day: int, start: date, months_later: int, months: int
) -> None:
    rule = schedule(Frequency.MONTHLY, start, day=day)
    first = (start.replace(day=1) + timedelta(days=32 * months_later)).replace(day=1)
    for _ in range(months):
        last_day = calendar.monthrange(first.year, first.month)[1]
        month_end = first.replace(day=last_day)
        expected = first.replace(day=last_day if day == -1 else min(day, last_day))
        assert rule.occurrences(first, month_end) == [Occurrence(expected, expected)]
        first = month_end + timedelta(days=1)


CUSTOM_RULES = [
    "FREQ=WEEKLY;BYDAY=MO,FR;BYSETPOS=1",  # the set of a week depends on where the week starts
    "FREQ=WEEKLY;INTERVAL=2;WKST=SU;BYDAY=SU,SA;BYSETPOS=-1",
    "FREQ=WEEKLY;INTERVAL=3",  # the weekday comes from the start
    "FREQ=MONTHLY;BYDAY=1MO",
    "FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=10,20;BYSETPOS=-1",
    "FREQ=MONTHLY",  # the day comes from the start
    "FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO",
    "FREQ=YEARLY;INTERVAL=2",
    "FREQ=DAILY;INTERVAL=3",
    "FREQ=DAILY;INTERVAL=10;COUNT=30",
]


@st.composite
def recurrences(draw: st.DrawFn) -> Recurrence:
    frequency = draw(st.sampled_from(list(Frequency)))
    start = draw(starts)
    if frequency is Frequency.CUSTOM:
        rule = custom_rrule(draw(st.sampled_from(CUSTOM_RULES)), start=start)
        return Recurrence(rule, start, draw(st.sampled_from(list(BusinessDayConvention))), "US")
    by_day = frequency in (Frequency.MONTHLY, Frequency.QUARTERLY, Frequency.ANNUALLY)
    ending = draw(st.sampled_from(["open", "count", "end"])) if frequency is not Frequency.ONCE else "open"
    rule = build_rrule(
        frequency,
        start=start,
        day=draw(st.one_of(st.none(), month_days)) if by_day else None,
        interval=draw(st.integers(1, 3)) if frequency is not Frequency.ONCE else 1,
        count=draw(st.integers(1, 40)) if ending == "count" else None,
        end=start + timedelta(days=draw(st.integers(1200, 4000))) if ending == "end" else None,
    )
    return Recurrence(
        rule,
        start,
        draw(st.sampled_from(list(BusinessDayConvention))),
        draw(st.sampled_from([None, "US", "GB", "DE"])),
    )


@settings(max_examples=400, deadline=None)
@given(recurrence=recurrences(), window_start=starts, days=st.integers(0, 400))
# Starting on a Wednesday, the skip-ahead must land on a whole week, or Friday 27 Feb would show.
@example(Recurrence("FREQ=WEEKLY;BYDAY=MO,FR;BYSETPOS=1", date(2026, 1, 7)), date(2026, 2, 26), 30)
def test_occurrences_match_dateutil_walking_from_the_start(
    recurrence: Recurrence, window_start: date, days: int
) -> None:
    """The skip-ahead by whole periods gives the same dates as dateutil from the very start."""
    window_end = window_start + timedelta(days=days)
    every_rule_date = rrulestr(recurrence.rrule, dtstart=datetime.combine(recurrence.start, time()))
    expected = []
    for moment in every_rule_date.between(
        datetime.combine(window_start - timedelta(days=30), time()),
        datetime.combine(window_end + timedelta(days=30), time()),
        inc=True,
    ):
        due = adjust_business_day(moment.date(), recurrence.convention, recurrence.calendar)
        if window_start <= due <= window_end:
            expected.append(Occurrence(moment.date(), due))
    assert recurrence.occurrences(window_start, window_end) == expected
    for occurrence in expected:
        if recurrence.convention is MODIFIED_FOLLOWING:
            assert occurrence.due_date.month == occurrence.rule_date.month
        if recurrence.convention is not NONE:
            assert is_business_day(occurrence.due_date, recurrence.calendar)


def test_ten_thousand_obligations_over_a_quarter_take_well_under_a_second() -> None:
    frequencies = [
        Frequency.MONTHLY,
        Frequency.WEEKLY,
        Frequency.BIWEEKLY,
        Frequency.SEMIMONTHLY,
        Frequency.QUARTERLY,
    ]
    book = []
    for number in range(10_000):
        # Many distinct starts inside the window, so skipping whole periods shares no work.
        start = date(2026, 1, 1) + timedelta(days=number % 89)
        frequency = frequencies[number % len(frequencies)]
        day = (number % 31) + 1 if frequency in (Frequency.MONTHLY, Frequency.QUARTERLY) else None
        book.append(
            (
                build_rrule(frequency, start=start, day=day),
                start,
                list(BusinessDayConvention)[number % 4],
                ["US", "GB", None][number % 3],
            )
        )
    recurrence_module._parse.cache_clear()
    recurrence_module._rule_dates.cache_clear()
    business_days._holiday_dates.cache_clear()
    found = sum(len(Recurrence(*entry).occurrences(date(2026, 1, 1), date(2026, 3, 31))) for entry in book)
    assert found > 30_000  # how fast: bench/forecast.py, not a timed assertion

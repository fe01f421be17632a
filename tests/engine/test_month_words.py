"""Month words in the add and what-if syntax (issue 21's ``/tamio whatif hire "Engineer" 8000 monthly from March``):
``tamio.dates.read_day`` reads ``March``, ``15 March``, ``March 15 2027``; files and flags stay strict ISO."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tamio.dates import MONTH_NAMES, read_date, read_day
from tamio.errors import ValidationError
from tamio.obligations.inline import parse_add, split_words
from tamio.scenarios.changes import AddObligation, Draw, Move, OneOff
from tamio.scenarios.inline import parse_change

TODAY = date(2026, 12, 6)


@pytest.mark.parametrize(("text", "past_ok", "read"), [
    ("March", True, date(2027, 3, 1)),
    ("mar", False, date(2027, 3, 1)),
    ("MARCH", True, date(2027, 3, 1)),
    ("December", True, date(2026, 12, 1)),   # this month, where the syntax takes past dates
    ("December", False, date(2027, 12, 1)),  # else next year's
    ("dec 6", False, date(2026, 12, 6)),     # today is not past
    ("dec 5", False, date(2027, 12, 5)),
    ("dec 5", True, date(2026, 12, 5)),
    ("November", True, date(2027, 11, 1)),   # a month gone by is next year's either way
    ("15 March", True, date(2027, 3, 15)),
    ("March 15", True, date(2027, 3, 15)),
    ("15th  march", True, date(2027, 3, 15)),
    ("March 15, 2027", True, date(2027, 3, 15)),
    ("1 March 2028", True, date(2028, 3, 1)),
    ("March 2026", True, date(2026, 3, 1)),  # a year said is that year
    ("sept", True, date(2027, 9, 1)),
    ("2027-01-15", False, date(2027, 1, 15)),
    ("tomorrow", False, date(2026, 12, 7)),
])
def test_month_words_read_as_the_next_such_month(text: str, past_ok: bool, read: date) -> None:
    assert read_day(text, today=TODAY, past_ok=past_ok) == read


@pytest.mark.parametrize(("text", "message"), [
    ("Marhc", "I couldn't read 'Marhc' as a date; write it as YYYY-MM-DD, like 2026-12-01, or a month, like March or 15 March."),
    ("12/01/2026", "I couldn't read '12/01/2026' as a date; write it as YYYY-MM-DD, like 2026-12-01, or a month, like March or 15 March."),
    ("Feb 29", "February 2027 has no day 29; check the day."),
    ("31 April", "April 2027 has no day 31; check the day."),
    ("March 2300", "2300-03-01 is too far away; use a date from 1900 to 2199."),
    ("2027-02-31", "2027-02-31 is not a date on the calendar; check the month and day."),
])
def test_unreadable_dates_say_what_would_be_right(text: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        read_day(text, today=TODAY)
    assert caught.value.message == message


def test_the_strict_reader_still_refuses_month_words_without_offering_them() -> None:
    with pytest.raises(ValidationError) as caught:
        read_date("March")
    assert caught.value.message == "I couldn't read 'March' as a date; write it as YYYY-MM-DD, like 2026-12-01."


MONTH_WORDS = st.sampled_from(MONTH_NAMES).flatmap(lambda name: st.sampled_from([name, name[:3]]))
CASES = st.sampled_from([str.lower, str.upper, str.capitalize])


@settings(max_examples=300, deadline=None)
@given(month=MONTH_WORDS, case=CASES, today=st.dates(date(1900, 1, 1), date(2198, 12, 31)), past_ok=st.booleans())
def test_any_month_name_is_day_one_of_a_month_not_in_the_past(month: str, case: object, today: date, past_ok: bool) -> None:
    written = case(month)  # type: ignore[operator]
    day = read_day(written, today=today, past_ok=past_ok)
    assert day.day == 1 and MONTH_NAMES[day.month - 1].startswith(month.lower())
    months_ahead = (day.year - today.year) * 12 + day.month - today.month
    assert 0 <= months_ahead <= 12  # not a month gone by, and the first such month from today's
    assert months_ahead < 12 or not past_ok  # this month is this year's where past dates are taken
    if not past_ok:
        assert day >= today
    assert read_day(f"{written} {day.year}", today=today) == day  # and with its year said, the same day


@settings(max_examples=200, deadline=None)
@given(month=MONTH_WORDS, day_of=st.integers(1, 28), today=st.dates(date(1900, 1, 1), date(2198, 12, 31)),
       day_first=st.booleans())
def test_a_day_and_a_month_is_never_past_where_past_dates_are_refused(month: str, day_of: int, today: date, day_first: bool) -> None:
    text = f"{day_of} {month}" if day_first else f"{month} {day_of}"
    day = read_day(text, today=today, past_ok=False)
    assert day.day == day_of and MONTH_NAMES[day.month - 1].startswith(month)
    assert day >= today and (day - today).days <= 366


def test_the_add_syntax_takes_month_words_in_from_and_until() -> None:
    def add(text: str) -> tuple[date, date | None]:
        added = parse_add(split_words(text), today=TODAY, base_currency="USD")
        return added.recurrence.start_date, added.recurrence.end_date

    assert add('expense "New hire" 8000 monthly from March') == (date(2027, 3, 1), None)
    assert add('expense "Rent" 1800 from 15 March until March 2028 monthly') == (date(2027, 3, 15), date(2028, 3, 1))
    assert add('expense "Rent" 1800 from March 15 following') == (date(2027, 3, 15), None)
    assert add('expense "Rent" 1800 monthly from december') == (date(2026, 12, 1), None)  # may start in arrears
    with pytest.raises(ValidationError) as caught:
        add('expense "Rent" 1800 from Marhc')
    assert "or a month, like March or 15 March" in caught.value.message


def test_the_what_if_syntax_takes_month_words_everywhere_it_takes_a_date() -> None:
    def change(text: str) -> object:
        return parse_change(text, today=TODAY, base_currency="USD")

    hire = change('hire "Engineer" 8000 monthly from March')
    assert isinstance(hire, AddObligation) and hire.obligation_kind == "payroll"
    assert hire.recurrence["start_date"] == "2027-03-01"
    assert change("once out 2500 on March 15") == OneOff(direction="out", amount=2500, on=date(2027, 3, 15))
    assert change('draw "Credit line" 5000 on december') == Draw(credit_line="Credit line", amount=5000, on=date(2027, 12, 1))
    assert change('move "Cloud Host" to 1 March') == Move(name="Cloud Host", to=date(2027, 3, 1))
    assert change('change "Cloud Host" date March 15 2027') == Move(name="Cloud Host", to=date(2027, 3, 15))
    with pytest.raises(ValidationError) as caught:
        change("once out 2500 on Marhc 15")
    assert caught.value.message.endswith("or a month, like March or 15 March.")
    assert "once in|out AMOUNT on DATE" in str(caught.value.hint)

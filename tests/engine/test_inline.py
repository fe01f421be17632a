"""The core's one-line obligation syntax (``tamio.obligations.inline``): what Slack's ``/tamio add`` and the
what-if read, without any Slack wording; anything it refuses is a ValidationError."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tamio.errors import ValidationError
from tamio.obligations.adding import AddObligation
from tamio.obligations.inline import parse_add, split_words
from tamio.obligations.recurrence import BusinessDayConvention, Frequency

TODAY = date(2026, 11, 30)


def add(text: str) -> AddObligation:
    return parse_add(split_words(text), today=TODAY, base_currency="USD")


def test_an_obligation_in_one_line() -> None:
    hire = add('expense "New hire" 8000 monthly from 2027-03-01')
    assert (hire.kind, hire.name, hire.amount, hire.currency) == ("expense", "New hire", Decimal("8000"), "USD")
    assert (hire.recurrence.frequency, hire.recurrence.start_date) == (Frequency.MONTHLY, date(2027, 3, 1))
    acme = add("revenue “Acme Corp” 5,000.50 eur quarterly on last following")
    assert (acme.kind, acme.name, acme.amount, acme.currency) == ("client", "Acme Corp", Decimal("5000.50"), "EUR")
    assert (acme.recurrence.day, acme.recurrence.convention) == (-1, BusinessDayConvention.FOLLOWING)
    assert add('payroll "Team" 4000 weekly on fri').recurrence.start_date == date(2026, 12, 4)


@pytest.mark.parametrize(("text", "message"), [
    ('gift "X" 10', "`gift` is not something I can add."),
    ('expense "X"', "I need a name in quotes and an amount."),
    ('expense "X" 10 monthly EUR', "`EUR` is in the wrong place."),
    ('expense "X" 10 weekly on 15', "`on 15` applies to monthly, quarterly and annual schedules only."),
    ('expense "X" 10 from 2027-01-01 until 2026-12-01', "The end date 2026-12-01 is before the start date 2027-01-01."),
    ('expense "X" 10 holidays ZZ', "unknown holiday calendar 'ZZ'; use a country code such as US, GB or DE"),
    ('expense "X 10', "I couldn't read that: a quote is not closed."),
])
def test_refusals_say_what_was_wrong(text: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        add(text)
    assert caught.value.message == message


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["expense", "client", '"A"', "10", "1e99", "EUR", "XYZ", "on", "15", "fri", "from", "until",
                                  "2026-12-01", "2027-02-31", "monthly", "weekly", "once", "holidays", "GB", "\x00", ""]), max_size=8))
def test_nothing_but_a_validation_error_escapes(words: list[str]) -> None:
    try:
        parse_add(words, today=TODAY, base_currency="USD")
    except ValidationError:
        pass

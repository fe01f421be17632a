"""One runway: the same number and the same words whatever the forecast's length (issue 19, item 3)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tamio.forecast.engine import ForecastItem, build_forecast
from tamio.forecast.runway import describe_runway
from tamio.forecast.views import describe_runway as describe_forecast_runway

MONDAY = date(2026, 12, 7)


def weekly_spend(per_week: str, weeks: int = 30) -> list[ForecastItem]:
    return [ForecastItem(MONDAY + timedelta(days=7 * i + 2), Decimal(per_week), "outflow") for i in range(weeks)]


def test_a_4_week_and_a_13_week_forecast_say_the_same_runway() -> None:
    # 49,000 burning 10,000 a week: under the 5,000 buffer during week 5
    items = weekly_spend("10000")
    short = build_forecast(as_of=MONDAY, weeks=4, opening_balance=Decimal("49000"), items=items, buffer=Decimal(5000), base_currency="USD")
    full = build_forecast(as_of=MONDAY, weeks=13, opening_balance=Decimal("49000"), items=items, buffer=Decimal(5000), base_currency="USD")
    assert short.runway_weeks == full.runway_weeks == Decimal("4.4")
    assert describe_forecast_runway(short) == describe_forecast_runway(full) == "4.4 weeks (1 month)"


def test_past_13_weeks_the_runway_is_more_than_13_weeks_not_an_extrapolation() -> None:
    items = weekly_spend("1000")
    for weeks in (4, 13, 26):
        forecast = build_forecast(as_of=MONDAY, weeks=weeks, opening_balance=Decimal("20000"), items=items, base_currency="USD")
        assert forecast.runway_weeks is None and describe_forecast_runway(forecast) == "more than 13 weeks"


def test_the_words_never_say_a_tenth_of_a_week_or_zero_weeks() -> None:
    assert describe_runway(Decimal("0.1")) == "under a week"
    assert describe_runway(Decimal("0.0")) == "none: cash is already below the buffer"
    assert describe_runway(Decimal("1")) == "1 week (0.2 months)"


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 200_000), st.integers(1, 40_000), st.integers(0, 50_000), st.integers(1, 12))
def test_every_length_agrees_and_no_runway_reads_0_weeks(cash: int, burn: int, buffer: int, weeks: int) -> None:
    items = weekly_spend(str(burn))
    short = build_forecast(as_of=MONDAY, weeks=weeks, opening_balance=Decimal(cash), items=items, buffer=Decimal(buffer), base_currency="USD")
    full = build_forecast(as_of=MONDAY, weeks=13, opening_balance=Decimal(cash), items=items, buffer=Decimal(buffer), base_currency="USD")
    assert short.runway_weeks == full.runway_weeks
    said = describe_forecast_runway(short)
    assert not said.startswith(("0 ", "0.")) and " 0 months" not in said and "(0 months)" not in said

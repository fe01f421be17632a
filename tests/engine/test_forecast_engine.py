"""The forecast engine: weeks, the band, runway, and adjusting totals equals rebuilding."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tamio.forecast.engine import ForecastItem, WeeklyTotals, build_forecast, forecast_from_totals

MONDAY = date(2026, 12, 7)

items = st.builds(
    ForecastItem,
    date=st.integers(-20, 100).map(lambda d: MONDAY + timedelta(days=d)),
    amount=st.integers(-500_000, 5_000_000).map(lambda c: Decimal(c) / 100),
    direction=st.sampled_from(["inflow", "outflow"]),
    confidence=st.sampled_from([Decimal("0.95"), Decimal("0.6"), Decimal("0.3")]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(items, max_size=30), st.lists(items, max_size=5), st.integers(-100_000, 100_000))
def test_forecast_with_matches_a_full_rebuild(base: list[ForecastItem], extra: list[ForecastItem], delta: int) -> None:
    opening = Decimal("20000")
    full = build_forecast(as_of=MONDAY, weeks=13, opening_balance=opening + delta, items=[*base, *extra], buffer=Decimal(5000), base_currency="USD")
    totals = WeeklyTotals.of(base, as_of=MONDAY, weeks=13).adjusted(extra, as_of=MONDAY)
    quick = forecast_from_totals(totals, as_of=MONDAY, opening_balance=opening + delta, buffer=Decimal(5000), base_currency="USD")
    assert quick.weeks == full.weeks and quick.runway_weeks == full.runway_weeks


def test_weeks_bands_and_runway() -> None:
    forecast = build_forecast(
        as_of=MONDAY, weeks=13, opening_balance=Decimal("10000"), buffer=Decimal("2000"), base_currency="USD",
        items=[
            ForecastItem(MONDAY - timedelta(days=3), Decimal("1000"), "inflow", Decimal("0.5"), overdue=True),
            ForecastItem(MONDAY + timedelta(days=8), Decimal("6000"), "outflow", Decimal("0.95")),
            ForecastItem(MONDAY + timedelta(days=15), Decimal("4000"), "outflow", Decimal("0.95")),
        ],
    )
    w1, w2, w3 = forecast.weeks[:3]
    assert (w1.inflows, w1.closing_balance, w1.confidence) == (Decimal("1000"), Decimal("11000"), "low")
    assert (w2.outflows, w2.closing_balance) == (Decimal("6000"), Decimal("5000"))
    assert w3.closing_balance == Decimal("1000") and forecast.lowest_week_start == w3.start
    assert w3.high - w3.low > w1.high - w1.low  # the band widens
    assert forecast.runway_weeks == Decimal("2.8")  # 5,000 -> 1,000 crosses 2,000 three quarters into week 3
    assert forecast.to_json()["weeks"][0]["closing_balance"] == "11000.00"


def test_no_runway_problem_is_none() -> None:
    forecast = build_forecast(as_of=MONDAY, weeks=13, opening_balance=Decimal("10000"), items=[], base_currency="USD")
    assert forecast.runway_weeks is None and forecast.to_json()["runway_weeks"] is None

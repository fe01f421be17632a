"""The 13-week forecast read like a business's books, on both forecast paths."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.forecast.service import calculate_forecast, calculate_forecast_v2
from tamio.obligations.models import ObligationAgreement, ObligationSchedule
from tamio.obligations.payments import record_payment
from tests.service.books import LEGACY_PATH, SCHEDULE_PATH, Books

MONDAY = date(2026, 12, 7)


async def test_weeks_balances_and_lowest_point(session: AsyncSession) -> None:
    books = await Books.open(session, today=MONDAY)
    await books.cash("Operating", "48250")
    await books.cash("Savings", "1000", account_type="savings")
    await books.cash("Credit line", "0", account_type="credit_line", credit_limit=Decimal("20000"))
    await books.client("Acme Corp", "12000", books.every("once", date(2026, 12, 9)))
    await books.expense("Payroll", "42000", books.every("semimonthly", date(2026, 12, 15)), category="payroll")
    forecast = await calculate_forecast(session, books.account.id, as_of=MONDAY, settings=SCHEDULE_PATH)
    assert len(forecast.weeks) == 13 and forecast.opening_balance == Decimal("49250")
    w1, w2 = forecast.weeks[0], forecast.weeks[1]
    assert (w1.start, w1.end, w1.inflows, w1.outflows) == (MONDAY, date(2026, 12, 13), Decimal("12000"), Decimal("0"))
    assert (w2.outflows, w2.closing_balance) == (Decimal("42000"), Decimal("19250"))
    assert forecast.weeks[3].outflows == Decimal("42000")  # Dec 31 is in the week of Dec 28
    assert forecast.lowest_closing_balance == min(w.closing_balance for w in forecast.weeks)
    assert all(w.low <= w.closing_balance <= w.high for w in forecast.weeks)
    assert forecast.runway_weeks is not None


async def test_a_client_who_pays_12_days_late_is_expected_12_days_late(session: AsyncSession) -> None:
    books = await Books.open(session, today=MONDAY)
    await books.client("Slow Co", "3000", books.every("once", date(2026, 12, 8)), avg_payment_delay_days=12)
    forecast = await calculate_forecast(session, books.account.id, as_of=MONDAY, settings=SCHEDULE_PATH)
    # Due Tue 8 Dec, expected Sun 20 Dec: the second week (14-20 Dec).
    assert forecast.weeks[0].inflows == 0 and forecast.weeks[1].inflows == Decimal("3000")
    assert forecast.weeks[1].confidence_score < Decimal("0.9")


async def test_overdue_items_land_in_week_one_and_partial_payments_count_what_remains(session: AsyncSession) -> None:
    books = await Books.open(session, today=date(2026, 11, 1))
    await books.cash("Operating", "10000")
    await books.client("Late Co", "8000", books.every("once", date(2026, 11, 20)))
    schedule = (await session.execute(select(ObligationSchedule))).scalar_one()
    await record_payment(session, account=books.account, amount=Decimal("3000"), currency="USD", payment_date=date(2026, 11, 25), schedule=schedule, adjust_balance=False)
    forecast = await calculate_forecast(session, books.account.id, as_of=MONDAY, settings=SCHEDULE_PATH)
    assert forecast.weeks[0].inflows == Decimal("5000")
    assert forecast.weeks[0].confidence == "low"


async def test_leap_february_month_ends_and_a_eur_invoice(session: AsyncSession) -> None:
    books = await Books.open(session, today=date(2028, 1, 3))
    await books.rate("EUR", "USD", "1.10", on=date(2028, 1, 1))
    await books.client("Month End Ltd", "1000", books.every("monthly", date(2028, 1, 31), day=31))
    await books.client("Berlin GmbH", "2000", books.every("once", date(2028, 2, 29)), currency="EUR")
    forecast = await calculate_forecast(session, books.account.id, as_of=date(2028, 1, 3), settings=SCHEDULE_PATH)
    feb29 = forecast.week_of(date(2028, 2, 29))
    assert feb29 is not None and feb29.inflows == Decimal("1000") + Decimal("2200")


async def test_both_paths_give_the_same_weeks(session: AsyncSession) -> None:
    books = await Books.open(session, today=MONDAY)
    await books.cash("Operating", "5000")
    await books.client("A", "100", books.every("weekly", date(2026, 12, 9)))
    await books.client("B", "250.50", books.every("monthly", date(2026, 12, 31), day=-1), avg_payment_delay_days=4)
    await books.expense("Rent", "900", books.every("monthly", date(2026, 12, 1), day=1, convention="following", calendar="US"))
    await books.expense("VAT", "1200", books.every("quarterly", date(2027, 1, 31), day=31), category="tax")
    schedules = await calculate_forecast(session, books.account.id, as_of=MONDAY, settings=SCHEDULE_PATH)
    legacy = await calculate_forecast(session, books.account.id, as_of=MONDAY, settings=LEGACY_PATH)
    assert schedules.weeks == legacy.weeks
    assert (await session.execute(select(ObligationAgreement))).scalars().all()
    assert MONDAY + timedelta(days=7 * 13 - 1) == schedules.weeks[-1].end


async def test_the_design_documents_calculate_forecast_v2_is_the_forecast(session: AsyncSession) -> None:
    """The design document's "Computing a Forecast" calls ``calculate_forecast_v2()``: it is this forecast."""
    books = await Books.open(session, today=MONDAY)
    await books.cash("Operating", "5000")
    await books.client("A", "100", books.every("weekly", date(2026, 12, 9)))
    for path in (SCHEDULE_PATH, LEGACY_PATH):
        v2 = await calculate_forecast_v2(session, books.account.id, as_of=MONDAY, settings=path)
        assert v2.weeks == (await calculate_forecast(session, books.account.id, as_of=MONDAY, settings=path)).weeks
        assert v2.weeks[0].inflows == Decimal("100")

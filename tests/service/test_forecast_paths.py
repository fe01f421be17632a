"""Property: for the same data, the schedule path and the legacy path give identical weeks."""

from __future__ import annotations

import asyncio
import itertools
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tamio.models  # noqa: F401  (every table)
from tamio.accounts.service import create_account
from tamio.currency.service import add_rate
from tamio.data.counterparties import BillingLine, CounterpartyService
from tamio.db import Base, create_engine, make_session_factory
from tamio.forecast.service import calculate_forecast
from tamio.obligations.models import ObligationType
from tamio.obligations.recurrence import BusinessDayConvention, Frequency, RecurrenceError
from tamio.obligations.schemas import RecurrenceSpec
from tests.conftest import secret_for_tests
from tests.service.books import LEGACY_PATH, SCHEDULE_PATH

AS_OF = date(2027, 1, 4)
CURRENCIES = {"USD": None, "EUR": Decimal("1.0832"), "GBP": Decimal("1.2611"), "JPY": Decimal("0.006712")}
KINDS = {"revenue": ObligationType.REVENUE, "expense": ObligationType.EXPENSE, "payroll": ObligationType.PAYROLL, "tax": ObligationType.TAX}
_names = itertools.count()

agreements = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(sorted(KINDS)),
        "frequency": st.sampled_from([f for f in Frequency if f != Frequency.CUSTOM]),
        "day": st.one_of(st.none(), st.integers(1, 31), st.just(-1)),
        "start": st.integers(0, 75).map(lambda d: AS_OF + timedelta(days=d)),
        "length": st.one_of(st.none(), st.integers(0, 120)),
        "currency": st.sampled_from(sorted(CURRENCIES)),
        "amount": st.integers(1, 5_000_000).map(lambda cents: Decimal(cents) / 100),
        "convention": st.sampled_from(list(BusinessDayConvention)),
        "calendar": st.sampled_from([None, "US", "GB"]),
        "delay": st.integers(0, 20),
        "interval": st.integers(1, 3),
    }
)


async def _scenario(url: str, rows: list[dict[str, object]]) -> None:
    engine = create_engine(url)
    try:
        if url.startswith("sqlite"):
            async with engine.begin() as connection:
                await connection.run_sync(Base.metadata.create_all)
        sessions = make_session_factory(engine, secret_for_tests())
        async with sessions() as session, session.begin():
            account = await create_account(session, name=f"Prop {next(_names)}", base_currency="USD")
            for code, rate in CURRENCIES.items():
                if rate is not None:
                    await add_rate(session, base_currency=code, quote_currency="USD", rate=rate, rate_date=AS_OF - timedelta(days=3), account_id=None)
            service = CounterpartyService(session, account=account, settings=SCHEDULE_PATH, today=AS_OF)
            for index, row in enumerate(rows):
                currency = str(row["currency"])
                amount = Decimal(str(row["amount"])).quantize(Decimal(1) if currency == "JPY" else Decimal("0.01"))
                if amount <= 0:
                    amount = Decimal(1)
                frequency = Frequency(row["frequency"])
                start = row["start"]
                assert isinstance(start, date)
                length = row["length"]
                spec = RecurrenceSpec(
                    frequency=frequency,
                    start_date=start,
                    end_date=start + timedelta(days=int(length)) if isinstance(length, int) and frequency != Frequency.ONCE else None,
                    day=row["day"] if frequency in (Frequency.MONTHLY, Frequency.QUARTERLY, Frequency.ANNUALLY) else None,  # type: ignore[arg-type]
                    interval=int(row["interval"]) if frequency == Frequency.WEEKLY else 1,  # type: ignore[call-overload]
                    convention=BusinessDayConvention(row["convention"]),
                    calendar=row["calendar"],  # type: ignore[arg-type]
                )
                try:
                    spec.rrule()
                except RecurrenceError:
                    continue  # an end date that leaves no payment at all is refused at entry
                line = BillingLine(amount, currency, spec, KINDS[str(row["kind"])])
                if row["kind"] == "revenue":
                    await service.create_client(name=f"Client {index}", billing=line, avg_payment_delay_days=row["delay"])
                else:
                    category = {"payroll": "payroll", "tax": "tax"}.get(str(row["kind"]), "operating")
                    await service.create_expense(name=f"Vendor {index}", billing=line, category=category)
            schedules = await calculate_forecast(session, account.id, as_of=AS_OF, settings=SCHEDULE_PATH)
            legacy = await calculate_forecast(session, account.id, as_of=AS_OF, settings=LEGACY_PATH)
            assert schedules.weeks == legacy.weeks, (rows, schedules.weeks, legacy.weeks)
            assert schedules.runway_weeks == legacy.runway_weeks
    finally:
        await engine.dispose()


def test_both_forecast_paths_agree_on_random_agreements(db_url: str) -> None:
    @settings(max_examples=25 if db_url.startswith("sqlite") else 10, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(st.lists(agreements, min_size=1, max_size=6))
    def check(rows: list[dict[str, object]]) -> None:
        asyncio.run(_scenario(db_url, rows))

    check()

"""The learned forecast with the database: exact without history, the 6 AM job's snapshots scored,
the band calibrated from them, and how a client pays on its card and in its summary."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import tamio.models  # noqa: F401  (registers every table)
from tamio.accounts.models import Account
from tamio.accounts.service import create_account
from tamio.db import create_engine, make_session_factory
from tamio.detection.configuration import EffectiveConfig
from tamio.detection.rules_counterparty import late_payment
from tamio.detection.snapshot import load_snapshot
from tamio.forecast.band import Calibration
from tamio.forecast.models import ForecastSnapshot
from tamio.forecast.service import calculate_forecast, load_forecast_inputs
from tamio.forecast.snapshots import forecast_accuracy
from tamio.obligations.client_summary import client_summary, summary_lines
from tamio.obligations.counterparties import BillingLine, CounterpartyService
from tamio.obligations.models import OPEN_SCHEDULE_STATUSES, ObligationSchedule, ObligationType
from tamio.obligations.payments import record_payment
from tamio.obligations.recurrence import Frequency
from tamio.obligations.schemas import RecurrenceSpec
from tamio.obligations.service import ObligationService
from tamio.scheduler.jobs import JobRun, morning
from tests.conftest import secret_for_tests
from tests.service.books import LEGACY_PATH, SCHEDULE_PATH, Books, at

AS_OF = date(2027, 1, 4)
_names = itertools.count()

lines = st.fixed_dictionaries({
    "revenue": st.booleans(),
    "frequency": st.sampled_from([Frequency.WEEKLY, Frequency.MONTHLY, Frequency.ONCE, Frequency.ONCE]),
    "start": st.integers(-60, 80),  # a one-off in the past is an overdue invoice
    "amount": st.integers(1, 5_000_000).map(lambda cents: Decimal(cents) / 100),
})


async def _no_history(url: str, rows: list[dict[str, object]]) -> None:
    engine = create_engine(url)
    try:
        async with make_session_factory(engine, secret_for_tests())() as session, session.begin():
            account = await create_account(session, name=f"New {next(_names)}", base_currency="USD", now=at(AS_OF))
            service = CounterpartyService(session, account=account, settings=SCHEDULE_PATH, today=AS_OF, now=at(AS_OF))
            for index, row in enumerate(rows):
                start = AS_OF + timedelta(days=int(str(row["start"])))
                frequency = Frequency(row["frequency"])
                if frequency != Frequency.ONCE and start < AS_OF:
                    start = AS_OF
                spec = RecurrenceSpec(frequency=frequency, start_date=start, day=start.day if frequency == Frequency.MONTHLY else None)
                amount = Decimal(str(row["amount"]))
                if row["revenue"]:
                    await service.create_client(name=f"Client {index}", billing=BillingLine(amount, "USD", spec, ObligationType.REVENUE))
                else:
                    await service.create_expense(name=f"Vendor {index}", billing=BillingLine(amount, "USD", spec, ObligationType.EXPENSE))
            forecasts = [await calculate_forecast(session, account.id, as_of=AS_OF, settings=path) for path in (SCHEDULE_PATH, LEGACY_PATH)]
            # The independent calculation: every open schedule on its due date (at once when overdue).
            inflows, outflows = [Decimal(0)] * 13, [Decimal(0)] * 13
            for s in (await session.execute(select(ObligationSchedule).where(
                ObligationSchedule.user_id == account.id, ObligationSchedule.status.in_(OPEN_SCHEDULE_STATUSES),
            ))).scalars():
                week = max(0, (s.due_date - AS_OF).days) // 7
                if week < 13:
                    target = inflows if s.direction.value == "inflow" else outflows
                    target[week] += (s.base_currency_amount or Decimal(0)) - s.paid_base_amount
            for forecast in forecasts:
                assert [w.inflows for w in forecast.weeks] == inflows and [w.outflows for w in forecast.weeks] == outflows
    finally:
        await engine.dispose()


def test_an_account_without_payment_history_forecasts_exactly_its_schedules(db_url: str) -> None:
    @settings(max_examples=20 if db_url.startswith("sqlite") else 8, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(st.lists(lines, min_size=1, max_size=6))
    def check(rows: list[dict[str, object]]) -> None:
        asyncio.run(_no_history(db_url, rows))

    check()


def six_am(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 6, 0, tzinfo=UTC)


async def test_the_morning_job_stores_the_forecast_and_scores_it_against_what_happened(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """A client that pays two weeks late, every morning for ten weeks: each morning stores a
    snapshot; a week later its first week is scored, and the band is calibrated from it."""
    start = date(2026, 9, 7)  # a Monday
    async with session_factory() as db, db.begin():
        books = await Books.open(db, today=start, name="Mornings")
        await books.cash("Operating", "20000")
        await books.client("Late Co", "5000", books.every("weekly", start))
        await books.expense("Rent", "3000", books.every("monthly", start, day=7))
        account_id = books.account.id
    for offset in range(70):
        day = start + timedelta(days=offset)
        async with session_factory() as db, db.begin():
            account = await db.get(Account, account_id)
            assert account is not None
            await morning(db, account, JobRun(job="morning", slot=six_am(day), now=six_am(day), settings=SCHEDULE_PATH))
            if offset >= 14 and offset % 7 == 0:  # this week's 5,000 pays the invoice of two weeks ago
                client = await books_client(db, account_id)
                await record_payment(db, account=account, amount=Decimal("5000"), currency="USD", payment_date=day, counterparty=client,
                                     invoice=(day - timedelta(days=14)).isoformat(), now=six_am(day) + timedelta(hours=3))
            if day.day == 7:
                rent = await books_vendor(db, account_id)
                await record_payment(db, account=account, amount=Decimal("3000"), currency="USD", payment_date=day, counterparty=rent,
                                     invoice=day.isoformat(), now=six_am(day) + timedelta(hours=3))
    today = start + timedelta(days=70)
    async with session_factory() as db:
        account = await db.get(Account, account_id)
        assert account is not None
        snapshots = (await db.execute(select(ForecastSnapshot).where(ForecastSnapshot.user_id == account_id))).scalars().all()
        accuracy = await forecast_accuracy(db, account=account, today=today, weeks=10)
        forecast = await calculate_forecast(db, account_id, as_of=today, settings=SCHEDULE_PATH)
    assert len(snapshots) == 70 and all(len(s.weeks) == 13 for s in snapshots)
    rows = {row.weeks_ahead: row for row in accuracy.rows}
    assert rows[1].forecasts == 64 and rows[4].forecasts == 43 and rows[13].forecasts == 0  # one per morning whose week has ended
    assert rows[4].improvement is not None and rows[4].improvement > Decimal("0.5")  # the due date expects 5,000 a week too early
    calibration = Calibration.from_json(account.forecast_calibration)
    assert calibration.horizons[0][0] > 0 and calibration.horizons[12][0] == 0  # scored at 1 week, nothing yet at 13
    assert forecast.to_json()["interval"] == "0.80" and all(w.low <= w.closing_balance <= w.high for w in forecast.weeks)


async def books_client(db: AsyncSession, account_id: str) -> object:
    from tamio.data.models import Client

    return (await db.execute(select(Client).where(Client.user_id == account_id))).scalar_one()


async def books_vendor(db: AsyncSession, account_id: str) -> object:
    from tamio.data.models import ExpenseBucket

    return (await db.execute(select(ExpenseBucket).where(ExpenseBucket.user_id == account_id))).scalar_one()


async def test_the_late_payment_card_and_the_summary_say_how_the_client_pays(session: AsyncSession) -> None:
    start = date(2026, 6, 1)
    books = await Books.open(session, today=start, name="Words")
    await books.cash("Operating", "0")
    acme = await books.client("Acme Corp", "4000", books.every("monthly", start, day=1))
    for month, late in zip(range(6, 12), (15, 15, 15, 30, 32, 34), strict=True):  # later lately
        due = date(2026, month, 1)
        await ObligationService(session, account=books.account, settings=SCHEDULE_PATH, today=due, now=at(due)).extend_horizon()
        await record_payment(session, account=books.account, amount=Decimal("4000"), currency="USD", payment_date=due + timedelta(days=late),
                             counterparty=acme, invoice=due.isoformat(), now=at(due + timedelta(days=late)))
    today = date(2027, 1, 20)  # December's invoice is 50 days late, later than usual; January's 19
    await ObligationService(session, account=books.account, settings=SCHEDULE_PATH, today=today, now=at(today)).extend_horizon()
    await session.refresh(acme)
    assert acme.payment_habit is not None and acme.payment_habit.startswith("usually pays") and acme.payment_habit.endswith("; lately later")
    snapshot = await load_snapshot(session, books.account.id, today=today, settings=SCHEDULE_PATH)
    findings = late_payment(snapshot, today=today, config=EffectiveConfig())
    assert [f.context["days_late"] for f in findings] == [50]
    assert f"Acme Corp {acme.payment_habit}, and you flag" in findings[0].explanation
    summary = await client_summary(session, account=books.account, name="acme corp", today=today)
    text = summary_lines(summary)
    assert text[0] == f"Acme Corp: {acme.payment_habit} (learned from 6 paid invoices)."
    assert text[1] == "Open: $8,000.00 in 2 invoices:" and "2026-12-01" in text[2] and "50 days late" in text[2] and "19 days late" in text[3]
    assert text[-2] == "Last paid $4,000.00 on Sat 5 Dec 2026."
    assert text[-1].startswith("Kind: ") and "payment risk" in text[-1]  # what the risk comes from (describe_standing)


async def test_a_behaviour_learned_again_the_same_day_is_read_afresh(session: AsyncSession) -> None:
    """Forecasts keep each client's decoded behaviour until it is learned again, known by its whole stored
    text: relearned the same day with the same first day and strength but other weights (the 6 AM job
    run again after a payment), the next forecast reads the new one (keyed by those fields, it read the old)."""
    books = await Books.open(session, today=date(2026, 12, 7), settings=SCHEDULE_PATH)
    client = await books.client("Acme Corp", "1000", books.every("monthly", date(2026, 12, 15), day=15))
    learned = {"first": 0, "weights": [50, 50], "observations": 3, "strength": 0.5, "learned_on": "2026-12-07", "lately": 0,
               "origin": "learned", "overdue_days": 0}
    habits = []
    for weights in ([50, 50], [10, 90]):
        client.payment_behaviour = {**learned, "weights": weights}
        await session.flush()
        inputs = await load_forecast_inputs(session, books.account.id, as_of=date(2026, 12, 7), settings=SCHEDULE_PATH)
        habits.append(inputs.habits.clients[client.id].weights)
    assert habits == [(50, 50), (10, 90)]

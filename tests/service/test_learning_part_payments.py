"""A client's lateness on an invoice is known when the invoice is settled (issue 16's learning).

Before, every payment matched to an invoice was one observation of how late the client pays: $2,000
of an $8,000 invoice paid 17 days late read as "pays 17 days late", so the late-payment alert on the
$6,000 left went quiet, and an invoice paid in three parts counted three times. Now an invoice is one
observation, when paid in full, at the payment that settled it; one still open (part paid or not)
is a censored one (at least that late), whatever was paid on it. The replay's backtest learns the same.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import tamio.models  # noqa: F401  (every table, for create_all)
from tamio.data.models import Client
from tamio.db import Base, create_engine, make_session_factory
from tamio.detection.models import AlertStatus, DetectionAlert, DetectionType
from tamio.forecast.accuracy import Ledger, LedgerPayment, LedgerSchedule, known_at
from tamio.obligations.counterparties import BillingLine
from tamio.obligations.habits import Observation, OpenReceivable, PaymentBehaviour
from tamio.obligations.habits_store import ledger_history
from tamio.obligations.models import ObligationSchedule, ObligationType, ScheduleStatus
from tamio.obligations.payments import record_payment
from tamio.obligations.service import ObligationService
from tamio.pipeline import PipelineConfig, run_detection_preparation_cycle
from tests.conftest import secret_for_tests
from tests.service.books import SCHEDULE_PATH, Books, at

MONDAY = date(2026, 12, 7)
DUE = date(2026, 11, 20)
_names = itertools.count()


async def pay(session: AsyncSession, books: Books, schedule: ObligationSchedule, amount: str, on: date) -> None:
    await record_payment(session, account=books.account, amount=Decimal(amount), currency="USD", payment_date=on, schedule=schedule,
                         adjust_balance=False, now=at(on))


async def the_invoice(session: AsyncSession) -> ObligationSchedule:
    return (await session.execute(select(ObligationSchedule).where(ObligationSchedule.estimated_amount == Decimal("8000")))).scalar_one()


async def test_an_invoice_paid_in_parts_is_one_observation_at_the_payment_that_settled_it(session: AsyncSession) -> None:
    books = await Books.open(session, today=DUE)
    acme = await books.client("Acme Corp", "8000", books.every("once", DUE))
    invoice = await the_invoice(session)

    await pay(session, books, invoice, "2000", date(2026, 11, 30))  # 10 days late, $6,000 still owed
    assert await ledger_history(session, account_id=books.account.id, as_of=MONDAY) == ([], [OpenReceivable(acme.id, 17)])
    await session.refresh(acme)
    assert acme.payment_behaviour is None and acme.avg_payment_delay_days == 0  # nothing settled: nothing learned of it yet

    await pay(session, books, invoice, "3000", date(2026, 12, 4))
    await pay(session, books, invoice, "3000", MONDAY)  # the rest, 17 days late: settled
    observations, still_open = await ledger_history(session, account_id=books.account.id, as_of=MONDAY)
    assert (observations, still_open) == ([Observation(acme.id, 17, MONDAY)], [])
    await session.refresh(acme)
    assert acme.payment_behaviour is not None and PaymentBehaviour.from_json(acme.payment_behaviour).observations == 1


async def test_a_part_payment_leaves_the_late_alert_standing(session: AsyncSession) -> None:
    books = await Books.open(session, today=MONDAY)
    await books.cash("Operating", "30000")
    await books.client("Acme Corp", "8000", books.every("once", DUE), contact_email="ap@acme.test")
    await session.commit()
    invoice = await the_invoice(session)
    # $2,000 comes 17 days late: before, Acme was learned as paying 17 days late, so $6,000 owed 17 days
    # was no later than usual and no alert said so.
    await pay(session, books, invoice, "2000", MONDAY)
    assert invoice.status == ScheduleStatus.PARTIALLY_PAID
    # The 6 AM job calls it overdue (as it is); what was paid stays on it, and the card says so.
    assert await ObligationService(session, account=books.account, settings=SCHEDULE_PATH, today=MONDAY, now=at(MONDAY)).mark_overdue() == 1
    assert (invoice.status, invoice.paid_amount) == (ScheduleStatus.OVERDUE, Decimal("2000"))
    await session.commit()
    result = await run_detection_preparation_cycle(session, books.account.id, PipelineConfig(), today=MONDAY, now=at(MONDAY), settings=SCHEDULE_PATH)
    assert result.errors == []
    alerts = (await session.execute(select(DetectionAlert).where(
        DetectionAlert.user_id == books.account.id, DetectionAlert.status == AlertStatus.ACTIVE,
        DetectionAlert.detection_type == DetectionType.LATE_PAYMENT,
    ))).scalars().all()
    assert [(a.title, a.context["schedule_id"]) for a in alerts] == [("Acme Corp is 17 days late", invoice.id)]
    assert "$2,000.00 of $8,000.00 paid on Mon 7 Dec, $6,000.00 is 17 days late; Acme Corp has paid no invoice in full yet" in alerts[0].explanation, (
        alerts[0].explanation)


def test_the_backtest_learns_an_invoice_once_when_it_is_settled() -> None:
    october = date(2026, 10, 20)
    schedules = (LedgerSchedule("oct", october, "inflow", "fixed", "manual", "acme", Decimal("8000")),
                 LedgerSchedule("nov", DUE, "inflow", "fixed", "manual", "acme", Decimal("8000")))
    payments = (LedgerPayment("oct", "inflow", Decimal("8000"), october),) + tuple(
        LedgerPayment("nov", "inflow", Decimal(amount), on) for amount, on in (("2000", date(2026, 11, 30)), ("3000", date(2026, 12, 4)), ("3000", MONDAY))
    )
    ledger = Ledger(schedules, payments)
    by_id = {s.id: s for s in schedules}
    _, part_paid = known_at(ledger, by_id, payments, cutoff=MONDAY, end=MONDAY + timedelta(days=90))
    assert (part_paid.clients["acme"].observations, part_paid.clients["acme"].overdue_days) == (1, 17)  # October; November open
    _, settled = known_at(ledger, by_id, payments, cutoff=MONDAY + timedelta(days=1), end=MONDAY + timedelta(days=90))
    assert (settled.clients["acme"].observations, settled.clients["acme"].overdue_days) == (2, 0)


# Invoices of one client: (days from AS_OF to the due date, [(days after the due date, share of the amount)]).
AS_OF = date(2026, 12, 7)
invoices = st.lists(
    st.tuples(st.integers(-120, 10), st.lists(st.tuples(st.integers(-5, 60), st.sampled_from(["0.25", "0.5", "1"])), max_size=3)),
    min_size=1, max_size=4,
)


async def _history(url: str, drawn: list[tuple[int, list[tuple[int, str]]]]) -> None:
    engine = create_engine(url)
    try:
        if url.startswith("sqlite"):
            async with engine.begin() as connection:
                await connection.run_sync(Base.metadata.create_all)
        async with make_session_factory(engine, secret_for_tests())() as session, session.begin():
            books = await Books.open(session, today=AS_OF, name=f"Parts {next(_names)}")
            client: Client | None = None
            expected_seen, expected_open = [], []
            for index, (due_in, parts) in enumerate(drawn):
                due = AS_OF + timedelta(days=due_in)
                amount = Decimal(1000 + index)  # each invoice told apart by its amount
                spec = books.every("once", due)
                if client is None:
                    client = await books.client("Acme Corp", str(amount), spec)
                else:
                    await books.service.add_billing_line(client, BillingLine(amount, "USD", spec, ObligationType.REVENUE))
                schedule = (await session.execute(select(ObligationSchedule).where(
                    ObligationSchedule.user_id == books.account.id, ObligationSchedule.estimated_amount == amount,
                ))).scalar_one()
                owed, last = amount, None
                for late, share in sorted(parts):
                    on = due + timedelta(days=late)
                    if owed <= 0 or on > AS_OF:
                        continue
                    part = min(owed, (amount * Decimal(share)).quantize(Decimal("0.01")))
                    await pay(session, books, schedule, str(part), on)
                    owed, last = owed - part, on
                if owed <= 0 and last is not None:
                    expected_seen.append(Observation(client.id, (last - due).days, last))
                elif due < AS_OF:
                    expected_open.append(OpenReceivable(client.id, (AS_OF - due).days))
            seen, still_open = await ledger_history(session, account_id=books.account.id, as_of=AS_OF)
            key = lambda o: (o.paid_on, o.days_late)  # noqa: E731
            assert sorted(seen, key=key) == sorted(expected_seen, key=key)
            assert sorted(still_open, key=lambda r: r.days_open) == sorted(expected_open, key=lambda r: r.days_open)
    finally:
        await engine.dispose()


def test_each_invoice_is_learned_once_settled_and_open_ones_as_at_least_that_late(db_url: str) -> None:
    @settings(max_examples=25 if db_url.startswith("sqlite") else 8, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(invoices)
    def check(drawn: list[tuple[int, list[tuple[int, str]]]]) -> None:
        asyncio.run(_history(db_url, drawn))

    check()

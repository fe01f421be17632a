"""The 13-week forecast read like a business's books, on both forecast paths."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.accounts.models import Account
from tamio.config import Settings
from tamio.data.models import CashAccount, Client
from tamio.db import read_only
from tamio.forecast.engine import Forecast
from tamio.forecast.service import (
    calculate_forecast,
    calculate_forecast_v2,
    extend_schedules,
    forecast_for_account,
)
from tamio.obligations.backfill import backfill_schedules
from tamio.obligations.models import ObligationAgreement, ObligationSchedule
from tamio.obligations.payments import record_payment
from tamio.obligations.recurrence import Frequency
from tamio.obligations.schemas import RecurrenceSpec
from tamio.obligations.service import ObligationService
from tests.service.books import LEGACY_PATH, SCHEDULE_PATH, Books, at

MONDAY = date(2026, 12, 7)


async def test_weeks_balances_and_lowest_point(session: AsyncSession) -> None:
    books = await Books.open(session, today=MONDAY)
    await books.cash("Operating", "48250")
    await books.cash("Savings", "1000", account_type="savings")
    await books.cash("Credit line", "0", account_type="credit_line", credit_limit=Decimal("20000"))
    await books.client("Acme Corp", "12000", books.every("once", date(2026, 12, 9)))
    await books.expense("Payroll", "42000", books.every("semimonthly", date(2026, 12, 15)), category="payroll")
    forecast = await on_schedules(session, books.account.id, MONDAY)
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
    forecast = await on_schedules(session, books.account.id, MONDAY)
    # Due Tue 8 Dec, expected Sun 20 Dec: the second week (14-20 Dec).
    assert forecast.weeks[0].inflows == 0 and forecast.weeks[1].inflows == Decimal("3000")
    assert forecast.weeks[1].confidence_score < Decimal("0.9")


async def test_overdue_items_land_in_week_one_without_payment_history(session: AsyncSession) -> None:
    books = await Books.open(session, today=date(2026, 11, 1))
    await books.cash("Operating", "10000")
    await books.client("Late Co", "8000", books.every("once", date(2026, 11, 20)))
    forecast = await on_schedules(session, books.account.id, MONDAY)
    assert forecast.weeks[0].inflows == Decimal("8000")
    assert forecast.weeks[0].confidence == "low"


async def test_a_partial_payment_leaves_what_remains_spread_after_today(session: AsyncSession) -> None:
    """Paid in part 5 days late and still open 17 days after its due date: the 5,000 left is counted
    once, after today (it is later than this client has paid so far), and less surely."""
    books = await Books.open(session, today=date(2026, 11, 1))
    await books.cash("Operating", "10000")
    await books.client("Late Co", "8000", books.every("once", date(2026, 11, 20)))
    schedule = (await session.execute(select(ObligationSchedule))).scalar_one()
    await record_payment(session, account=books.account, amount=Decimal("3000"), currency="USD", payment_date=date(2026, 11, 25), schedule=schedule, adjust_balance=False, now=at(date(2026, 11, 25)))
    forecast = await on_schedules(session, books.account.id, MONDAY)
    assert sum((w.inflows for w in forecast.weeks), Decimal(0)) == Decimal("5000")
    assert all(w.confidence_score < Decimal("0.9") for w in forecast.weeks if w.inflows)


async def test_leap_february_month_ends_and_a_eur_invoice(session: AsyncSession) -> None:
    books = await Books.open(session, today=date(2028, 1, 3))
    await books.rate("EUR", "USD", "1.10", on=date(2028, 1, 1))
    await books.client("Month End Ltd", "1000", books.every("monthly", date(2028, 1, 31), day=31))
    await books.client("Berlin GmbH", "2000", books.every("once", date(2028, 2, 29)), currency="EUR")
    forecast = await on_schedules(session, books.account.id, date(2028, 1, 3))
    feb29 = forecast.week_of(date(2028, 2, 29))
    assert feb29 is not None and feb29.inflows == Decimal("1000") + Decimal("2200")


async def test_both_paths_give_the_same_weeks(session: AsyncSession) -> None:
    books = await Books.open(session, today=MONDAY)
    await books.cash("Operating", "5000")
    await books.client("A", "100", books.every("weekly", date(2026, 12, 9)))
    await books.client("B", "250.50", books.every("monthly", date(2026, 12, 31), day=-1), avg_payment_delay_days=4)
    await books.expense("Rent", "900", books.every("monthly", date(2026, 12, 1), day=1, convention="following", calendar="US"))
    await books.expense("VAT", "1200", books.every("quarterly", date(2027, 1, 31), day=31), category="tax")
    schedules = await on_schedules(session, books.account.id, MONDAY)
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


# -- one forecast: the states of issue 15, each on both paths -------------------------------------


async def on_schedules(session: AsyncSession, account_id: str, as_of: date, weeks: int = 13) -> Forecast:
    """The forecast read from schedules generated through its last day (extended first, as a writer does)."""
    end = as_of + timedelta(weeks=weeks, days=-1)
    await extend_schedules(session, account_id=account_id, through=end, settings=SCHEDULE_PATH, today=as_of, now=at(as_of))
    account = await session.get(Account, account_id)
    assert account is not None and account.schedules_through is not None and account.schedules_through >= end  # not the lines
    return await calculate_forecast(session, account_id, as_of=as_of, weeks=weeks, settings=SCHEDULE_PATH)


async def both(session: AsyncSession, books: Books, as_of: date = MONDAY) -> tuple[Forecast, Forecast]:
    """The forecast on the schedules path and on the legacy path, which must agree."""
    schedules = await on_schedules(session, books.account.id, as_of)
    legacy = await calculate_forecast(session, books.account.id, as_of=as_of, settings=LEGACY_PATH)
    assert schedules.weeks == legacy.weeks
    return schedules, legacy


def test_the_default_settings_forecast_from_schedules_and_payments() -> None:
    assert Settings.model_fields["use_obligation_for_forecast"].default is True


async def test_a_recorded_payment_is_counted_once(session: AsyncSession) -> None:
    books = await Books.open(session, today=MONDAY)
    await books.cash("Operating", "10000")
    acme = await books.client("Acme Corp", "5000", books.every("monthly", date(2026, 12, 9), day=9))
    before, _ = await both(session, books)
    assert (before.opening_balance, before.weeks[0].inflows) == (Decimal("10000"), Decimal("5000"))
    await record_payment(session, account=books.account, amount=Decimal("5000"), currency="USD", payment_date=MONDAY, counterparty=acme, now=at(MONDAY))
    after, _ = await both(session, books)
    assert (after.opening_balance, after.weeks[0].inflows) == (Decimal("15000"), Decimal("0"))
    # Early, not twice (Acme's later invoices are now expected a little early: the horizon's total is the same).
    assert [w.closing_balance for w in after.weeks][:8] == [w.closing_balance for w in before.weeks][:8]
    assert after.weeks[-1].closing_balance == before.weeks[-1].closing_balance


async def test_an_executed_delay_moves_the_payment(session: AsyncSession) -> None:
    from tamio.execution.executors.base import ExecutionContext
    from tamio.execution.executors.schedules import DelayPayment
    from tests.service.execution_factories import first_option, make_action, option

    books = await Books.open(session, today=MONDAY)
    await books.cash("Operating", "10000")
    host = await books.expense("Cloud Host", "2500", books.every("once", date(2026, 12, 10)), flexibility_level="can_delay")
    schedule = (await session.execute(select(ObligationSchedule))).scalar_one()
    params = {"moves": [{"schedule_id": schedule.id, "new_date": "2027-01-08"}], "notify_vendor": False}
    action = await make_action(session, books.account, "vendor_delay", options=[option("delay_payment", params)])
    ctx = ExecutionContext(db=session, account=books.account, action=action, option=await first_option(session, action),
                           settings=SCHEDULE_PATH, now=at(MONDAY), today=MONDAY)
    await DelayPayment().apply(ctx, params)
    forecast, _ = await both(session, books)
    assert forecast.weeks[0].outflows == 0 and forecast.week_of(date(2027, 1, 8)).outflows == Decimal("2500")  # type: ignore[union-attr]
    assert host.delay_history and host.delay_history[0]["to"] == "2027-01-08"
    # The next morning's regeneration keeps the agreed date.
    await ObligationService(session, account=books.account, settings=SCHEDULE_PATH, today=MONDAY + timedelta(days=4), now=at(MONDAY)).extend_horizon()
    assert (await both(session, books, MONDAY + timedelta(days=4)))[0].week_of(date(2027, 1, 8)).outflows == Decimal("2500")  # type: ignore[union-attr]


async def test_an_overdue_receivable_is_expected_when_the_client_usually_pays(session: AsyncSession) -> None:
    books = await Books.open(session, today=date(2026, 11, 25))
    await books.client("Slow Co", "3000", books.every("once", date(2026, 12, 2)), avg_payment_delay_days=20)
    await books.client("Prompt Co", "1000", books.every("once", date(2026, 12, 2)))
    forecast, _ = await both(session, books)  # Mon 7 Dec: both are 5 days overdue
    # Slow Co usually pays 20 days late: expected Tue 22 Dec, in the third week; Prompt Co is later
    # than usual, so any day now (week 1), with the overdue penalty.
    assert [w.inflows for w in forecast.weeks[:3]] == [Decimal("1000"), Decimal("0"), Decimal("3000")]
    assert forecast.weeks[0].confidence == "low"
    assert sum(w.inflows for w in forecast.weeks) == Decimal("4000")  # each counted once


async def test_a_paused_client_is_not_expected_to_invoice_but_still_owes_what_it_owes(session: AsyncSession) -> None:
    books = await Books.open(session, today=date(2026, 11, 2))
    acme = await books.client("Acme Corp", "2000", books.every("monthly", date(2026, 11, 16), day=16))
    await books.client("Acme Corp Old", "700", books.every("once", date(2026, 11, 3)))
    await books.service.update_client(acme, status="paused")
    paused, _ = await both(session, books)  # Mon 7 Dec: November's invoice is overdue, December's on
    assert sum(w.inflows for w in paused.weeks) == Decimal("2000") + Decimal("700")  # only what is already owed
    await books.service.update_client(acme, status="active")
    resumed, _ = await both(session, books)
    assert sum(w.inflows for w in resumed.weeks) == Decimal("2000") * 4 + Decimal("700")  # Nov (overdue), Dec, Jan, Feb


async def test_a_credit_draw_and_its_early_repayment(session: AsyncSession) -> None:
    from tamio.execution.executors.base import ExecutionContext
    from tamio.execution.executors.cash import CreditDraw, Transfer
    from tests.service.execution_factories import first_option, make_action, option

    books = await Books.open(session, today=MONDAY)
    await books.cash("Operating", "1000")
    await books.cash("Credit line", "0", account_type="credit_line", credit_limit=Decimal("20000"))
    line, operating = (await session.execute(select(CashAccount).order_by(CashAccount.name))).scalars().all()

    async def carry_out(executor: Any, params: dict[str, Any]) -> None:
        action = await make_action(session, books.account, "credit_line_draw", options=[option(executor.kind, params)])
        ctx = ExecutionContext(db=session, account=books.account, action=action, option=await first_option(session, action),
                               settings=SCHEDULE_PATH, now=at(MONDAY), today=MONDAY)
        await executor.apply(ctx, params)

    await carry_out(CreditDraw(), {"cash_account_id": line.id, "amount": "6000", "repayment_date": "2027-01-15", "interest": "60"})
    drawn, _ = await both(session, books)
    assert drawn.opening_balance == Decimal("7000") and drawn.week_of(date(2027, 1, 15)).outflows == Decimal("6060")  # type: ignore[union-attr]
    await carry_out(Transfer(), {"from_cash_account_id": operating.id, "to_cash_account_id": line.id, "amount": "4000"})
    repaid, _ = await both(session, books)
    assert repaid.opening_balance == Decimal("3000") and repaid.week_of(date(2027, 1, 15)).outflows == Decimal("2060")  # type: ignore[union-attr]


async def test_a_synced_xero_invoice_is_in_both_paths(session: AsyncSession) -> None:
    books = await Books.open(session, today=MONDAY)
    cafe = await books.service.create_client(name="Harbour Cafe", source="xero")
    service = ObligationService(session, account=books.account, settings=SCHEDULE_PATH, today=MONDAY, now=at(MONDAY))
    for due, amount in ((date(2026, 11, 30), "1500"), (date(2026, 12, 21), "800")):  # as Xero's invoices become obligations
        agreement = await service.create_obligation_from_client(
            cafe, RecurrenceSpec(Frequency.ONCE, start_date=due), amount=Decimal(amount), currency="USD", source="xero", import_key=f"xero:{due}",
        )
        for schedule in await service.schedules_of(agreement):
            schedule.source, schedule.invoice_number = "xero", f"INV-{due.day}"
    forecast, _ = await both(session, books)
    assert [w.inflows for w in forecast.weeks[:3]] == [Decimal("1500"), Decimal("0"), Decimal("800")]


async def test_switching_the_flag_on_backfills_an_account_that_forecast_from_billing_lines(session: AsyncSession) -> None:
    no_obligations = SCHEDULE_PATH.model_copy(update={"use_obligation_system": False})
    books = await Books.open(session, today=MONDAY, settings=no_obligations)
    await books.cash("Operating", "5000")
    await books.client("Acme Corp", "5000", books.every("monthly", date(2026, 12, 15), day=15))
    await books.expense("Rent", "1200", books.every("monthly", date(2027, 1, 1), day=1))
    assert (await session.execute(select(ObligationAgreement))).scalars().all() == []
    legacy = await calculate_forecast(session, books.account.id, as_of=MONDAY, settings=LEGACY_PATH)
    assert (await calculate_forecast(session, books.account.id, as_of=MONDAY, settings=SCHEDULE_PATH)).weeks == legacy.weeks
    assert (await session.execute(select(ObligationAgreement))).scalars().all() == []  # reading wrote nothing
    schedules = await on_schedules(session, books.account.id, MONDAY)
    assert schedules.weeks == legacy.weeks and sum(w.inflows for w in schedules.weeks) == Decimal("15000")  # not flat
    assert len((await session.execute(select(ObligationAgreement))).scalars().all()) == 2
    assert books.account.schedules_through is not None and books.account.schedules_through >= MONDAY + timedelta(weeks=13)
    lines = [line for c in (await session.execute(select(Client))).scalars() for line in c.billing_config["lines"]]
    assert all(line["agreement_id"] for line in lines)
    again = await backfill_schedules(session, account=books.account, settings=SCHEDULE_PATH, today=MONDAY, now=at(MONDAY))
    assert (again.agreements_created, again.schedules_changed) == (0, 0)


async def test_a_forecast_past_the_generated_horizon_generates_first(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with session_factory() as session, session.begin():
        books = await Books.open(session, today=MONDAY)
        await books.client("Acme Corp", "100", books.every("weekly", date(2026, 12, 8)))
        await extend_schedules(session, account_id=books.account.id, through=MONDAY + timedelta(weeks=13), settings=SCHEDULE_PATH,
                               today=MONDAY, now=at(MONDAY))
        account_id, first_horizon = books.account.id, books.account.schedules_through
    later = MONDAY + timedelta(weeks=8)  # no daily job ran since: schedules stop at the first horizon
    forecast = await forecast_for_account(session_factory, account_id, today=later, now=at(later), settings=SCHEDULE_PATH)
    # Eight weeks unpaid (overdue, all expected now) and every week to the end, past the first horizon.
    assert [w.inflows for w in forecast.weeks] == [Decimal("900")] + [Decimal("100")] * 12
    async with session_factory() as session:
        account = await session.get(Account, account_id)
        assert account is not None and first_horizon is not None and account.schedules_through is not None
        assert account.schedules_through >= later + timedelta(weeks=13, days=-1) > first_horizon  # extended, and committed
        assert (await calculate_forecast(session, account_id, as_of=later, settings=LEGACY_PATH)).weeks == forecast.weeks


async def test_reading_a_forecast_past_the_stored_schedules_writes_nothing(session_factory: async_sessionmaker[AsyncSession]) -> None:
    """Issue 17 item 2: a read (GET /forecast, App Home, the chart link) computes beyond the stored
    schedules from the billing lines, the same weeks, and writes nothing."""
    async with session_factory() as session, session.begin():
        books = await Books.open(session, today=MONDAY)
        await books.client("Acme Corp", "100", books.every("weekly", date(2026, 12, 8)))
        await extend_schedules(session, account_id=books.account.id, through=MONDAY + timedelta(weeks=13), settings=SCHEDULE_PATH,
                               today=MONDAY, now=at(MONDAY))
        account_id, first_horizon = books.account.id, books.account.schedules_through

    async def stored(session: AsyncSession) -> tuple[Any, ...]:
        count = len((await session.execute(select(ObligationSchedule.id))).all())
        return count, (await session.get(Account, account_id, populate_existing=True)).schedules_through  # type: ignore[union-attr]

    async with session_factory() as session, session.begin():  # a writing transaction, as an API GET has
        before = await stored(session)
        long = await calculate_forecast(session, account_id, as_of=MONDAY, weeks=26, settings=SCHEDULE_PATH)
        assert await stored(session) == before == (before[0], first_horizon)
        assert not session.new and not session.dirty
    assert [w.inflows for w in long.weeks] == [Decimal("100")] * 26
    extended = await forecast_for_account(session_factory, account_id, today=MONDAY, now=at(MONDAY), settings=SCHEDULE_PATH, weeks=26)
    assert extended.weeks == long.weeks
    async with session_factory() as session:
        assert (await stored(session))[0] > before[0]  # the core function extended them, in its own transaction


async def test_a_read_only_transaction_that_cannot_backfill_reads_the_billing_lines(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with session_factory() as session, session.begin():
        books = await Books.open(session, today=MONDAY)
        await books.client("Acme Corp", "100", books.every("weekly", date(2026, 12, 8)))
        account_id = books.account.id
    async with session_factory() as session:
        read_only(session)
        forecast = await calculate_forecast(session, account_id, as_of=MONDAY, settings=SCHEDULE_PATH)
        assert [w.inflows for w in forecast.weeks] == [Decimal("100")] * 13
        assert (await session.get(Account, account_id)).schedules_through is None  # type: ignore[union-attr]


async def test_the_daily_job_does_not_pass_for_a_backfill(session: AsyncSession) -> None:
    no_obligations = SCHEDULE_PATH.model_copy(update={"use_obligation_system": False})
    books = await Books.open(session, today=MONDAY, settings=no_obligations)
    await books.client("Acme Corp", "5000", books.every("monthly", date(2026, 12, 15), day=15))
    await ObligationService(session, account=books.account, settings=SCHEDULE_PATH, today=MONDAY, now=at(MONDAY)).extend_horizon()
    assert books.account.schedules_through is None  # its line still has no agreement behind it
    schedules, _ = await both(session, books)
    assert sum(w.inflows for w in schedules.weeks) == Decimal("15000")

"""Clients and expenses create their obligations; schedules follow them; payments settle them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.audit.models import AuditLog
from tamio.errors import LockedField, MissingExchangeRate
from tamio.events.models import CashEvent
from tamio.obligations.counterparties import BillingLine
from tamio.obligations.models import (
    ObligationAgreement,
    ObligationSchedule,
    ObligationType,
    PaymentEvent,
    ScheduleStatus,
)
from tamio.obligations.payments import record_payment
from tamio.obligations.service import ObligationService
from tests.service.books import Books, at

TODAY = date(2026, 12, 1)


async def schedules_of(session: AsyncSession, agreement_id: str) -> list[ObligationSchedule]:
    rows = await session.execute(
        select(ObligationSchedule).where(ObligationSchedule.obligation_id == agreement_id).order_by(ObligationSchedule.due_date)
    )
    return list(rows.scalars().all())


async def only_agreement(session: AsyncSession, **where: str) -> ObligationAgreement:
    stmt = select(ObligationAgreement)
    for key, value in where.items():
        stmt = stmt.where(getattr(ObligationAgreement, key) == value)
    return (await session.execute(stmt)).scalar_one()


async def test_a_client_creates_its_agreement_and_three_months_of_schedules(session: AsyncSession) -> None:
    books = await Books.open(session, today=TODAY)
    client = await books.client("Acme Corp", "5000", books.every("monthly", date(2026, 12, 31), day=31))
    agreement = await only_agreement(session, client_id=client.id)
    assert agreement.obligation_type == ObligationType.REVENUE and agreement.base_amount == Decimal("5000.000")
    dues = [s.due_date for s in await schedules_of(session, agreement.id)]
    # 31 means the month's last day; the horizon is 3 months and at least 13 weeks.
    assert dues == [date(2026, 12, 31), date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31)][: len(dues)]
    assert date(2027, 2, 28) in dues
    audit = (await session.execute(select(AuditLog.entity_type).where(AuditLog.user_id == books.account.id))).scalars().all()
    assert "client" in audit and "obligation_agreement" in audit


async def test_regeneration_is_idempotent_and_replaces_only_future_unpaid(session: AsyncSession) -> None:
    books = await Books.open(session, today=TODAY)
    client = await books.client("Beta LLC", "1000", books.every("monthly", date(2026, 12, 15), day=15))
    agreement = await only_agreement(session, client_id=client.id)
    first = await schedules_of(session, agreement.id)
    await record_payment(session, account=books.account, amount=Decimal("1000"), currency="USD", payment_date=date(2026, 12, 15), schedule=first[0])
    later = ObligationService(session, account=books.account, settings=books.settings, today=date(2026, 12, 20), now=at(date(2026, 12, 20)))
    assert await later.generate_schedules(agreement) > 0  # extends the horizon by a month
    assert await later.generate_schedules(agreement) == 0  # running it twice changes nothing
    line = BillingLine(Decimal("1200"), "USD", books.every("monthly", date(2026, 12, 15), day=15), ObligationType.REVENUE)
    await books.service.update_client(client, billing=line)
    rows = await schedules_of(session, agreement.id)
    assert rows[0].status == ScheduleStatus.PAID and rows[0].estimated_amount == Decimal("1000")
    assert {r.estimated_amount for r in rows[1:]} == {Decimal("1200")}


async def test_cancelling_cancels_future_schedules(session: AsyncSession) -> None:
    books = await Books.open(session, today=TODAY)
    bucket = await books.expense("Cloud Host", "2500", books.every("monthly", date(2026, 12, 10), day=10))
    agreement = await only_agreement(session, expense_bucket_id=bucket.id)
    service = ObligationService(session, account=books.account, settings=books.settings, today=TODAY, now=at(TODAY))
    cancelled = await service.cancel_agreement(agreement)
    assert cancelled == len(await schedules_of(session, agreement.id)) > 0
    assert {s.status for s in await schedules_of(session, agreement.id)} == {ScheduleStatus.CANCELLED}


@pytest.mark.parametrize(
    ("paid", "status", "variance"),
    [("5000", ScheduleStatus.PAID, "0"), ("2000", ScheduleStatus.PARTIALLY_PAID, "-3000"), ("5500", ScheduleStatus.PAID, "500")],
)
async def test_payments_move_the_schedule_and_record_variance(session: AsyncSession, paid: str, status: ScheduleStatus, variance: str) -> None:
    books = await Books.open(session, today=TODAY)
    await books.cash("Operating", "10000")
    client = await books.client("Acme Corp", "5000", books.every("once", date(2026, 12, 5)))
    schedule = (await schedules_of(session, (await only_agreement(session, client_id=client.id)).id))[0]
    outcome = await record_payment(session, account=books.account, amount=Decimal(paid), currency="USD", payment_date=date(2026, 12, 6), schedule=schedule)
    assert schedule.status == status
    assert outcome.payment.variance_vs_expected == Decimal(variance)


async def test_a_payment_without_a_schedule_pays_the_oldest_open_month_first(session: AsyncSession) -> None:
    books = await Books.open(session, today=TODAY)
    await books.cash("Operating", "10000")
    client = await books.client("Acme Corp", "5000", books.every("monthly", date(2026, 12, 5), day=5))
    first = await record_payment(session, account=books.account, amount=Decimal("4990"), currency="USD", payment_date=date(2026, 12, 9), counterparty=client)
    assert first.schedule is not None and first.schedule.due_date == date(2026, 12, 5) and first.schedule.status == ScheduleStatus.PARTIALLY_PAID
    rest = await record_payment(session, account=books.account, amount=Decimal("77"), currency="USD", payment_date=date(2026, 12, 9), counterparty=client)
    assert [(p.schedule.due_date if p.schedule else None, p.amount) for p in rest.parts] == [
        (date(2026, 12, 5), Decimal("10")), (date(2027, 1, 5), Decimal("67")),
    ]
    count = (await session.execute(select(func.count()).select_from(PaymentEvent).where(PaymentEvent.schedule_id.is_(None)))).scalar_one()
    assert count == 0


async def test_a_eur_invoice_in_a_usd_business_is_converted_at_write_time(session: AsyncSession) -> None:
    books = await Books.open(session, today=TODAY)
    with pytest.raises(MissingExchangeRate):
        await books.client("Müller GmbH", "5000", books.every("once", date(2026, 12, 20)), currency="EUR")
    await books.rate("EUR", "USD", "1.08", on=date(2026, 11, 30))
    client = await books.client("Berlin GmbH", "5000", books.every("once", date(2026, 12, 20)), currency="EUR")
    agreement = await only_agreement(session, client_id=client.id)
    assert (agreement.currency, agreement.base_currency_amount, agreement.exchange_rate_used) == ("EUR", Decimal("5400"), Decimal("1.08"))
    schedule = (await schedules_of(session, agreement.id))[0]
    assert schedule.base_currency_amount == Decimal("5400")


async def test_locked_fields_are_refused(session: AsyncSession) -> None:
    books = await Books.open(session, today=TODAY)
    client = await books.service.create_client(name="Xero Co", source="xero")
    client.locked_fields = ["name"]
    with pytest.raises(LockedField, match="Xero"):
        await books.service.update_client(client, name="Other")


async def test_cash_events_follow_the_migration_path(session: AsyncSession) -> None:
    books = await Books.open(session, today=TODAY)
    await books.client("Acme Corp", "5000", books.every("monthly", date(2026, 12, 15), day=15))
    sources = set((await session.execute(select(CashEvent.source))).scalars())
    assert sources == {"legacy"}
    phase3 = Books(session, books.account, TODAY, books.settings.model_copy(update={"deprecate_direct_cash_events": True}))
    await phase3.client("Beta LLC", "100", books.every("monthly", date(2026, 12, 15), day=15))
    linked = (await session.execute(select(func.count()).select_from(CashEvent).where(CashEvent.schedule_id.is_not(None)))).scalar_one()
    assert linked > 0


async def test_payroll_on_a_holiday_moves_to_the_previous_business_day(session: AsyncSession) -> None:
    books = await Books.open(session, today=TODAY)
    spec = books.every("monthly", date(2026, 12, 25), day=25, convention="preceding", calendar="US")
    bucket = await books.expense("Payroll", "42000", spec, category="payroll")
    dues = [s.due_date for s in await schedules_of(session, (await only_agreement(session, expense_bucket_id=bucket.id)).id)]
    assert dues[0] == date(2026, 12, 24)  # Christmas Day is a US holiday
    assert at(TODAY).tzinfo is not None


async def test_names_match_ignoring_case_in_any_script(session: AsyncSession) -> None:
    books = await Books.open(session, today=TODAY)
    await books.cash("Épargne", "100")
    await books.cash("ÉPARGNE", "250")
    from tamio.data.service import list_cash_accounts

    accounts = await list_cash_accounts(session, account_id=books.account.id)
    assert [(a.name, a.balance) for a in accounts] == [("Épargne", Decimal("250"))]
    await books.service.create_client(name="Müller GmbH")
    with pytest.raises(Exception, match="already a client"):
        await books.service.create_client(name="MÜLLER GMBH")


async def test_a_delayed_payment_survives_the_daily_regeneration_after_its_original_date(session: AsyncSession) -> None:
    # Found by the forecast paths property test: the daily job deleted a payment moved past its rule date.
    books = await Books.open(session, today=TODAY)
    vendor = await books.expense("Cloud Host", "2500", books.every("monthly", date(2026, 12, 1), day=1))
    schedule = (await schedules_of(session, (await only_agreement(session, expense_bucket_id=vendor.id)).id))[0]
    schedule.delayed_from, schedule.due_date = schedule.due_date, date(2026, 12, 20)
    await session.flush()
    later = date(2026, 12, 3)
    await ObligationService(session, account=books.account, settings=books.settings, today=later, now=at(later)).extend_horizon()
    dues = [s.due_date for s in await schedules_of(session, schedule.obligation_id)]
    assert dues[:2] == [date(2026, 12, 20), date(2027, 1, 1)]

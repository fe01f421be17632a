"""PaymentEvents: what was actually paid, against what was expected.

Recording a payment against a schedule (full, partial or over) sets ``variance_vs_expected``
(actual - expected, positive = overpaid) and moves the schedule to partially_paid or paid. A
payment without a schedule is matched to the likeliest open schedule of that counterparty (its
remaining amount within ``AMOUNT_TOLERANCE``, its due date within ``DATE_WINDOW_DAYS``), or kept
unmatched and visible. Money received or paid also moves the cash account's balance, so the
forecast neither loses nor double-counts it. A client's usual delay is the mean of its last
payments' days late.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account
from tamio.audit.service import AuditService
from tamio.currency.service import RateBook
from tamio.data.models import CashAccount, CashAccountType, Client, ExpenseBucket
from tamio.db import utcnow
from tamio.errors import NotFound, ValidationError
from tamio.money import normalize_currency, quantize
from tamio.obligations.models import (
    OPEN_SCHEDULE_STATUSES,
    Direction,
    ObligationAgreement,
    ObligationSchedule,
    PaymentEvent,
    ScheduleStatus,
)

AMOUNT_TOLERANCE = Decimal("0.05")  # 5 % of the remaining amount
DATE_WINDOW_DAYS = 45
DELAY_SAMPLE = 6


@dataclass(frozen=True)
class PaymentOutcome:
    payment: PaymentEvent
    schedule: ObligationSchedule | None
    matched: bool


def _remaining(schedule: ObligationSchedule) -> Decimal:
    return max(Decimal(0), schedule.estimated_amount - schedule.paid_amount)


async def _primary_cash_account(db: AsyncSession, account_id: str) -> CashAccount | None:
    rows = (
        await db.execute(
            select(CashAccount)
            .where(CashAccount.user_id == account_id, CashAccount.account_type != CashAccountType.CREDIT_LINE)
            .order_by(CashAccount.is_primary.desc(), CashAccount.created_at, CashAccount.id)
        )
    ).scalars().all()
    return rows[0] if rows else None


async def find_match(
    db: AsyncSession, *, account_id: str, counterparty: Client | ExpenseBucket, amount: Decimal, payment_date: date, direction: Direction
) -> ObligationSchedule | None:
    column = ObligationAgreement.client_id if isinstance(counterparty, Client) else ObligationAgreement.expense_bucket_id
    candidates = (
        await db.execute(
            select(ObligationSchedule)
            .join(ObligationAgreement, ObligationAgreement.id == ObligationSchedule.obligation_id)
            .where(
                ObligationSchedule.user_id == account_id,
                column == counterparty.id,
                ObligationSchedule.direction == direction,
                ObligationSchedule.status.in_(OPEN_SCHEDULE_STATUSES),
            )
        )
    ).scalars().all()
    best: tuple[Decimal, int, ObligationSchedule] | None = None
    for schedule in candidates:
        remaining = _remaining(schedule)
        if remaining <= 0:
            continue
        gap = abs(amount - remaining)
        days = abs((schedule.due_date - payment_date).days)
        if gap > remaining * AMOUNT_TOLERANCE or days > DATE_WINDOW_DAYS:
            continue
        score = (gap / remaining, days, schedule)
        if best is None or score[:2] < best[:2]:
            best = score
    return best[2] if best else None


async def record_payment(
    db: AsyncSession,
    *,
    account: Account,
    amount: Decimal,
    currency: str,
    payment_date: date,
    schedule: ObligationSchedule | None = None,
    counterparty: Client | ExpenseBucket | None = None,
    direction: Direction | None = None,
    reference: str | None = None,
    source: str = "manual",
    cash_account: CashAccount | None = None,
    adjust_balance: bool = True,
    actor: str = "system",
    now: datetime | None = None,
    details: dict[str, Any] | None = None,
) -> PaymentOutcome:
    currency = normalize_currency(currency)
    amount = quantize(amount, currency)
    if amount <= 0:
        raise ValidationError("A payment must be more than zero.", field_errors={"amount": "must be more than zero"})
    if schedule is not None and schedule.user_id != account.id:
        raise NotFound("There is no such schedule in this account.")
    if direction is None:
        direction = schedule.direction if schedule else (Direction.INFLOW if isinstance(counterparty, Client) else Direction.OUTFLOW)
    if schedule is None and counterparty is not None:
        schedule = await find_match(
            db, account_id=account.id, counterparty=counterparty, amount=amount, payment_date=payment_date, direction=direction
        )
    agreement = await db.get(ObligationAgreement, schedule.obligation_id) if schedule else None
    book = await RateBook.load(db, {currency, account.base_currency, schedule.currency if schedule else currency}, payment_date,
                               account_id=account.id)
    base = book.convert(amount, currency, account.base_currency, payment_date)
    payment = PaymentEvent(
        user_id=account.id,
        schedule_id=schedule.id if schedule else None,
        obligation_id=schedule.obligation_id if schedule else None,
        client_id=(agreement.client_id if agreement else None) or (counterparty.id if isinstance(counterparty, Client) else None),
        expense_bucket_id=(agreement.expense_bucket_id if agreement else None)
        or (counterparty.id if isinstance(counterparty, ExpenseBucket) else None),
        direction=direction,
        amount=amount,
        currency=currency,
        base_currency_amount=base.amount,
        exchange_rate_used=base.rate,
        exchange_rate_date=base.rate_date,
        payment_date=payment_date,
        reference=reference,
        source=source,
        details=details or {},
    )
    audit = AuditService(db, account.id, actor=actor, clock=(lambda: now) if now else utcnow)
    if schedule is not None:
        in_schedule_currency = book.convert(amount, currency, schedule.currency, payment_date).amount if currency != schedule.currency else amount
        expected = _remaining(schedule)
        payment.variance_vs_expected = quantize(in_schedule_currency - expected, schedule.currency)
        old_status = schedule.status
        schedule.paid_amount = schedule.paid_amount + in_schedule_currency
        rate = schedule.exchange_rate_used if schedule.exchange_rate_used is not None else Decimal(1)
        schedule.paid_base_amount = quantize(schedule.paid_base_amount + in_schedule_currency * rate, account.base_currency)
        if schedule.paid_amount >= schedule.estimated_amount:
            schedule.status = ScheduleStatus.PAID
            schedule.paid_at = payment_date
        else:
            schedule.status = ScheduleStatus.PARTIALLY_PAID
        await audit.log_update("obligation_schedule", schedule.id, {"status": (old_status, schedule.status), "paid_amount": (schedule.paid_amount - in_schedule_currency, schedule.paid_amount)})
    db.add(payment)
    await db.flush()
    await audit.log_create(
        "payment_event", payment.id, {"amount": amount, "currency": currency, "date": payment_date, "schedule_id": payment.schedule_id}
    )
    if adjust_balance:
        target = cash_account or await _primary_cash_account(db, account.id)
        if target is not None:
            moved = book.convert(amount, currency, target.currency, payment_date).amount if currency != target.currency else amount
            old_balance = target.balance
            target.balance = target.balance + (moved if direction == Direction.INFLOW else -moved)
            cash_base = book.convert(target.balance, target.currency, account.base_currency, payment_date)
            target.base_currency_amount = cash_base.amount
            target.exchange_rate_used = cash_base.rate
            target.exchange_rate_date = cash_base.rate_date
            payment.cash_account_id = target.id
            await audit.log_update("cash_account", target.id, {"balance": (old_balance, target.balance)})
    if schedule is not None and schedule.status == ScheduleStatus.PAID and agreement is not None and agreement.client_id:
        await _refresh_usual_delay(db, client_id=agreement.client_id)
    await db.flush()
    return PaymentOutcome(payment=payment, schedule=schedule, matched=schedule is not None)


async def _refresh_usual_delay(db: AsyncSession, *, client_id: str) -> None:
    rows = (
        await db.execute(
            select(ObligationSchedule.due_date, ObligationSchedule.paid_at)
            .join(ObligationAgreement, ObligationAgreement.id == ObligationSchedule.obligation_id)
            .where(ObligationAgreement.client_id == client_id, ObligationSchedule.status == ScheduleStatus.PAID, ObligationSchedule.paid_at.is_not(None))
            .order_by(ObligationSchedule.paid_at.desc())
            .limit(DELAY_SAMPLE)
        )
    ).all()
    if not rows:
        return
    delays = [max(0, (paid - due).days) for due, paid in rows if paid is not None]
    if not delays:
        return
    client = await db.get(Client, client_id)
    if client is not None:
        client.avg_payment_delay_days = round(sum(delays) / len(delays))


async def unmatched_payments(db: AsyncSession, *, account_id: str, limit: int = 100) -> list[PaymentEvent]:
    stmt = (
        select(PaymentEvent)
        .where(PaymentEvent.user_id == account_id, PaymentEvent.schedule_id.is_(None))
        .order_by(PaymentEvent.payment_date.desc())
        .limit(limit)
    )
    return list((await db.execute(stmt)).scalars().all())

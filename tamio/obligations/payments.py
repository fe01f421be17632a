"""PaymentEvents: what was actually paid, against what was expected.

``record_payment`` is the one core function every edge calls (Slack's ``/tamio paid``, the CLI's
``tamio paid``, the API's ``POST /data/payments``, Xero's payments, credit-line repayments).
Which schedules a payment pays is ``tamio.obligations.matching``'s rule: the invoice named (a
schedule, an invoice reference), else the counterparty's open schedules oldest first. Each schedule
paid gets its own PaymentEvent, with ``variance_vs_expected`` = what it got - what it still
expected (negative: part paid, the rest stays open; positive on the last one: an overpayment,
which detection reports as unexpected revenue). A payment that matches nothing is kept as one
unmatched PaymentEvent (no schedule; also unexpected revenue), never dropped. Money received or
paid moves the cash account's balance once, so the forecast neither loses nor double-counts it.

After a client pays, how it pays is learned again for that client (``tamio.obligations.habits_store``,
the 6 AM job's rule for the whole account), so the next forecast spreads its open receivables by
what it has just done.

    outcome = await record_payment(db, account=account, amount=Decimal("7000"), currency="USD",
                                   payment_date=date(2026, 12, 9), counterparty=acme, invoice="INV-1042")
    [(part.schedule, part.amount) for part in outcome.parts]; outcome.overpaid
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
from tamio.db import new_id, utcnow
from tamio.errors import NotFound, ValidationError
from tamio.money import normalize_currency, quantize
from tamio.obligations.habits_store import relearn
from tamio.obligations.matching import allocate, find_invoice, open_schedules, remaining_of
from tamio.obligations.models import (
    Direction,
    ObligationAgreement,
    ObligationSchedule,
    PaymentEvent,
    ScheduleStatus,
)

ZERO = Decimal(0)


@dataclass(frozen=True)
class PaymentPart:
    payment: PaymentEvent
    schedule: ObligationSchedule | None  # None: unmatched
    amount: Decimal  # in the payment's currency


@dataclass(frozen=True)
class PaymentOutcome:
    parts: tuple[PaymentPart, ...]
    overpaid: Decimal = ZERO  # in the payment's currency, included in the last part

    @property
    def payment(self) -> PaymentEvent:
        return self.parts[0].payment

    @property
    def schedule(self) -> ObligationSchedule | None:
        return self.parts[0].schedule

    @property
    def matched(self) -> bool:
        return self.parts[0].schedule is not None

    @property
    def payments(self) -> tuple[PaymentEvent, ...]:
        return tuple(part.payment for part in self.parts)


async def _primary_cash_account(db: AsyncSession, account_id: str) -> CashAccount | None:
    rows = (
        await db.execute(
            select(CashAccount)
            .where(CashAccount.user_id == account_id, CashAccount.account_type != CashAccountType.CREDIT_LINE)
            .order_by(CashAccount.is_primary.desc(), CashAccount.created_at, CashAccount.id)
        )
    ).scalars().all()
    return rows[0] if rows else None


async def record_payment(
    db: AsyncSession,
    *,
    account: Account,
    amount: Decimal,
    currency: str,
    payment_date: date,
    schedule: ObligationSchedule | None = None,
    counterparty: Client | ExpenseBucket | None = None,
    invoice: str | None = None,
    direction: Direction | None = None,
    reference: str | None = None,
    source: str = "manual",
    cash_account: CashAccount | None = None,
    adjust_balance: bool = True,
    actor: str = "system",
    now: datetime | None = None,
    details: dict[str, Any] | None = None,
) -> PaymentOutcome:
    """Record money received or paid: against ``schedule``, the schedule ``invoice`` names, or the
    counterparty's open schedules oldest first; unmatched when none is open."""
    currency = normalize_currency(currency)
    amount = quantize(amount, currency)
    if amount <= 0:
        raise ValidationError("A payment must be more than zero.", field_errors={"amount": "must be more than zero"})
    if schedule is not None and schedule.user_id != account.id:
        raise NotFound("There is no such schedule in this account.")
    if schedule is None and invoice is not None:
        schedule = await find_invoice(db, account_id=account.id, reference=invoice, counterparty=counterparty, direction=direction)
    if direction is None:
        direction = schedule.direction if schedule else (Direction.INFLOW if isinstance(counterparty, Client) else Direction.OUTFLOW)
    targets = [schedule] if schedule is not None else (
        await open_schedules(db, account_id=account.id, counterparty=counterparty, direction=direction, lock=True) if counterparty else []
    )
    cash = (cash_account or await _primary_cash_account(db, account.id)) if adjust_balance else None
    currencies = {currency, account.base_currency, *(s.currency for s in targets), *([cash.currency] if cash else [])}
    book = await RateBook.load(db, currencies, payment_date, account_id=account.id)

    def in_payment_currency(s: ObligationSchedule) -> Decimal:
        left = remaining_of(s)
        return left if s.currency == currency else quantize(book.convert(left, s.currency, currency, payment_date).amount, currency)

    if schedule is not None:  # the invoice named takes all of it, an overpayment included
        owed = in_payment_currency(schedule)
        portions: tuple[Decimal, ...] = (amount,)
        overpaid = max(ZERO, amount - owed)
    else:
        plan = allocate(amount, [in_payment_currency(s) for s in targets])
        portions, overpaid = plan.portions, plan.overpaid
    audit = AuditService(db, account.id, actor=actor, clock=(lambda: now) if now else utcnow)
    receipt = new_id("pay")
    parts: list[PaymentPart] = []
    paying_clients: set[str] = set()
    for index, portion in enumerate(portions or (amount,)):
        target = targets[index] if portions else None
        agreement = await db.get(ObligationAgreement, target.obligation_id) if target else None
        base = book.convert(portion, currency, account.base_currency, payment_date)
        extra = {"receipt": receipt, "part": index + 1, "of": len(portions)} if len(portions) > 1 else {}
        payment = PaymentEvent(
            id=receipt if index == 0 else new_id("pay"),
            user_id=account.id,
            schedule_id=target.id if target else None,
            obligation_id=target.obligation_id if target else None,
            client_id=(agreement.client_id if agreement else None) or (counterparty.id if isinstance(counterparty, Client) else None),
            expense_bucket_id=(agreement.expense_bucket_id if agreement else None)
            or (counterparty.id if isinstance(counterparty, ExpenseBucket) else None),
            direction=direction, amount=portion, currency=currency, base_currency_amount=base.amount, exchange_rate_used=base.rate,
            exchange_rate_date=base.rate_date, payment_date=payment_date, reference=reference, source=source,
            details={**(details or {}), **extra},
        )
        if target is not None:
            settles = portion >= in_payment_currency(target)
            await _apply(audit, payment, target, portion, settles, book, account.base_currency)
            if direction == Direction.INFLOW and agreement is not None and agreement.client_id:
                paying_clients.add(agreement.client_id)
        db.add(payment)
        await db.flush()
        await audit.log_create(
            "payment_event", payment.id, {"amount": portion, "currency": currency, "date": payment_date, "schedule_id": payment.schedule_id}
        )
        parts.append(PaymentPart(payment=payment, schedule=target, amount=portion))
    if cash is not None:
        await _move_cash(audit, account, cash, parts, amount, currency, direction, book, payment_date)
    if paying_clients:
        await relearn(db, account_id=account.id, as_of=payment_date, now=now or utcnow(), client_ids=sorted(paying_clients), actor=actor)
    await db.flush()
    return PaymentOutcome(parts=tuple(parts), overpaid=overpaid)


async def _apply(
    audit: AuditService, payment: PaymentEvent, schedule: ObligationSchedule, portion: Decimal, settles: bool, book: RateBook, base_currency: str,
) -> None:
    """The schedule's paid amount, status and the payment's variance (actual - expected, its currency)."""
    expected = remaining_of(schedule)
    if payment.currency == schedule.currency:
        paid = portion
    elif settles and portion == quantize(book.convert(expected, schedule.currency, payment.currency, payment.payment_date).amount, payment.currency):
        paid = expected  # exactly what was owed, whatever the rounding of the conversion
    else:
        paid = quantize(book.convert(portion, payment.currency, schedule.currency, payment.payment_date).amount, schedule.currency)
    payment.variance_vs_expected = quantize(paid - expected, schedule.currency)
    old_status, old_paid = schedule.status, schedule.paid_amount
    schedule.paid_amount = schedule.paid_amount + paid
    rate = schedule.exchange_rate_used if schedule.exchange_rate_used is not None else Decimal(1)
    schedule.paid_base_amount = quantize(schedule.paid_base_amount + paid * rate, base_currency)
    if settles or schedule.paid_amount >= schedule.estimated_amount:
        schedule.status = ScheduleStatus.PAID
        schedule.paid_at = payment.payment_date
    else:
        schedule.status = ScheduleStatus.PARTIALLY_PAID
    await audit.log_update("obligation_schedule", schedule.id, {"status": (old_status, schedule.status), "paid_amount": (old_paid, schedule.paid_amount)})


async def _move_cash(
    audit: AuditService, account: Account, target: CashAccount, parts: list[PaymentPart],
    amount: Decimal, currency: str, direction: Direction, book: RateBook, payment_date: date,
) -> None:
    moved = book.convert(amount, currency, target.currency, payment_date).amount if currency != target.currency else amount
    old_balance = target.balance
    target.balance = target.balance + (moved if direction == Direction.INFLOW else -moved)
    cash_base = book.convert(target.balance, target.currency, account.base_currency, payment_date)
    target.base_currency_amount = cash_base.amount
    target.exchange_rate_used = cash_base.rate
    target.exchange_rate_date = cash_base.rate_date
    for part in parts:
        part.payment.cash_account_id = target.id
    await audit.log_update("cash_account", target.id, {"balance": (old_balance, target.balance)})


async def unmatched_payments(db: AsyncSession, *, account_id: str, limit: int = 100) -> list[PaymentEvent]:
    stmt = (
        select(PaymentEvent)
        .where(PaymentEvent.user_id == account_id, PaymentEvent.schedule_id.is_(None))
        .order_by(PaymentEvent.payment_date.desc())
        .limit(limit)
    )
    return list((await db.execute(stmt)).scalars().all())

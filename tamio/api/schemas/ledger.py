"""Bodies of the obligation, schedule and payment routes: what is owed, when, and what was paid.

Amounts are in their own currency with the base-currency amount converted at write time beside
them (design: "Currency Handling"); ``remaining_amount`` is what is still expected of a schedule.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field, model_validator

from tamio.api.types import (
    BODY_CONFIG,
    OUT_CONFIG,
    QUERY_CONFIG,
    Currency,
    Day,
    DecimalOut,
    Id,
    Line,
    MoneyOut,
    PositiveAmount,
    decimal_out,
    money_out,
    optional_money_out,
)
from tamio.obligations.models import (
    AgreementStatus,
    Direction,
    ObligationAgreement,
    ObligationSchedule,
    ObligationType,
    PaymentEvent,
    ScheduleStatus,
)


class ObligationQuery(BaseModel):
    model_config = QUERY_CONFIG
    status: AgreementStatus | None = None
    type: ObligationType | None = None
    client_id: Id | None = None
    expense_bucket_id: Id | None = None
    limit: int = Field(200, ge=1, le=1000)


class ObligationOut(BaseModel):
    model_config = OUT_CONFIG
    id: str
    client_id: str | None
    expense_bucket_id: str | None
    cash_account_id: str | None
    obligation_type: ObligationType
    direction: Direction
    description: str
    amount: MoneyOut
    currency: str
    base_currency_amount: MoneyOut | None
    exchange_rate_used: DecimalOut | None
    exchange_rate_date: date | None
    amount_type: str
    frequency: str
    rrule: str
    business_day_convention: str
    holiday_calendar: str | None
    day_of_month: int | None
    start_date: date
    end_date: date | None
    occurrence_count: int | None
    status: AgreementStatus
    source: str
    notes: str | None
    cancelled_at: datetime | None
    previous_amount: MoneyOut | None
    amount_changed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ObligationList(BaseModel):
    model_config = OUT_CONFIG
    obligations: list[ObligationOut]


STATUS_FILTER = "only schedules in this status; partially_paid: every open one with a part paid, late (overdue) or not"


class ScheduleQuery(BaseModel):
    model_config = QUERY_CONFIG
    status: ScheduleStatus | None = Field(None, description=STATUS_FILTER)
    due_from: Day | None = Field(None, description="first due date (inclusive)")
    due_to: Day | None = Field(None, description="last due date (inclusive)")
    obligation_id: Id | None = None
    limit: int = Field(500, ge=1, le=5000)


class ObligationScheduleQuery(BaseModel):
    model_config = QUERY_CONFIG
    status: ScheduleStatus | None = Field(None, description=STATUS_FILTER)
    due_from: Day | None = Field(None, description="first due date (inclusive)")
    due_to: Day | None = Field(None, description="last due date (inclusive)")
    limit: int = Field(500, ge=1, le=5000)


class ScheduleOut(BaseModel):
    model_config = OUT_CONFIG
    id: str
    obligation_id: str
    direction: Direction
    rule_date: date
    due_date: date
    estimated_amount: MoneyOut
    paid_amount: MoneyOut
    remaining_amount: MoneyOut
    currency: str
    base_currency_amount: MoneyOut | None
    paid_base_amount: MoneyOut
    status: ScheduleStatus
    invoice_number: str | None
    source: str
    delayed_from: date | None
    paid_at: date | None


class ScheduleList(BaseModel):
    model_config = OUT_CONFIG
    schedules: list[ScheduleOut]


class CancelOut(BaseModel):
    model_config = OUT_CONFIG
    obligation: ObligationOut
    schedules_cancelled: int = Field(description="future unpaid schedules cancelled with it")


class PaymentQuery(BaseModel):
    model_config = QUERY_CONFIG
    paid_from: Day | None = None
    paid_to: Day | None = None
    unmatched: bool = Field(False, description="only payments not matched to a schedule")
    client_id: Id | None = None
    expense_bucket_id: Id | None = None
    limit: int = Field(200, ge=1, le=1000)


class PaymentCreate(BaseModel):
    """A payment made or received: against a schedule, or a client's or vendor's (matched when it fits one)."""

    model_config = BODY_CONFIG
    amount: PositiveAmount
    currency: Currency | None = Field(None, description="default: the schedule's currency, else the base currency")
    payment_date: Day | None = Field(None, description="default: today in the account's time zone")
    schedule_id: Id | None = None
    client_id: Id | None = None
    expense_bucket_id: Id | None = None
    invoice: Line | None = Field(
        None,
        description="the invoice paid: its number (INV-1042), its due date (2026-12-01), a schedule id or Xero's InvoiceID; "
                    "with client_id or expense_bucket_id it is looked for among theirs. Without it a client's or vendor's "
                    "payment pays their oldest open invoices first.",
    )
    direction: Direction | None = Field(None, description="needed only without a schedule, client, expense bucket or invoice")
    reference: Line | None = None
    cash_account_id: Id | None = Field(None, description="the account the money moved in or out of (default: the primary one)")
    adjust_balance: bool = True

    @model_validator(mode="after")
    def _one_target(self) -> PaymentCreate:
        named = [name for name in ("schedule_id", "client_id", "expense_bucket_id") if getattr(self, name)]
        if len(named) > 1:
            raise ValueError(f"give one of schedule_id, client_id or expense_bucket_id, not {' and '.join(named)}")
        if self.schedule_id and self.invoice:
            raise ValueError("give schedule_id or invoice, not both")
        if not named and not self.invoice and self.direction is None:
            raise ValueError("a payment without a schedule, client, expense bucket or invoice needs a direction (inflow or outflow)")
        return self


class PaymentOut(BaseModel):
    model_config = OUT_CONFIG
    id: str
    schedule_id: str | None
    obligation_id: str | None
    client_id: str | None
    expense_bucket_id: str | None
    cash_account_id: str | None
    direction: Direction
    amount: MoneyOut
    currency: str
    base_currency_amount: MoneyOut | None
    exchange_rate_used: DecimalOut | None
    payment_date: date
    status: str
    variance_vs_expected: MoneyOut | None
    reference: str | None
    source: str
    created_at: datetime


class PaymentList(BaseModel):
    model_config = OUT_CONFIG
    payments: list[PaymentOut]


class PaymentRecordedOut(BaseModel):
    model_config = OUT_CONFIG
    payment: PaymentOut = Field(description="the first (or only) part of the payment")
    matched: bool = Field(description="whether it was matched to a schedule")
    schedule: ScheduleOut | None = Field(description="the schedule the first part paid")
    payments: list[PaymentOut] = Field(description="one per schedule paid, oldest first (one unmatched payment when none was open)")
    schedules: list[ScheduleOut] = Field(description="the schedules paid, as they are now")
    overpaid: MoneyOut = Field(description="more than the schedules paid expected, in the payment's currency (on the last part)")


def obligation_out(agreement: ObligationAgreement, *, base_currency: str) -> ObligationOut:
    return ObligationOut(
        id=agreement.id, client_id=agreement.client_id, expense_bucket_id=agreement.expense_bucket_id,
        cash_account_id=agreement.cash_account_id, obligation_type=agreement.obligation_type, direction=agreement.direction,
        description=agreement.description or "", amount=money_out(agreement.base_amount, agreement.currency),
        currency=agreement.currency, base_currency_amount=optional_money_out(agreement.base_currency_amount, base_currency),
        exchange_rate_used=decimal_out(agreement.exchange_rate_used), exchange_rate_date=agreement.exchange_rate_date,
        amount_type=agreement.amount_type.value, frequency=agreement.frequency.value, rrule=agreement.rrule,
        business_day_convention=agreement.business_day_convention.value, holiday_calendar=agreement.holiday_calendar,
        day_of_month=agreement.day_of_month, start_date=agreement.start_date, end_date=agreement.end_date,
        occurrence_count=agreement.occurrence_count, status=agreement.status, source=agreement.source, notes=agreement.notes,
        cancelled_at=agreement.cancelled_at, previous_amount=optional_money_out(agreement.previous_amount, base_currency),
        amount_changed_at=agreement.amount_changed_at, created_at=agreement.created_at, updated_at=agreement.updated_at,
    )


def schedule_out(schedule: ObligationSchedule, *, base_currency: str) -> ScheduleOut:
    remaining = max(schedule.estimated_amount - schedule.paid_amount, schedule.estimated_amount * 0)
    return ScheduleOut(
        id=schedule.id, obligation_id=schedule.obligation_id, direction=schedule.direction, rule_date=schedule.rule_date,
        due_date=schedule.due_date, estimated_amount=money_out(schedule.estimated_amount, schedule.currency),
        paid_amount=money_out(schedule.paid_amount, schedule.currency), remaining_amount=money_out(remaining, schedule.currency),
        currency=schedule.currency, base_currency_amount=optional_money_out(schedule.base_currency_amount, base_currency),
        paid_base_amount=money_out(schedule.paid_base_amount, base_currency), status=schedule.status,
        invoice_number=schedule.invoice_number, source=schedule.source, delayed_from=schedule.delayed_from, paid_at=schedule.paid_at,
    )


def payment_out(payment: PaymentEvent, *, base_currency: str) -> PaymentOut:
    return PaymentOut(
        id=payment.id, schedule_id=payment.schedule_id, obligation_id=payment.obligation_id, client_id=payment.client_id,
        expense_bucket_id=payment.expense_bucket_id, cash_account_id=payment.cash_account_id, direction=payment.direction,
        amount=money_out(payment.amount, payment.currency), currency=payment.currency,
        base_currency_amount=optional_money_out(payment.base_currency_amount, base_currency),
        exchange_rate_used=decimal_out(payment.exchange_rate_used), payment_date=payment.payment_date,
        status=payment.status.value, variance_vs_expected=decimal_out(payment.variance_vs_expected),
        reference=payment.reference, source=payment.source, created_at=payment.created_at,
    )

"""The obligation layer, the source of truth for committed cash flows.

ObligationAgreement (WHY: the contract) -> ObligationSchedule (WHEN: each expected payment) ->
PaymentEvent (REALITY: what was actually paid). Schedules carry their own ``user_id`` and
``direction`` so the forecast sums them per week in one indexed query.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tamio.db import (
    Base,
    ConvertedAmountMixin,
    JSONType,
    Money,
    created_at_column,
    enum_column,
    new_id,
    updated_at_column,
)
from tamio.events.models import (
    Direction as Direction,  # every schedule has one; defined with the cash events, below
)
from tamio.obligations.recurrence import BusinessDayConvention, Frequency


class ObligationType(str, enum.Enum):
    REVENUE = "revenue"
    EXPENSE = "expense"
    PAYROLL = "payroll"
    TAX = "tax"
    CREDIT_REPAYMENT = "credit_repayment"


# Obligations no option ever delays or moves, and no automation rule ever touches (issue 15).
NEVER_DELAYED = frozenset({ObligationType.PAYROLL, ObligationType.TAX})

class AmountType(str, enum.Enum):
    FIXED = "fixed"
    VARIABLE = "variable"
    ESTIMATED = "estimated"


class AgreementStatus(str, enum.Enum):
    ACTIVE = "active"
    CANCELLED = "cancelled"
    ENDED = "ended"


class ScheduleStatus(str, enum.Enum):
    SCHEDULED = "scheduled"
    QUEUED = "queued"  # queued for payment by an approved payment batch
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    OVERDUE = "overdue"
    CANCELLED = "cancelled"


OPEN_SCHEDULE_STATUSES = (
    ScheduleStatus.SCHEDULED,
    ScheduleStatus.QUEUED,
    ScheduleStatus.PARTIALLY_PAID,
    ScheduleStatus.OVERDUE,
)


class PaymentStatus(str, enum.Enum):
    COMPLETED = "completed"
    PENDING = "pending"
    REVERSED = "reversed"


class ObligationAgreement(ConvertedAmountMixin, Base):
    __tablename__ = "obligation_agreements"
    __table_args__ = (
        UniqueConstraint("user_id", "import_key", name="uq_obligation_agreements_import_key"),
        Index("ix_obligation_agreements_user_status", "user_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("obl"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    client_id: Mapped[str | None] = mapped_column(ForeignKey("clients.id", ondelete="SET NULL"), index=True)
    expense_bucket_id: Mapped[str | None] = mapped_column(ForeignKey("expense_buckets.id", ondelete="SET NULL"), index=True)
    cash_account_id: Mapped[str | None] = mapped_column(ForeignKey("cash_accounts.id", ondelete="SET NULL"))
    obligation_type: Mapped[ObligationType] = mapped_column(enum_column(ObligationType))
    direction: Mapped[Direction] = mapped_column(enum_column(Direction))
    description: Mapped[str] = mapped_column(String(300), default="")
    base_amount: Mapped[Decimal] = mapped_column(Money())
    amount_type: Mapped[AmountType] = mapped_column(enum_column(AmountType), default=AmountType.FIXED)
    frequency: Mapped[Frequency] = mapped_column(enum_column(Frequency))
    rrule: Mapped[str] = mapped_column(String(500))
    business_day_convention: Mapped[BusinessDayConvention] = mapped_column(
        enum_column(BusinessDayConvention), default=BusinessDayConvention.NONE
    )
    holiday_calendar: Mapped[str | None] = mapped_column(String(10))
    day_of_month: Mapped[int | None]
    start_date: Mapped[date] = mapped_column(Date())
    end_date: Mapped[date | None] = mapped_column(Date())
    occurrence_count: Mapped[int | None]
    status: Mapped[AgreementStatus] = mapped_column(enum_column(AgreementStatus), default=AgreementStatus.ACTIVE)
    source: Mapped[str] = mapped_column(String(20), default="manual")
    import_key: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(Text())
    cancelled_at: Mapped[datetime | None]
    # The amount before the last change and when it changed (a payroll that rose, a price rise).
    previous_amount: Mapped[Decimal | None] = mapped_column(Money())
    amount_changed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class ObligationSchedule(ConvertedAmountMixin, Base):
    """One expected payment. ``amount_type``, ``origin`` and ``client_id`` are copied from the
    agreement at generation so the forecast sums schedules from one covering index, with no join."""

    __tablename__ = "obligation_schedules"
    __table_args__ = (
        UniqueConstraint("obligation_id", "rule_date", name="uq_obligation_schedules_rule_date"),
        Index(
            "ix_obligation_schedules_forecast",
            "user_id", "due_date", "direction", "status", "amount_type", "origin", "delay_requested_to", "client_id",
            "base_currency_amount", "paid_base_amount",
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("sch"))
    obligation_id: Mapped[str] = mapped_column(ForeignKey("obligation_agreements.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    direction: Mapped[Direction] = mapped_column(enum_column(Direction))
    client_id: Mapped[str | None] = mapped_column(ForeignKey("clients.id", ondelete="SET NULL"))
    amount_type: Mapped[AmountType] = mapped_column(enum_column(AmountType), default=AmountType.FIXED)
    origin: Mapped[str] = mapped_column(String(20), default="manual")  # the agreement's source
    # The date the rule gives, and the due date after the business-day convention.
    rule_date: Mapped[date] = mapped_column(Date())
    due_date: Mapped[date] = mapped_column(Date())
    estimated_amount: Mapped[Decimal] = mapped_column(Money())
    paid_amount: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
    paid_base_amount: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
    status: Mapped[ScheduleStatus] = mapped_column(enum_column(ScheduleStatus), default=ScheduleStatus.SCHEDULED)
    invoice_number: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(20), default="generated")
    delayed_from: Mapped[date | None] = mapped_column(Date())
    # A delay asked of the vendor and not agreed yet: the date asked for, and the action that asked.
    # The schedule keeps its date (the forecast counts it there, less certain) until marked agreed.
    delay_requested_to: Mapped[date | None] = mapped_column(Date())
    delay_requested_by: Mapped[str | None] = mapped_column(String(40), index=True)
    queued_at: Mapped[datetime | None]
    paid_at: Mapped[date | None] = mapped_column(Date())
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class PaymentEvent(ConvertedAmountMixin, Base):
    __tablename__ = "payment_events"
    __table_args__ = (Index("ix_payment_events_user_date", "user_id", "payment_date"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("pay"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    schedule_id: Mapped[str | None] = mapped_column(ForeignKey("obligation_schedules.id", ondelete="SET NULL"), index=True)
    obligation_id: Mapped[str | None] = mapped_column(ForeignKey("obligation_agreements.id", ondelete="SET NULL"))
    client_id: Mapped[str | None] = mapped_column(ForeignKey("clients.id", ondelete="SET NULL"))
    expense_bucket_id: Mapped[str | None] = mapped_column(ForeignKey("expense_buckets.id", ondelete="SET NULL"))
    cash_account_id: Mapped[str | None] = mapped_column(ForeignKey("cash_accounts.id", ondelete="SET NULL"))
    direction: Mapped[Direction] = mapped_column(enum_column(Direction))
    amount: Mapped[Decimal] = mapped_column(Money())
    payment_date: Mapped[date] = mapped_column(Date())
    status: Mapped[PaymentStatus] = mapped_column(enum_column(PaymentStatus), default=PaymentStatus.COMPLETED)
    variance_vs_expected: Mapped[Decimal | None] = mapped_column(Money())
    reference: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(20), default="manual")
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = created_at_column()


class Scheduled(Protocol):
    """What schedule and cash-event generation read of an agreement: an ``ObligationAgreement``, or a
    plain record of one (a bulk import's, to spare building thousands of ORM objects it never saves)."""

    @property
    def id(self) -> str: ...
    @property
    def user_id(self) -> str: ...
    @property
    def client_id(self) -> str | None: ...
    @property
    def expense_bucket_id(self) -> str | None: ...
    @property
    def obligation_type(self) -> ObligationType: ...
    @property
    def description(self) -> str: ...
    @property
    def status(self) -> AgreementStatus: ...
    @property
    def frequency(self) -> Frequency: ...
    @property
    def rrule(self) -> str: ...
    @property
    def start_date(self) -> date: ...
    @property
    def business_day_convention(self) -> BusinessDayConvention: ...
    @property
    def holiday_calendar(self) -> str | None: ...
    @property
    def direction(self) -> Direction: ...
    @property
    def amount_type(self) -> AmountType: ...
    @property
    def source(self) -> str: ...
    @property
    def base_amount(self) -> Decimal: ...
    @property
    def currency(self) -> str: ...
    @property
    def base_currency_amount(self) -> Decimal | None: ...
    @property
    def exchange_rate_used(self) -> Decimal | None: ...
    @property
    def exchange_rate_date(self) -> date | None: ...

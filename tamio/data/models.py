"""What the business records: clients (revenue), expense buckets (vendors, payroll, taxes) and cash accounts.

Clients and expense buckets are the user-input layer; creating or changing one creates or updates
its ObligationAgreement (the source of truth, see ``tamio.obligations.service``). Their
``billing_config`` keeps the recurrence as entered, which the legacy forecast path reads when
``USE_OBLIGATION_FOR_FORECAST`` is off.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tamio.db import (
    Base,
    ConvertedAmountMixin,
    ExactDecimal,
    JSONType,
    Money,
    created_at_column,
    enum_column,
    new_id,
    updated_at_column,
)


class RelationshipType(str, enum.Enum):
    STRATEGIC = "strategic"
    TRANSACTIONAL = "transactional"
    MANAGED = "managed"


class RiskLevel(str, enum.Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class ExpenseCategory(str, enum.Enum):
    OPERATING = "operating"
    RENT = "rent"
    SOFTWARE = "software"
    CONTRACTOR = "contractor"
    PAYROLL = "payroll"
    TAX = "tax"
    STATUTORY = "statutory"
    OTHER = "other"


class FlexibilityLevel(str, enum.Enum):
    CAN_DELAY = "can_delay"
    NEGOTIABLE = "negotiable"
    CANNOT_DELAY = "cannot_delay"


class Criticality(str, enum.Enum):
    CRITICAL = "critical"
    IMPORTANT = "important"
    FLEXIBLE = "flexible"


class CashAccountType(str, enum.Enum):
    BANK = "bank"
    SAVINGS = "savings"
    CREDIT_LINE = "credit_line"


class CounterpartyStatus(str, enum.Enum):
    ACTIVE = "active"
    PAUSED = "paused"
    ENDED = "ended"


class Client(ConvertedAmountMixin, Base):
    __tablename__ = "clients"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_clients_name"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("cli"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[CounterpartyStatus] = mapped_column(enum_column(CounterpartyStatus), default=CounterpartyStatus.ACTIVE)
    # Expected amount per billing period, as entered (the legacy forecast path reads it).
    amount: Mapped[Decimal | None] = mapped_column(Money())
    billing_config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(320))
    source: Mapped[str] = mapped_column(String(20), default="manual")
    locked_fields: Mapped[list[str]] = mapped_column(JSONType, default=list)
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    notes: Mapped[str | None] = mapped_column(Text())
    # Legacy integration ids (IntegrationMapping is read first; both are written).
    xero_contact_id: Mapped[str | None] = mapped_column(String(64), index=True)
    quickbooks_customer_id: Mapped[str | None] = mapped_column(String(64))
    # V4 fields.
    avg_payment_delay_days: Mapped[int] = mapped_column(default=0)
    # Its learned distribution of days late (``tamio.obligations.habits``); None until it has paid.
    payment_behaviour: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # The same in words, as cards say it ("usually pays 18-24 days late; lately later").
    payment_habit: Mapped[str | None] = mapped_column(String(200))
    relationship_type: Mapped[RelationshipType | None] = mapped_column(enum_column(RelationshipType))
    revenue_percent: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    risk_level: Mapped[RiskLevel | None] = mapped_column(enum_column(RiskLevel))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class ExpenseBucket(ConvertedAmountMixin, Base):
    __tablename__ = "expense_buckets"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_expense_buckets_name"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("exp"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[ExpenseCategory] = mapped_column(enum_column(ExpenseCategory), default=ExpenseCategory.OPERATING)
    status: Mapped[CounterpartyStatus] = mapped_column(enum_column(CounterpartyStatus), default=CounterpartyStatus.ACTIVE)
    amount: Mapped[Decimal | None] = mapped_column(Money())
    billing_config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(320))
    source: Mapped[str] = mapped_column(String(20), default="manual")
    locked_fields: Mapped[list[str]] = mapped_column(JSONType, default=list)
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    notes: Mapped[str | None] = mapped_column(Text())
    xero_contact_id: Mapped[str | None] = mapped_column(String(64), index=True)
    # V4 vendor fields.
    payment_terms: Mapped[str | None] = mapped_column(String(40))
    payment_terms_days: Mapped[int | None]
    flexibility_level: Mapped[FlexibilityLevel | None] = mapped_column(enum_column(FlexibilityLevel))
    criticality: Mapped[Criticality | None] = mapped_column(enum_column(Criticality))
    delay_history: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class CashAccount(ConvertedAmountMixin, Base):
    """A bank or savings account, or a credit line (its ``credit_limit`` and ``drawn_amount``)."""

    __tablename__ = "cash_accounts"
    __table_args__ = (
        UniqueConstraint("user_id", "name", name="uq_cash_accounts_name"),
        Index("ix_cash_accounts_user", "user_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("cash"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    account_type: Mapped[CashAccountType] = mapped_column(enum_column(CashAccountType), default=CashAccountType.BANK)
    balance: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
    credit_limit: Mapped[Decimal | None] = mapped_column(Money())
    drawn_amount: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
    interest_rate_pct: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    is_primary: Mapped[bool] = mapped_column(default=False)
    balance_as_of: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()

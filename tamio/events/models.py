"""CashEvents: materialised forecast events kept for the audit trail.

Generated from schedules (``schedule_id`` set, the "schedule-to-event generator") and, until
``DEPRECATE_DIRECT_CASH_EVENTS`` is on, directly from clients and expense buckets (legacy).
``event_key`` makes generation idempotent. The generator is the obligations' own
(``tamio.obligations.event_generator``): it reads agreements and schedules, so it sits above this
table, which imports nothing of theirs.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tamio.db import Base, ConvertedAmountMixin, Money, created_at_column, enum_column, new_id


class Direction(str, enum.Enum):
    """Whether cash comes in or goes out: of a cash event here, and of an obligation and its schedules."""

    INFLOW = "inflow"
    OUTFLOW = "outflow"


class CashEvent(ConvertedAmountMixin, Base):
    __tablename__ = "cash_events"
    __table_args__ = (
        UniqueConstraint("user_id", "event_key", name="uq_cash_events_key"),
        Index("ix_cash_events_user_date", "user_id", "date"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("evt"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    schedule_id: Mapped[str | None] = mapped_column(ForeignKey("obligation_schedules.id", ondelete="SET NULL"), index=True)
    client_id: Mapped[str | None] = mapped_column(ForeignKey("clients.id", ondelete="SET NULL"))
    expense_bucket_id: Mapped[str | None] = mapped_column(ForeignKey("expense_buckets.id", ondelete="SET NULL"))
    event_key: Mapped[str] = mapped_column(String(120))
    date: Mapped[date] = mapped_column(Date())
    amount: Mapped[Decimal] = mapped_column(Money())
    direction: Mapped[Direction] = mapped_column(enum_column(Direction))
    category: Mapped[str] = mapped_column(String(40), default="")
    source: Mapped[str] = mapped_column(String(20))  # "schedule" or "legacy"
    confidence: Mapped[str] = mapped_column(String(10), default="medium")
    description: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = created_at_column()

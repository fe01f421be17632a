"""The audit trail of decisions and executions, approvals for dual control, and automation rules.

Every lifecycle transition of a PreparedAction writes an ExecutionRecord. ``idempotency_key`` is
stored before a side effect happens, so a resumed execution never repeats one that succeeded.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tamio.db import Base, JSONType, Money, created_at_column, new_id, updated_at_column


class ExecutionRecord(Base):
    __tablename__ = "execution_records"
    __table_args__ = (Index("ix_execution_records_action", "action_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("exr"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    action_id: Mapped[str] = mapped_column(ForeignKey("prepared_actions.id", ondelete="CASCADE"))
    option_id: Mapped[str | None] = mapped_column(String(40))
    event: Mapped[str] = mapped_column(String(40))  # approved, executing, executed, failed, skipped, ...
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    actor_member_id: Mapped[str | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    actor_kind: Mapped[str] = mapped_column(String(20), default="member")  # member, automation, system
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    attempt: Mapped[int] = mapped_column(default=0)
    result: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    error: Mapped[str | None] = mapped_column(Text())
    created_at: Mapped[datetime] = created_at_column()


class ActionApproval(Base):
    """One approver's approval; dual-control actions need two distinct members."""

    __tablename__ = "action_approvals"
    __table_args__ = (UniqueConstraint("action_id", "member_id", name="uq_action_approvals_member"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("apv"))
    action_id: Mapped[str] = mapped_column(ForeignKey("prepared_actions.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    option_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = created_at_column()


class ExecutionAutomationRule(Base):
    __tablename__ = "execution_automation_rules"
    __table_args__ = (UniqueConstraint("user_id", "action_type", name="uq_automation_rules_type"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("aut"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # invoice_follow_up, payment_batch, vendor_delay, statutory_payment, payroll, excess_allocation
    action_type: Mapped[str] = mapped_column(String(40))
    auto_execute: Mapped[bool] = mapped_column(default=False)
    threshold_amount: Mapped[Decimal | None] = mapped_column(Money())
    threshold_currency: Mapped[str | None] = mapped_column(String(3))
    excluded_tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    included_tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    require_approval: Mapped[bool] = mapped_column(default=True)
    is_locked: Mapped[bool] = mapped_column(default=False)
    notes: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()

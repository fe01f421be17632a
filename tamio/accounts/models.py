"""The business account (the ``users`` table of the design document), its members and settings.

An account is one business; it belongs to one Slack workspace (team id, and enterprise id where
present). Members are the Slack users of that workspace with a role: viewers see, approvers
decide on actions, admins also change configuration and automation rules.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tamio.db import (
    Base,
    ExactDecimal,
    JSONType,
    Money,
    UTCDateTime,
    created_at_column,
    enum_column,
    new_id,
    updated_at_column,
)


class Role(str, enum.Enum):
    VIEWER = "viewer"
    APPROVER = "approver"
    ADMIN = "admin"


class SafetyMode(str, enum.Enum):
    CONSERVATIVE = "conservative"
    NORMAL = "normal"
    AGGRESSIVE = "aggressive"


class Account(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("slack_team_id", "slack_enterprise_id", name="uq_users_slack_team"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("acct"))
    name: Mapped[str] = mapped_column(String(200))
    base_currency: Mapped[str] = mapped_column(String(3), default="USD")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # How amounts and dates are written for this business (babel's name, e.g. en_US, de_DE); from
    # the installer's Slack locale by default.
    locale: Mapped[str] = mapped_column(String(16), default="en_US")
    slack_team_id: Mapped[str | None] = mapped_column(String(32), index=True)
    slack_enterprise_id: Mapped[str | None] = mapped_column(String(32))
    digest_channel_id: Mapped[str | None] = mapped_column(String(32))
    dual_approval_threshold: Mapped[Decimal] = mapped_column(Money(), default=Decimal("10000"))
    is_active: Mapped[bool] = mapped_column(default=True)
    # Set while the workspace has removed Tamio (uninstalled, or its bot token revoked): nothing runs
    # for the account, and its data is deleted once the retention period after this has passed.
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deactivated_reason: Mapped[str | None] = mapped_column(String(40))
    # Every active obligation has its schedules generated through this day (None: never checked,
    # e.g. an account that forecast from billing lines until now). The schedules path of the
    # forecast backfills first when it needs more (``tamio.obligations.backfill``).
    schedules_through: Mapped[date | None] = mapped_column(Date())
    # How its clients typically pay (``tamio.obligations.habits``; None: no payment history yet) and
    # how its forecast's band is calibrated from its own errors (``tamio.forecast.band``).
    payment_behaviour: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    forecast_calibration: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class Member(Base):
    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("user_id", "slack_user_id", name="uq_members_slack_user"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("mem"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    slack_user_id: Mapped[str | None] = mapped_column(String(32))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(320))
    role: Mapped[Role] = mapped_column(enum_column(Role), default=Role.VIEWER)
    is_installer: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class UserConfiguration(Base):
    """Detection and preparation thresholds, one row per account (design: "V4 User Configuration")."""

    __tablename__ = "user_configurations"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    obligations_buffer_amount: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
    runway_buffer_months: Mapped[int] = mapped_column(default=6)
    late_payment_threshold_days: Mapped[int] = mapped_column(default=7)
    unexpected_expense_threshold_pct: Mapped[Decimal] = mapped_column(ExactDecimal(), default=Decimal("20"))
    safety_mode: Mapped[SafetyMode] = mapped_column(enum_column(SafetyMode), default=SafetyMode.NORMAL)
    payroll_check_days_before: Mapped[int] = mapped_column(default=7)
    payroll_buffer_percent: Mapped[Decimal] = mapped_column(ExactDecimal(), default=Decimal("10"))
    payment_cluster_threshold_pct: Mapped[Decimal] = mapped_column(ExactDecimal(), default=Decimal("40"))
    # After a chase email for an invoice, no new chase for it is proposed for this many days.
    chase_cooloff_days: Mapped[int] = mapped_column(default=7)
    # Whether viewers see cash, runway, amounts and alerts' details; off: only that something needs attention.
    viewers_see_figures: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class ApiToken(Base):
    """A bearer token for the REST API; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_user", "user_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("tok"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = created_at_column()
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

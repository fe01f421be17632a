"""Detection rules (per-account overrides) and the alerts the detection engine raises.

An alert has a stable ``fingerprint`` (type, entity, period): a rerun updates the open alert
instead of adding another, resolves it when the condition no longer holds, and marks it
escalated when its severity rises. At most one open alert exists per fingerprint.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint, text
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


class DetectionType(str, enum.Enum):
    LATE_PAYMENT = "late_payment"
    UNEXPECTED_REVENUE = "unexpected_revenue"
    UNEXPECTED_EXPENSE = "unexpected_expense"
    CLIENT_CHURN = "client_churn"
    REVENUE_VARIANCE = "revenue_variance"
    PAYMENT_TIMING_CONFLICT = "payment_timing_conflict"
    VENDOR_TERMS_EXPIRING = "vendor_terms_expiring"
    STATUTORY_DEADLINE = "statutory_deadline"
    BUFFER_BREACH = "buffer_breach"
    RUNWAY_THRESHOLD = "runway_threshold"
    PAYROLL_SAFETY = "payroll_safety"
    HEADCOUNT_CHANGE = "headcount_change"


CRITICAL_DETECTIONS = (DetectionType.BUFFER_BREACH, DetectionType.PAYROLL_SAFETY, DetectionType.STATUTORY_DEADLINE)


class AlertSeverity(str, enum.Enum):
    EMERGENCY = "emergency"  # red: must act today
    THIS_WEEK = "this_week"  # yellow: review within 2-3 days
    UPCOMING = "upcoming"  # green: monitoring only


SEVERITY_RANK = {AlertSeverity.EMERGENCY: 0, AlertSeverity.THIS_WEEK: 1, AlertSeverity.UPCOMING: 2}


class AlertStatus(str, enum.Enum):
    ACTIVE = "active"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    DISMISSED = "dismissed"


class DetectionRule(Base):
    __tablename__ = "detection_rules"
    __table_args__ = (UniqueConstraint("user_id", "detection_type", name="uq_detection_rules_type"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("drl"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    detection_type: Mapped[DetectionType] = mapped_column(enum_column(DetectionType))
    enabled: Mapped[bool] = mapped_column(default=True)
    threshold_override: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class DetectionAlert(Base):
    __tablename__ = "detection_alerts"
    __table_args__ = (
        Index(
            "uq_detection_alerts_open_fingerprint",
            "user_id",
            "fingerprint",
            unique=True,
            sqlite_where=text("status IN ('active', 'acknowledged')"),
            postgresql_where=text("status IN ('active', 'acknowledged')"),
        ),
        Index("ix_detection_alerts_user_status", "user_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("alr"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    detection_type: Mapped[DetectionType] = mapped_column(enum_column(DetectionType))
    severity: Mapped[AlertSeverity] = mapped_column(enum_column(AlertSeverity))
    status: Mapped[AlertStatus] = mapped_column(enum_column(AlertStatus), default=AlertStatus.ACTIVE)
    fingerprint: Mapped[str] = mapped_column(String(300))
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str | None] = mapped_column(String(40))
    entity_name: Mapped[str] = mapped_column(String(300), default="")
    title: Mapped[str] = mapped_column(String(300))
    explanation: Mapped[str] = mapped_column(Text(), default="")
    amount: Mapped[Decimal | None] = mapped_column(Money())
    currency: Mapped[str | None] = mapped_column(String(3))
    due_date: Mapped[date | None] = mapped_column(Date())
    context: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    escalated: Mapped[bool] = mapped_column(default=False)
    escalation_count: Mapped[int] = mapped_column(default=0)
    previous_severity: Mapped[AlertSeverity | None] = mapped_column(enum_column(AlertSeverity))
    first_detected_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_detected_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None]
    announced_at: Mapped[datetime | None]
    announced_severity: Mapped[AlertSeverity | None] = mapped_column(enum_column(AlertSeverity))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()

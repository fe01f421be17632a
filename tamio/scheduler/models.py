"""Claim rows that make each scheduled run happen once across replicas, and pipeline run history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tamio.db import Base, JSONType, UTCDateTime, new_id


class SchedulerClaim(Base):
    __tablename__ = "scheduler_claims"
    __table_args__ = (UniqueConstraint("job_name", "slot", name="uq_scheduler_claims_slot"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("clm"))
    job_name: Mapped[str] = mapped_column(String(100))
    slot: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(String(20), default="running")  # running, ok, partial, failed
    error: Mapped[str | None] = mapped_column(Text())
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class PipelineRun(Base):
    __tablename__ = "pipeline_runs"
    __table_args__ = (Index("ix_pipeline_runs_user_started", "user_id", "started_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("run"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(20))
    trigger: Mapped[str] = mapped_column(String(40), default="manual")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    alerts_detected: Mapped[int] = mapped_column(default=0)
    actions_prepared: Mapped[int] = mapped_column(default=0)
    detection_duration_ms: Mapped[int] = mapped_column(default=0)
    preparation_duration_ms: Mapped[int] = mapped_column(default=0)
    total_duration_ms: Mapped[int] = mapped_column(default=0)
    error_count: Mapped[int] = mapped_column(default=0)
    result: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class SlackEventReceipt(Base):
    """Slack retries events (x-slack-retry-num); the first receipt of an event_id wins. The identity of a
    signed command or interaction (a hash, ``bot.gate``) is kept here too, so a replay changes nothing."""

    __tablename__ = "slack_event_receipts"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_id: Mapped[str | None] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())

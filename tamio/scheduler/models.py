"""Claim rows that make each scheduled run happen once across replicas, and Slack receipts seen once.

The history of pipeline runs (``PipelineRun``) is the pipeline's own: ``tamio.pipeline``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, Text, UniqueConstraint
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


class SlackEventReceipt(Base):
    """Slack retries events (x-slack-retry-num); the first receipt of an event_id wins. The identity of a
    signed command or interaction (a hash, ``bot.gate``) is kept here too, so a replay changes nothing."""

    __tablename__ = "slack_event_receipts"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_id: Mapped[str | None] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())

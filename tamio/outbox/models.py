"""Outgoing messages, written in the same transaction as the change that causes them.

Delivery workers in every process claim due rows, send them and mark them delivered; the
``idempotency_key`` is deterministic (e.g. ``card:<action id>:v<version>``) so a rerun that would
send the same thing finds the row already there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tamio.db import Base, JSONType, UTCDateTime, created_at_column, new_id


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        UniqueConstraint("idempotency_key", name="uq_outbox_idempotency_key"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("out"))
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))  # slack_post, slack_update, slack_home, email, ...
    channel: Mapped[str | None] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending, sending, delivered, dead
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text())
    result: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()

"""The audit trail: every data change, chained per account under a key only the server holds.

``seq`` numbers an account's rows 1, 2, 3 ...; ``row_hash`` is an HMAC-SHA256, keyed by the server
secret, over the previous row's ``row_hash`` and this row's canonical content (its account and
``seq`` included). Whoever can edit the database but not read TAMIO_SECRET_KEY cannot rewrite a row,
move it to another account or recompute the chain after it without ``tamio audit verify`` noticing.

``AuditHead`` is each account's last ``seq`` and ``row_hash``, written in the same transaction as
the row: appends read it (one row, not the chain) and it shows rows cut from the end. A checkpoint
of it kept outside the database (the daily digest posts it; ``tamio audit head`` prints it) shows
even a truncation that rewrote this table too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tamio.db import Base, JSONType, UTCDateTime, new_id


class AuditLog(Base):
    __tablename__ = "audit_logs"
    __table_args__ = (UniqueConstraint("user_id", "seq", name="uq_audit_logs_seq"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("aud"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    seq: Mapped[int]
    actor: Mapped[str] = mapped_column(String(60), default="system")
    action: Mapped[str] = mapped_column(String(20))  # create, update, delete, sync, decide, execute
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(40))
    changes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    integration: Mapped[str | None] = mapped_column(String(20))
    direction: Mapped[str | None] = mapped_column(String(10))
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditHead(Base):
    """An account's last audit row: its ``seq`` and ``row_hash``."""

    __tablename__ = "audit_heads"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int]
    row_hash: Mapped[str] = mapped_column(String(64))

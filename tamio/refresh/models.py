"""One row per account whose figures must be worked out again (alerts re-evaluated, cards re-prepared).

Writers upsert it in the transaction of their change (``service.request_refresh``): ``scopes`` is
the union of what changed (bit flags), ``generation`` counts the requests, so a drain that ran on
generation 3 deletes the row only if no request came in while it ran.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from tamio.db import Base, UTCDateTime


class RefreshRequest(Base):
    __tablename__ = "refresh_requests"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    scopes: Mapped[int] = mapped_column(default=0)
    generation: Mapped[int] = mapped_column(default=1)
    reason: Mapped[str] = mapped_column(String(200), default="")
    first_requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_requested_at: Mapped[datetime] = mapped_column(UTCDateTime())

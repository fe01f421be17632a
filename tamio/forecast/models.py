"""The forecast as it was: one snapshot per account and day, stored by the 6 AM job.

Each snapshot keeps the day's opening balance and, per week, the closing balance forecast, the
band (low, high, and the spread and lean it was made from) and the due-date baseline's closing
balance. Later snapshots' opening balances say what came true, which ``tamio.forecast.snapshots``
scores (``tamio forecast accuracy``) and calibrates the band from.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tamio.db import Base, JSONType, Money, created_at_column, new_id


class ForecastSnapshot(Base):
    __tablename__ = "forecast_snapshots"
    __table_args__ = (UniqueConstraint("user_id", "as_of", name="uq_forecast_snapshots_day"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("fsn"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    as_of: Mapped[date] = mapped_column(Date())
    opening_balance: Mapped[Decimal] = mapped_column(Money())
    # Per week: {"close", "low", "high", "spread", "lean", "baseline"} as decimal strings.
    weeks: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    taken_at: Mapped[datetime] = created_at_column()

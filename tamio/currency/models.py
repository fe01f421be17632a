"""Exchange rates: units of ``quote_currency`` per one ``base_currency`` on ``rate_date``."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tamio.db import Base, ExactDecimal, created_at_column, new_id


class ExchangeRate(Base):
    __tablename__ = "exchange_rates"
    __table_args__ = (
        UniqueConstraint("base_currency", "quote_currency", "rate_date", name="uq_exchange_rates_pair_date"),
        Index("ix_exchange_rates_lookup", "base_currency", "quote_currency", "rate_date"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("fx"))
    base_currency: Mapped[str] = mapped_column(String(3))
    quote_currency: Mapped[str] = mapped_column(String(3))
    rate: Mapped[Decimal] = mapped_column(ExactDecimal())
    rate_date: Mapped[date] = mapped_column(Date())
    source: Mapped[str] = mapped_column(String(20), default="manual")
    created_at: Mapped[datetime] = created_at_column()

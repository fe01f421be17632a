"""Exchange rates: units of ``quote_currency`` per one ``base_currency`` on ``rate_date``.

Two kinds of rows share the table. The server's feed (``user_id`` NULL: the ECB reference rates,
written by the scheduler or an operator's ``tamio rates``) serves every account; an account's own
rates (``user_id`` set: ``/tamio rate CHF 1.12``, the REST API, Xero's rate of an invoice) are
written by that account's admins and integrations and read by that account alone, where they win
over the feed for their pair. One rate per pair and date in each: two partial unique indexes.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from tamio.db import Base, ExactDecimal, created_at_column, new_id

FEED_ROWS = text("user_id IS NULL")
ACCOUNT_ROWS = text("user_id IS NOT NULL")


class ExchangeRate(Base):
    __tablename__ = "exchange_rates"
    __table_args__ = (
        Index("uq_exchange_rates_feed", "base_currency", "quote_currency", "rate_date", unique=True,
              sqlite_where=FEED_ROWS, postgresql_where=FEED_ROWS),
        Index("uq_exchange_rates_account", "user_id", "base_currency", "quote_currency", "rate_date", unique=True,
              sqlite_where=ACCOUNT_ROWS, postgresql_where=ACCOUNT_ROWS),
        Index("ix_exchange_rates_lookup", "base_currency", "quote_currency", "rate_date"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("fx"))
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))  # None: the server's feed
    base_currency: Mapped[str] = mapped_column(String(3))
    quote_currency: Mapped[str] = mapped_column(String(3))
    rate: Mapped[Decimal] = mapped_column(ExactDecimal())
    rate_date: Mapped[date] = mapped_column(Date())
    source: Mapped[str] = mapped_column(String(20), default="manual")
    created_at: Mapped[datetime] = created_at_column()

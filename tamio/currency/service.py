"""Currency conversion at write time, from the exchange_rates table.

``convert_amount`` uses the latest rate on or before the date: the direct pair, its inverse, or
the cross through EUR (the ECB publishes every rate against EUR). A missing rate is a
``MissingExchangeRate`` and nothing is written.

    converted, rate, rate_date = await convert_amount(db, Decimal("5000"), "EUR", "USD", date(2026, 12, 1))
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.currency.models import ExchangeRate
from tamio.errors import MissingExchangeRate, ValidationError
from tamio.money import normalize_currency, quantize

PIVOT = "EUR"
RATE_PLACES = Decimal("0.000000000001")

@dataclass(frozen=True)
class Conversion:
    amount: Decimal
    rate: Decimal
    rate_date: date

def _inverse(rate: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 34
        return (Decimal(1) / rate).quantize(RATE_PLACES)

class RateBook:
    """Rates loaded once (one query) and used for many conversions in memory."""

    def __init__(self, rows: Iterable[tuple[str, str, Decimal, date]]) -> None:
        # (base, quote) -> list of (date, rate), newest first
        self._rates: dict[tuple[str, str], list[tuple[date, Decimal]]] = {}
        for base, quote, rate, rate_date in rows:
            self._rates.setdefault((base, quote), []).append((rate_date, rate))
        for series in self._rates.values():
            series.sort(reverse=True)

    @classmethod
    async def load(cls, db: AsyncSession, currencies: Iterable[str], on_date: date) -> RateBook:
        codes = sorted({c.upper() for c in currencies} | {PIVOT})
        rows = (
            await db.execute(
                select(ExchangeRate.base_currency, ExchangeRate.quote_currency, ExchangeRate.rate, ExchangeRate.rate_date).where(
                    ExchangeRate.base_currency.in_(codes),
                    ExchangeRate.quote_currency.in_(codes),
                    ExchangeRate.rate_date <= on_date,
                )
            )
        ).all()
        return cls((r[0], r[1], r[2], r[3]) for r in rows)

    def _direct(self, base: str, quote: str, on_date: date) -> tuple[Decimal, date] | None:
        for rate_date, rate in self._rates.get((base, quote), ()):
            if rate_date <= on_date:
                return rate, rate_date
        return None

    def rate(self, base: str, quote: str, on_date: date) -> tuple[Decimal, date]:
        base, quote = base.upper(), quote.upper()
        if base == quote:
            return Decimal(1), on_date
        found = self._pair(base, quote, on_date)
        if found is not None:
            return found
        if PIVOT not in (base, quote):
            leg_in = self._pair(base, PIVOT, on_date)
            leg_out = self._pair(PIVOT, quote, on_date)
            if leg_in and leg_out:
                with localcontext() as ctx:
                    ctx.prec = 34
                    rate = (leg_in[0] * leg_out[0]).quantize(RATE_PLACES)
                return rate, min(leg_in[1], leg_out[1])
        raise MissingExchangeRate(
            f"There is no exchange rate from {base} to {quote} on or before {on_date.isoformat()}, so nothing was saved.",
            hint=f"Add one with `tamio rates add {base} {quote} RATE --date {on_date.isoformat()}` or load the ECB feed with `tamio rates import FILE`.",
        )

    def _pair(self, base: str, quote: str, on_date: date) -> tuple[Decimal, date] | None:
        direct = self._direct(base, quote, on_date)
        inverse = self._direct(quote, base, on_date)
        if direct and (not inverse or direct[1] >= inverse[1]):
            return direct
        if inverse:
            return _inverse(inverse[0]), inverse[1]
        return None

    def convert(self, amount: Decimal, from_currency: str, to_currency: str, on_date: date) -> Conversion:
        rate, rate_date = self.rate(from_currency, to_currency, on_date)
        with localcontext() as ctx:
            ctx.prec = 34
            converted = quantize(amount * rate, to_currency)
        return Conversion(converted, rate, rate_date)

async def convert_amount(
    db: AsyncSession, amount: Decimal, from_currency: str, to_currency: str, on_date: date
) -> tuple[Decimal, Decimal, date]:
    """Return (converted, rate, rate_date); converted is rounded to the target currency's minor units."""
    book = await RateBook.load(db, [from_currency, to_currency], on_date)
    result = book.convert(amount, from_currency, to_currency, on_date)
    return result.amount, result.rate, result.rate_date

async def apply_conversion(
    db: AsyncSession, entity: Any, *, amount: Decimal, currency: str, base_currency: str, on_date: date, book: RateBook | None = None
) -> None:
    """Set currency, base_currency_amount, exchange_rate_used and exchange_rate_date on an entity."""
    currency = normalize_currency(currency)
    if book is None:
        book = await RateBook.load(db, [currency, base_currency], on_date)
    result = book.convert(amount, currency, base_currency, on_date)
    entity.currency = currency
    entity.base_currency_amount = result.amount
    entity.exchange_rate_used = result.rate
    entity.exchange_rate_date = result.rate_date

async def add_rate(
    db: AsyncSession, *, base_currency: str, quote_currency: str, rate: Decimal, rate_date: date, source: str = "manual"
) -> None:
    """Insert or replace one rate (the pair and date are unique)."""
    base, quote = normalize_currency(base_currency), normalize_currency(quote_currency)
    if rate <= 0:
        raise ValidationError("An exchange rate must be more than zero.", field_errors={"rate": "must be more than zero"})
    if base == quote:
        raise ValidationError("A rate needs two different currencies.", field_errors={"quote_currency": "must differ from base_currency"})
    await upsert_rates(db, [(base, quote, rate, rate_date)], source=source)

async def upsert_rates(db: AsyncSession, rows: Iterable[tuple[str, str, Decimal, date]], *, source: str) -> int:
    values = [
        {"id": f"fx_{b}{q}{d.isoformat()}", "base_currency": b, "quote_currency": q, "rate": r, "rate_date": d, "source": source}
        for b, q, r, d in rows
    ]
    if not values:
        return 0
    dialect = db.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    for start in range(0, len(values), 500):
        chunk = values[start : start + 500]
        stmt = insert(ExchangeRate).values(chunk)
        stmt = stmt.on_conflict_do_update(
            index_elements=["base_currency", "quote_currency", "rate_date"],
            set_={"rate": stmt.excluded.rate, "source": stmt.excluded.source},
        )
        await db.execute(stmt)
    return len(values)

async def list_rates(db: AsyncSession, *, base_currency: str | None = None, quote_currency: str | None = None, limit: int = 200) -> list[ExchangeRate]:
    stmt = select(ExchangeRate)
    conditions = []
    if base_currency:
        conditions.append(ExchangeRate.base_currency == base_currency.upper())
    if quote_currency:
        conditions.append(ExchangeRate.quote_currency == quote_currency.upper())
    if conditions:
        stmt = stmt.where(and_(*conditions))
    stmt = stmt.order_by(ExchangeRate.rate_date.desc(), ExchangeRate.base_currency, ExchangeRate.quote_currency).limit(limit)
    return list((await db.execute(stmt)).scalars().all())

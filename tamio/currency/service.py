"""Currency conversion at write time, from the server's feed and the account's own rates.

``RateBook.load(db, currencies, on_date, account_id=...)`` reads, in one query, the server's feed
(the ECB's euro rates) and the account's own rates, never another account's. For a pair the
account has rates of, its latest on or before the date wins over the feed; otherwise the feed's
latest: the direct pair, its inverse, or the cross through EUR. A missing rate is a
``MissingExchangeRate`` and nothing is written. Amounts and their conversions stay within
``tamio.limits`` (10^12), checked before anything is rounded or stored, so a product of an amount
and a rate cannot overflow a column or a sum.

    book = await RateBook.load(db, ["EUR", "USD"], date(2026, 12, 1), account_id=account.id)
    book.convert(Decimal("5000"), "EUR", "USD", date(2026, 12, 1))   # Conversion(amount=..., rate=..., rate_date=...)
    stale_rate_note(date(2026, 11, 12), today=date(2026, 12, 1))    # 'at the 12 Nov rate'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, localcontext
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.audit.service import AuditService
from tamio.currency.models import ACCOUNT_ROWS, FEED_ROWS, ExchangeRate
from tamio.db import new_id
from tamio.errors import MissingExchangeRate, ValidationError
from tamio.limits import amount_too_large, check_amount, check_converted, check_rate
from tamio.money import format_money, normalize_currency, quantize

PIVOT = "EUR"
RATE_PLACES = Decimal("0.000000000001")
STALE_AFTER = timedelta(days=7)

Series = dict[tuple[str, str], list[tuple[date, Decimal]]]  # (base, quote) -> [(date, rate)], newest first


@dataclass(frozen=True)
class Conversion:
    amount: Decimal
    rate: Decimal
    rate_date: date


def stale_rate_note(rate_date: date | None, *, today: date) -> str:
    """``"at the 12 Nov rate"`` when a conversion used a rate more than a week old, else ``""``."""
    if rate_date is None or today - rate_date <= STALE_AFTER:
        return ""
    year = f" {rate_date.year}" if rate_date.year != today.year else ""
    return f"at the {rate_date.day} {rate_date:%b}{year} rate"


def in_base_currency(entity: Any, base_currency: str, *, today: date) -> str:
    """`` ($5,600.00 at the 12 Nov rate)`` after an amount entered in another currency: what it counts
    for, and the rate's day when that rate is more than a week old; ``""`` for the base currency."""
    if getattr(entity, "currency", base_currency) == base_currency or entity.base_currency_amount is None:
        return ""
    stale = stale_rate_note(entity.exchange_rate_date, today=today)
    return f" ({format_money(entity.base_currency_amount, base_currency)}{' ' + stale if stale else ''})"


def _inverse(rate: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 34
        return (Decimal(1) / rate).quantize(RATE_PLACES)


def _series(rows: Iterable[tuple[str, str, Decimal, date]]) -> Series:
    found: Series = {}
    for base, quote, rate, rate_date in rows:
        found.setdefault((base, quote), []).append((rate_date, rate))
    for series in found.values():
        series.sort(reverse=True)
    return found


class RateBook:
    """Rates loaded once (one query) and used for many conversions in memory."""

    def __init__(self, feed: Iterable[tuple[str, str, Decimal, date]], own: Iterable[tuple[str, str, Decimal, date]] = ()) -> None:
        self._feed = _series(feed)
        self._own = _series(own)

    @classmethod
    async def load(cls, db: AsyncSession, currencies: Iterable[str], on_date: date, *, account_id: str) -> RateBook:
        codes = sorted({c.upper() for c in currencies} | {PIVOT})
        rows = (
            await db.execute(
                select(ExchangeRate.user_id, ExchangeRate.base_currency, ExchangeRate.quote_currency, ExchangeRate.rate,
                       ExchangeRate.rate_date).where(
                    ExchangeRate.base_currency.in_(codes),
                    ExchangeRate.quote_currency.in_(codes),
                    ExchangeRate.rate_date <= on_date,
                    or_(ExchangeRate.user_id.is_(None), ExchangeRate.user_id == account_id),
                )
            )
        ).all()
        return cls([(r[1], r[2], r[3], r[4]) for r in rows if r[0] is None], [(r[1], r[2], r[3], r[4]) for r in rows if r[0] is not None])

    @staticmethod
    def _latest(series: Series, base: str, quote: str, on_date: date) -> tuple[Decimal, date] | None:
        for rate_date, rate in series.get((base, quote), ()):
            if rate_date <= on_date:
                return rate, rate_date
        return None

    def _pair_in(self, series: Series, base: str, quote: str, on_date: date) -> tuple[Decimal, date] | None:
        direct = self._latest(series, base, quote, on_date)
        inverse = self._latest(series, quote, base, on_date)
        if direct and (not inverse or direct[1] >= inverse[1]):
            return direct
        if inverse:
            return _inverse(inverse[0]), inverse[1]
        return None

    def _pair(self, base: str, quote: str, on_date: date) -> tuple[Decimal, date] | None:
        """The account's own rate of the pair when it has one, else the feed's."""
        return self._pair_in(self._own, base, quote, on_date) or self._pair_in(self._feed, base, quote, on_date)

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
            f"I have no exchange rate from {base} to {quote} on or before {on_date.isoformat()}, so nothing was saved.",
            hint=f"An admin can add one with `/tamio rate {base} 1.0` (what 1 {base} is worth in {quote}).",
            currencies=(base, quote),
        )

    def convert(self, amount: Decimal, from_currency: str, to_currency: str, on_date: date) -> Conversion:
        check_amount(amount, currency=from_currency.upper())
        rate, rate_date = self.rate(from_currency, to_currency, on_date)
        with localcontext() as ctx:
            ctx.prec = 60  # exact for any amount and rate within the limits; checked before rounding
            product = amount * rate
        if amount_too_large(product):
            check_converted(product, to_currency.upper())
        return Conversion(quantize(product, to_currency), rate, rate_date)


async def convert_amount(
    db: AsyncSession, amount: Decimal, from_currency: str, to_currency: str, on_date: date, *, account_id: str
) -> tuple[Decimal, Decimal, date]:
    """Return (converted, rate, rate_date); converted is rounded to the target currency's minor units."""
    book = await RateBook.load(db, [from_currency, to_currency], on_date, account_id=account_id)
    result = book.convert(amount, from_currency, to_currency, on_date)
    return result.amount, result.rate, result.rate_date


async def apply_conversion(
    db: AsyncSession, entity: Any, *, amount: Decimal, currency: str, base_currency: str, on_date: date, account_id: str,
    book: RateBook | None = None,
) -> None:
    """Set currency, base_currency_amount, exchange_rate_used and exchange_rate_date on an entity."""
    currency = normalize_currency(currency)
    if book is None:
        book = await RateBook.load(db, [currency, base_currency], on_date, account_id=account_id)
    result = book.convert(amount, currency, base_currency, on_date)
    entity.currency = currency
    entity.base_currency_amount = result.amount
    entity.exchange_rate_used = result.rate
    entity.exchange_rate_date = result.rate_date


async def add_rate(
    db: AsyncSession, *, base_currency: str, quote_currency: str, rate: Decimal, rate_date: date, account_id: str | None,
    source: str = "manual",
) -> None:
    """Insert or replace one rate: the server feed's (``account_id=None``) or one account's own."""
    base, quote = normalize_currency(base_currency), normalize_currency(quote_currency)
    if rate <= 0:
        raise ValidationError("An exchange rate must be more than zero.", field_errors={"rate": "must be more than zero"})
    check_rate(rate)
    if base == quote:
        raise ValidationError("A rate needs two different currencies.", field_errors={"quote_currency": "must differ from base_currency"})
    await upsert_rates(db, [(base, quote, rate, rate_date)], source=source, account_id=account_id)


async def set_account_rate(
    db: AsyncSession, *, account_id: str, base_currency: str, quote_currency: str, rate: Decimal, rate_date: date, actor: str,
    source: str = "manual", now: datetime,
) -> None:
    """An account's own rate of a pair (what ``/tamio rate`` and the REST API write; admins only, checked
    at the edge): it wins over the feed for this account, no other account reads it, and the audit
    trail records who set it."""
    await add_rate(db, base_currency=base_currency, quote_currency=quote_currency, rate=rate, rate_date=rate_date,
                   account_id=account_id, source=source)
    pair = f"{normalize_currency(base_currency)}/{normalize_currency(quote_currency)}"
    await AuditService(db, account_id, actor=actor, clock=lambda: now).log_create(
        "exchange_rate", f"{pair}/{rate_date.isoformat()}", {"pair": pair, "rate": rate, "rate_date": rate_date, "source": source}
    )


async def upsert_rates(
    db: AsyncSession, rows: Iterable[tuple[str, str, Decimal, date]], *, source: str, account_id: str | None = None
) -> int:
    """Store rates in the server's feed (``account_id=None``) or as one account's own, replacing any of the same pair and date."""
    values = [
        {"id": f"fx_{b}{q}{d.isoformat()}" if account_id is None else new_id("fx"), "user_id": account_id,
         "base_currency": b, "quote_currency": q, "rate": check_rate(r), "rate_date": d, "source": source}
        for b, q, r, d in rows
    ]
    if not values:
        return 0
    dialect = db.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    keys = ["base_currency", "quote_currency", "rate_date"] if account_id is None else ["user_id", "base_currency", "quote_currency", "rate_date"]
    for start in range(0, len(values), 500):
        chunk = values[start : start + 500]
        stmt = insert(ExchangeRate).values(chunk)
        stmt = stmt.on_conflict_do_update(
            index_elements=keys, index_where=FEED_ROWS if account_id is None else ACCOUNT_ROWS,
            set_={"rate": stmt.excluded.rate, "source": stmt.excluded.source},
        )
        await db.execute(stmt)
    return len(values)


async def list_rates(
    db: AsyncSession, *, account_id: str | None, base_currency: str | None = None, quote_currency: str | None = None,
    limit: int = 200,
) -> list[ExchangeRate]:
    """The feed's rates and, given an account, that account's own (never another's), newest first."""
    owner = ExchangeRate.user_id.is_(None) if account_id is None else or_(ExchangeRate.user_id.is_(None), ExchangeRate.user_id == account_id)
    conditions = [owner]
    if base_currency:
        conditions.append(ExchangeRate.base_currency == base_currency.upper())
    if quote_currency:
        conditions.append(ExchangeRate.quote_currency == quote_currency.upper())
    stmt = select(ExchangeRate).where(and_(*conditions)).order_by(
        ExchangeRate.rate_date.desc(), ExchangeRate.base_currency, ExchangeRate.quote_currency, ExchangeRate.user_id
    ).limit(limit)
    return list((await db.execute(stmt)).scalars().all())

"""Load what the forecast needs, in a fixed number of queries, and run the engine.

Two paths, as the design document's "Computing a Forecast" says:

- ``USE_OBLIGATION_FOR_FORECAST`` on: open ObligationSchedules, summed in SQL per due date and
  confidence class (what keeps a 10,000-agreement forecast fast), what remains of partly paid
  ones only, receivables moved by the client's usual delay, overdue ones into week 1.
- off (legacy): clients' and expense buckets' billing lines, expanded in Python.

For the same data both give identical weeks. Amounts are always the base-currency amounts
converted at write time.

    forecast = await calculate_forecast(session, account.id, as_of=date(2026, 12, 7), settings=settings)

``calculate_forecasts`` (and ``load_forecast_inputs_many``) do the same for many accounts at once
(the 5-minute critical pass): on the schedules path the same sums come from the same index, with
a fixed number of queries for the whole batch.

    forecasts = await calculate_forecasts(session, {account.id: date(2026, 12, 7)}, settings=settings)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account, UserConfiguration
from tamio.config import Settings
from tamio.data.models import CashAccount, CashAccountType, Client, ExpenseBucket
from tamio.db import Money, money_sum
from tamio.errors import NotFound
from tamio.forecast.confidence import item_confidence
from tamio.forecast.engine import INFLOW, OUTFLOW, Forecast, ForecastItem, build_forecast
from tamio.obligations.models import (
    OPEN_SCHEDULE_STATUSES,
    AgreementStatus,
    ObligationAgreement,
    ObligationSchedule,
)
from tamio.obligations.schemas import RecurrenceSpec

ZERO = Decimal(0)


@dataclass(frozen=True)
class ForecastInputs:
    base_currency: str
    opening_balance: Decimal
    buffer: Decimal
    items: tuple[ForecastItem, ...]


async def opening_balance(db: AsyncSession, *, account_id: str) -> Decimal:
    """Cash on hand: bank and savings accounts in the base currency (a credit line is not cash)."""
    total = (
        await db.execute(
            select(type_coerce(func.coalesce(money_sum(CashAccount.base_currency_amount), 0), Money())).where(
                CashAccount.user_id == account_id, CashAccount.account_type != CashAccountType.CREDIT_LINE
            )
        )
    ).scalar_one()
    return Decimal(total)


async def schedule_items(db: AsyncSession, *, account_id: str, as_of: date, end: date) -> list[ForecastItem]:
    """Open schedules summed per (due date, direction, confidence class) from one covering index."""
    remaining = type_coerce(
        money_sum(ObligationSchedule.base_currency_amount - ObligationSchedule.paid_base_amount), Money()
    ).label("remaining")
    keys = (
        ObligationSchedule.due_date,
        ObligationSchedule.direction,
        ObligationSchedule.amount_type,
        ObligationSchedule.origin,
        ObligationSchedule.client_id,
    )
    stmt = (
        select(*keys, remaining)
        .where(
            ObligationSchedule.user_id == account_id,
            ObligationSchedule.due_date <= end,
            ObligationSchedule.status.in_(OPEN_SCHEDULE_STATUSES),
        )
        .group_by(*keys)
    )
    rows = (await db.execute(stmt)).all()
    delay_rows = await db.execute(
        select(Client.id, Client.avg_payment_delay_days).where(Client.user_id == account_id, Client.avg_payment_delay_days > 0)
    )
    delays: dict[str, int] = {client_id: days for client_id, days in delay_rows}
    return _schedule_items(rows, delays, as_of=as_of)


def _schedule_items(rows: Iterable[Any], delays: Mapping[str, int], *, as_of: date) -> list[ForecastItem]:
    """Summed schedule rows ``(due, direction, amount_type, origin, client_id, amount)`` as forecast items."""
    items: list[ForecastItem] = []
    for due, direction, amount_type, origin, client_id, amount in rows:
        if amount is None or amount <= 0:
            continue
        usual_delay = int(delays.get(client_id, 0)) if client_id else 0
        items.append(_item(as_of, due, direction.value, amount_type.value, origin, usual_delay, Decimal(amount)))
    return items


def _item(as_of: date, due: date, direction: str, amount_type: str, source: str, usual_delay: int, amount: Decimal, **extra: str) -> ForecastItem:
    delay = usual_delay if direction == INFLOW else 0
    expected = due + timedelta(days=delay)
    overdue = expected < as_of
    return ForecastItem(
        date=as_of if overdue else expected,
        amount=amount,
        direction=direction,
        confidence=item_confidence(amount_type=amount_type, source=source, payment_delay_days=delay, overdue=overdue),
        overdue=overdue,
        source_id=extra.get("source_id", ""),
        counterparty_name=extra.get("counterparty_name", ""),
        category=extra.get("category", ""),
    )


async def legacy_items(db: AsyncSession, *, account_id: str, as_of: date, end: date) -> list[ForecastItem]:
    """The legacy path: billing lines of active clients and expense buckets, expanded in Python."""
    clients = (await db.execute(select(Client).where(Client.user_id == account_id))).scalars().all()
    buckets = (await db.execute(select(ExpenseBucket).where(ExpenseBucket.user_id == account_id))).scalars().all()
    cancelled = set(
        (
            await db.execute(
                select(ObligationAgreement.id).where(
                    ObligationAgreement.user_id == account_id, ObligationAgreement.status != AgreementStatus.ACTIVE
                )
            )
        ).scalars()
    )
    items: list[ForecastItem] = []
    entities: list[Client | ExpenseBucket] = [*clients, *buckets]
    for entity in entities:
        if entity.status.value != "active":
            continue
        usual_delay = entity.avg_payment_delay_days if isinstance(entity, Client) else 0
        for line in (entity.billing_config or {}).get("lines", []):
            if line.get("agreement_id") in cancelled:
                continue
            direction = INFLOW if line.get("obligation_type") == "revenue" else OUTFLOW
            # The same window schedules are generated for (from as_of), so both paths agree.
            window_start = as_of
            spec = RecurrenceSpec.from_config(line["recurrence"])
            base_amount = Decimal(line.get("base_amount") or line["amount"])
            for occurrence in spec.recurrence().occurrences(window_start, end):
                item = _item(as_of, occurrence.due_date, direction, line.get("amount_type", "fixed"), entity.source, usual_delay, base_amount)
                if item.overdue:
                    continue
                items.append(item)
    return items


async def load_forecast_inputs(
    db: AsyncSession, account_id: str, *, as_of: date, weeks: int = 13, settings: Settings | None = None
) -> ForecastInputs:
    settings = settings or Settings()
    account = await db.get(Account, account_id)
    if account is None:
        raise NotFound(f"There is no account `{account_id}`.")
    end = as_of + timedelta(days=7 * weeks - 1)
    config = await db.get(UserConfiguration, account_id)
    buffer = config.obligations_buffer_amount if config else ZERO
    if settings.use_obligation_for_forecast:
        items = await schedule_items(db, account_id=account_id, as_of=as_of, end=end)
    else:
        items = await legacy_items(db, account_id=account_id, as_of=as_of, end=end)
    return ForecastInputs(
        base_currency=account.base_currency,
        opening_balance=await opening_balance(db, account_id=account_id),
        buffer=buffer,
        items=tuple(items),
    )


async def calculate_forecast(
    db: AsyncSession, account_id: str, *, as_of: date, weeks: int = 13, settings: Settings | None = None
) -> Forecast:
    inputs = await load_forecast_inputs(db, account_id, as_of=as_of, weeks=weeks, settings=settings)
    return build_forecast(
        as_of=as_of,
        weeks=weeks,
        opening_balance=inputs.opening_balance,
        items=inputs.items,
        buffer=inputs.buffer,
        base_currency=inputs.base_currency,
        keep_items=True,
    )


async def load_forecast_inputs_many(
    db: AsyncSession, as_of: Mapping[str, date], *, weeks: int = 13, settings: Settings | None = None
) -> dict[str, ForecastInputs]:
    """``load_forecast_inputs`` for each account of ``as_of`` (account id -> its day): the same inputs.

    On the schedules path, one query each for the accounts, the opening balances, the summed
    schedules (the covering index, ``user_id IN (...)``) and the clients' usual delays, whatever
    the number of accounts; the legacy path loads each account on its own.
    """
    settings = settings or Settings()
    ids = sorted(as_of)
    if not ids:
        return {}
    if not settings.use_obligation_for_forecast:
        return {i: await load_forecast_inputs(db, i, as_of=as_of[i], weeks=weeks, settings=settings) for i in ids}
    heads = {
        account_id: (currency, buffer)
        for account_id, currency, buffer in await db.execute(
            select(Account.id, Account.base_currency, UserConfiguration.obligations_buffer_amount)
            .outerjoin(UserConfiguration, UserConfiguration.user_id == Account.id)
            .where(Account.id.in_(ids))
        )
    }
    missing = [i for i in ids if i not in heads]
    if missing:
        raise NotFound(f"There is no account `{missing[0]}`.")
    ends = {i: as_of[i] + timedelta(days=7 * weeks - 1) for i in ids}
    balances = {
        account_id: Decimal(total)
        for account_id, total in await db.execute(
            select(CashAccount.user_id, type_coerce(money_sum(CashAccount.base_currency_amount), Money()))
            .where(CashAccount.user_id.in_(ids), CashAccount.account_type != CashAccountType.CREDIT_LINE)
            .group_by(CashAccount.user_id)
        )
        if total is not None
    }
    os_ = ObligationSchedule
    keys = (os_.due_date, os_.direction, os_.amount_type, os_.origin, os_.client_id)
    summed = await db.execute(
        select(os_.user_id, *keys, type_coerce(money_sum(os_.base_currency_amount - os_.paid_base_amount), Money()))
        .where(os_.user_id.in_(ids), os_.due_date <= max(ends.values()), os_.status.in_(OPEN_SCHEDULE_STATUSES))
        .group_by(os_.user_id, *keys)
    )
    rows: dict[str, list[Any]] = {}
    for account_id, due, *rest in summed:
        if due <= ends[account_id]:
            rows.setdefault(account_id, []).append((due, *rest))
    delays: dict[str, dict[str, int]] = {}
    for account_id, client_id, days in await db.execute(
        select(Client.user_id, Client.id, Client.avg_payment_delay_days).where(
            Client.user_id.in_(ids), Client.avg_payment_delay_days > 0
        )
    ):
        delays.setdefault(account_id, {})[client_id] = days
    return {
        i: ForecastInputs(
            base_currency=heads[i][0],
            opening_balance=balances.get(i, ZERO),
            buffer=heads[i][1] if heads[i][1] is not None else ZERO,
            items=tuple(_schedule_items(rows.get(i, ()), delays.get(i, {}), as_of=as_of[i])),
        )
        for i in ids
    }


async def calculate_forecasts(
    db: AsyncSession, as_of: Mapping[str, date], *, weeks: int = 13, settings: Settings | None = None
) -> dict[str, Forecast]:
    """``calculate_forecast`` for each account of ``as_of`` (account id -> its day), loaded together."""
    inputs = await load_forecast_inputs_many(db, as_of, weeks=weeks, settings=settings)
    return {
        i: build_forecast(
            as_of=as_of[i], weeks=weeks, opening_balance=got.opening_balance, items=got.items, buffer=got.buffer,
            base_currency=got.base_currency, keep_items=True,
        )
        for i, got in inputs.items()
    }


calculate_forecast_v2 = calculate_forecast  # the design document's name

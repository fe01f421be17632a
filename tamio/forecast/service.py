"""Load what the forecast needs, in a fixed number of queries, and run the engine.

Two paths, as the design document's "Computing a Forecast" says, and they agree to the cent:

- ``USE_OBLIGATION_FOR_FORECAST`` on (the default): open ObligationSchedules, summed in SQL per
  due date and confidence class from one covering index (what keeps a 10,000-agreement forecast
  fast), what remains of partly paid ones only, at their moved date when a delay moved them.
  Schedules of paused clients and vendors, or of cancelled agreements, that their recurrence alone
  put there are not expected; what they already owe still is.
- off (legacy): billing lines, with what the ledger knows beside them (``tamio.forecast.legacy``).

On both, a receivable is placed where the client's payment behaviour expects it given that it is
still unpaid (``tamio.forecast.behaviour``), and amounts are the base-currency amounts converted
at write time.

Reading never writes. The schedules path reads an account whose schedules reach the forecast's
last day (``Account.schedules_through``); an account whose schedules fall short (never backfilled,
or a forecast longer than the rolling horizon) is read from its billing lines instead, the same
weeks to the cent (``tests/service/test_forecast_paths.py``), so a forecast is never silently
empty and a GET never writes. Schedules are extended by writers only: the 6 AM job and data changes,
and ``forecast_for_account``, the forecast "as of today" of the CLI and Slack, which extends them
first when they fall short, in a write transaction of its own, then computes in a read-only one.

    forecast = await calculate_forecast(session, account.id, as_of=date(2026, 12, 7), settings=settings)
    forecast = await forecast_for_account(sessions, account.id, today=date(2026, 12, 7), now=now, settings=settings)

``calculate_forecasts`` (and ``load_forecast_inputs_many``) do the same for many accounts at once
(the 5-minute critical pass): on the schedules path the same sums come from the same index, with
a fixed number of queries for the whole batch.

    forecasts = await calculate_forecasts(session, {account.id: date(2026, 12, 7)}, settings=settings)
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import (
    Date,
    Select,
    String,
    Text,
    and_,
    bindparam,
    cast,
    literal,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.accounts.models import Account, UserConfiguration
from tamio.accounts.safety import effective_buffer
from tamio.config import Settings
from tamio.data.models import CashAccount, CashAccountType, Client, CounterpartyStatus, ExpenseBucket
from tamio.db import Money, money_sum, read_only
from tamio.errors import NotFound
from tamio.forecast.band import NO_CALIBRATION, Calibration
from tamio.forecast.engine import Forecast, ForecastItem, build_forecast
from tamio.forecast.expected import DELAY_REQUESTED, Totals, add, items_of, key_of, plain_clause
from tamio.forecast.legacy import legacy_totals
from tamio.forecast.runway import RUNWAY_WEEKS
from tamio.obligations.backfill import backfill_schedules, lock_account
from tamio.obligations.habits import ON_DUE_DATE, Habits, PaymentBehaviour, stated
from tamio.obligations.models import (
    OPEN_SCHEDULE_STATUSES,
    AgreementStatus,
    ObligationAgreement,
    ObligationSchedule,
)
from tamio.statements import account_params, account_scope

ZERO = Decimal(0)
DORMANT_COUNTERPARTY = (CounterpartyStatus.PAUSED, CounterpartyStatus.ENDED)
DORMANT_AGREEMENT = (AgreementStatus.CANCELLED, AgreementStatus.ENDED)


@dataclass(frozen=True)
class ForecastInputs:
    base_currency: str
    opening_balance: Decimal
    buffer: Decimal
    items: tuple[ForecastItem, ...]
    variance: tuple[float, ...] = ()  # the band's prior, per week
    lean: tuple[float, ...] = ()
    calibration: Calibration = NO_CALIBRATION
    habits: Habits = field(default_factory=Habits)
    totals: Totals = field(default_factory=dict, repr=False)

    def forecast(self, *, as_of: date, weeks: int, keep_items: bool = True) -> Forecast:
        return build_forecast(
            as_of=as_of, weeks=weeks, opening_balance=self.opening_balance, items=self.items, buffer=self.buffer,
            base_currency=self.base_currency, keep_items=keep_items, variance=self.variance, lean=self.lean,
            calibration=self.calibration,
        )

    def baseline(self, *, as_of: date, weeks: int) -> Forecast:
        """The same forecast expecting every receivable on its due date (what accuracy is measured against)."""
        expected = items_of(self.totals, Habits(), as_of=as_of, weeks=weeks, currency=self.base_currency)
        return build_forecast(
            as_of=as_of, weeks=weeks, opening_balance=self.opening_balance, items=expected.items, buffer=self.buffer,
            base_currency=self.base_currency,
        )


async def opening_balance(db: AsyncSession, *, account_id: str) -> Decimal:
    """Cash on hand: bank and savings accounts in the base currency (a credit line is not cash)."""
    return (await _balances(db, [account_id])).get(account_id, ZERO)


@cache
def _balances_select() -> Select[Any]:
    columns: tuple[Any, ...] = (CashAccount.user_id, type_coerce(money_sum(CashAccount.base_currency_amount), Money()))
    return (
        select(*columns)
        .where(account_scope(CashAccount.user_id, False), CashAccount.account_type != CashAccountType.CREDIT_LINE)
        .group_by(CashAccount.user_id)
    )


async def _balances(db: AsyncSession, ids: list[str]) -> dict[str, Decimal]:
    return {
        account_id: Decimal(total)
        for account_id, total in await db.execute(_balances_select(), {"accounts": ids})
        if total is not None
    }


# Grouped in the covering index's own order (status included, then added up here): no sort. A
# pending delay request is a column of the index too: such a payment counts as less certain.
# Enums read as their stored values (what a key holds): no enum member made per row.
def _keys() -> tuple[Any, ...]:
    os_ = ObligationSchedule
    return (os_.due_date, type_coerce(os_.direction, String()), type_coerce(os_.status, String()), type_coerce(os_.amount_type, String()),
            os_.origin, os_.delay_requested_to, os_.client_id)


@cache
def _totals_select(single: bool) -> Any:
    """Open schedules summed per key through ``:last``, and what dormant recurrences alone put there
    (``plain_clause`` from ``:first``): one statement, built once per shape (``tamio.statements``)."""
    os_, oa, eb = ObligationSchedule, ObligationAgreement, ExpenseBucket
    keys = _keys()
    last = bindparam("last", type_=Date())
    # One account (every forecast but the critical pass's) is grouped without its id: a quarter faster.
    owner = bindparam("account", type_=String()).label("user_id") if single else os_.user_id
    summed = (
        select(literal(False).label("dormant"), owner, *keys,
               type_coerce(money_sum(os_.base_currency_amount - os_.paid_base_amount), Money()))
        .where(account_scope(os_.user_id, single), os_.due_date <= last, os_.status.in_(OPEN_SCHEDULE_STATUSES))
        .group_by(*keys if single else (os_.user_id, *keys))
    )
    # Worked out once (MATERIALIZED): PostgreSQL, expecting one plain schedule from seven conditions,
    # otherwise ran the three lookups again for each of thousands (330 ms on the bench's business).
    dormant = union_all(
        select(oa.id).where(account_scope(oa.user_id, single), oa.status.in_(DORMANT_AGREEMENT)),
        select(oa.id).join(Client, Client.id == oa.client_id).where(account_scope(Client.user_id, single),
                                                                    Client.status.in_(DORMANT_COUNTERPARTY)),
        select(oa.id).join(eb, eb.id == oa.expense_bucket_id).where(account_scope(eb.user_id, single), eb.status.in_(DORMANT_COUNTERPARTY)),
    ).cte("dormant").prefix_with("MATERIALIZED")
    not_expected = select(
        literal(True).label("dormant"), os_.user_id, *keys, type_coerce(os_.paid_base_amount - os_.base_currency_amount, Money())
    ).where(os_.obligation_id.in_(select(dormant.c.id)), plain_clause(bindparam("first", type_=Date())),
            os_.due_date <= last)  # by agreement: few rows
    return union_all(summed, not_expected)


async def _schedule_totals(db: AsyncSession, as_of: Mapping[str, date], ends: Mapping[str, date]) -> dict[str, Totals]:
    """Open schedules summed per expected-payment key, less what dormant recurrences alone put there
    (paused or ended counterparties, cancelled agreements): one statement for every account."""
    ids = sorted(as_of)
    params = {**account_params(ids), "last": max(ends.values()), "first": min(as_of.values())}
    totals: dict[str, Totals] = {i: {} for i in ids}
    for is_dormant, account_id, due, direction, _, amount_type, origin, asked, client_id, amount in await db.execute(
            _totals_select(len(ids) == 1), params):
        if due > ends[account_id] or amount is None or (is_dormant and due < as_of[account_id]):
            continue
        add(totals[account_id], key_of(due, direction, amount_type, DELAY_REQUESTED if asked else origin, client_id), amount)
    return totals


_BEHAVIOURS: dict[tuple[str, str], PaymentBehaviour] = {}
_NOTHING_STORED = ("null", "{}")


def _behaviour(owner: str, stored: str | Mapping[str, Any]) -> PaymentBehaviour:
    """A stored behaviour (its JSON text as stored, or the decoded value), read once per learning (the
    6 AM job, a payment) and kept for the next forecasts: known by its whole text, a forecast decodes
    only what was learned since the last one."""
    text = stored if isinstance(stored, str) else json.dumps(stored, sort_keys=True)
    found = _BEHAVIOURS.get((owner, text))
    if found is None:
        if len(_BEHAVIOURS) > 8192:
            _BEHAVIOURS.clear()
        found = _BEHAVIOURS[(owner, text)] = PaymentBehaviour.from_json(json.loads(text))
    return found


@functools.lru_cache(maxsize=1024)
def _stated(days_late: int) -> PaymentBehaviour:
    """A stated usual delay's behaviour, one per number of days (immutable: what it works out once,
    its spreader's shares, serves every client and forecast that states it)."""
    return stated(days_late)


@cache
def _habits_select() -> Select[Any]:
    # The behaviour as its stored text: decoded only when it is not known yet (``_behaviour``).
    columns: tuple[Any, ...] = (Client.user_id, Client.id, cast(Client.payment_behaviour, Text), Client.avg_payment_delay_days)
    return select(*columns).where(account_scope(Client.user_id, False))


async def _habits(db: AsyncSession, heads: Mapping[str, Any]) -> dict[str, Habits]:
    """How each account's clients pay, as last learned (a stated usual delay for a client not yet learned)."""
    clients: dict[str, dict[str, PaymentBehaviour]] = {i: {} for i in heads}
    for account_id, client_id, stored, delay in await db.execute(_habits_select(), {"accounts": list(heads)}):
        if stored and stored not in _NOTHING_STORED:
            clients[account_id][client_id] = _behaviour(client_id, stored)
        elif delay:
            clients[account_id][client_id] = _stated(delay)
    return {
        i: Habits(account=_behaviour(i, head.payment_behaviour) if head.payment_behaviour else ON_DUE_DATE, clients=clients[i])
        for i, head in heads.items()
    }


async def extend_schedules(
    db: AsyncSession, *, account_id: str, through: date, settings: Settings, today: date, now: datetime,
) -> bool:
    """The write half of a forecast: the account's schedules generated through ``through`` when they
    fall short (its billing lines given agreements first, if it never had them), under the account's
    row lock so that two writers do not both generate. True when it wrote; the caller commits."""
    account = await lock_account(db, account_id)
    if account is None:
        raise NotFound(f"There is no account `{account_id}`.")
    if account.schedules_through is not None and account.schedules_through >= through:
        return False
    await backfill_schedules(db, account=account, settings=settings, today=today, now=now, through=through)
    return True


@cache
def _heads_select() -> Select[Any]:
    columns: tuple[Any, ...] = (
        Account.id, Account.base_currency, Account.schedules_through, Account.payment_behaviour, Account.forecast_calibration,
        UserConfiguration.obligations_buffer_amount, UserConfiguration.safety_mode,
    )
    # The ids in the join too: without them PostgreSQL hashes every account's configuration.
    return select(*columns).outerjoin(UserConfiguration, and_(
        UserConfiguration.user_id == Account.id, account_scope(UserConfiguration.user_id, False),
    )).where(account_scope(Account.id, False))


async def load_forecast_inputs_many(
    db: AsyncSession, as_of: Mapping[str, date], *, settings: Settings, weeks: int = 13,
) -> dict[str, ForecastInputs]:
    """The forecast's inputs for each account of ``as_of`` (account id -> its first day).

    On the schedules path, one query each for the accounts, the opening balances, the summed
    schedules (the covering index, ``user_id IN (...)``), the dormant recurrences and the clients'
    usual delays, whatever the number of accounts; the legacy path loads each account on its own
    (an account whose schedules do not reach the last day too). Never writes.
    """
    ids = sorted(as_of)
    if not ids:
        return {}
    heads = {row.id: row for row in await db.execute(_heads_select(), {"accounts": ids})}
    missing = [i for i in ids if i not in heads]
    if missing:
        raise NotFound(f"There is no account `{missing[0]}`.")
    weeks = max(weeks, RUNWAY_WEEKS)  # the runway is measured on 13 weeks whatever the forecast shows
    ends = {i: as_of[i] + timedelta(days=7 * weeks - 1) for i in ids}
    on_schedules = [i for i in ids if settings.use_obligation_for_forecast and reaches(heads[i].schedules_through, ends[i])]
    totals: dict[str, Totals] = {}
    if on_schedules:
        totals = await _schedule_totals(db, {i: as_of[i] for i in on_schedules}, ends)
    for i in ids:
        if i not in totals:
            totals[i] = await legacy_totals(db, account_id=i, as_of=as_of[i], end=ends[i])
    balances, habits = await _balances(db, ids), await _habits(db, heads)
    found = {}
    for i in ids:
        expected = items_of(totals[i], habits[i], as_of=as_of[i], weeks=weeks, currency=heads[i].base_currency)
        found[i] = ForecastInputs(
            base_currency=heads[i].base_currency,
            opening_balance=balances.get(i, ZERO),
            buffer=effective_buffer(heads[i].obligations_buffer_amount, heads[i].safety_mode),
            items=expected.items,
            variance=expected.variance,
            lean=expected.lean,
            calibration=Calibration.from_json(heads[i].forecast_calibration),
            habits=habits[i],
            totals=totals[i],
        )
    return found


def reaches(schedules_through: date | None, end: date) -> bool:
    """Whether an account's stored schedules reach ``end`` (the schedules path can read it)."""
    return schedules_through is not None and schedules_through >= end


async def load_forecast_inputs(
    db: AsyncSession, account_id: str, *, as_of: date, settings: Settings, weeks: int = 13,
) -> ForecastInputs:
    return (await load_forecast_inputs_many(db, {account_id: as_of}, weeks=weeks, settings=settings))[account_id]


async def calculate_forecast(
    db: AsyncSession, account_id: str, *, as_of: date, settings: Settings, weeks: int = 13,
) -> Forecast:
    """The account's forecast of ``weeks`` weeks from ``as_of``, as stored (never writes)."""
    inputs = await load_forecast_inputs(db, account_id, as_of=as_of, weeks=weeks, settings=settings)
    return inputs.forecast(as_of=as_of, weeks=weeks)


async def calculate_forecasts(
    db: AsyncSession, as_of: Mapping[str, date], *, settings: Settings, weeks: int = 13,
    inputs: Mapping[str, ForecastInputs] | None = None,
) -> dict[str, Forecast]:
    """``calculate_forecast`` for each account of ``as_of`` (account id -> its day), loaded together;
    ``inputs``, when given, are what ``load_forecast_inputs_many`` gave for the same days and weeks in
    this transaction (a pipeline batch loads them once for detection and preparation)."""
    inputs = inputs if inputs is not None else await load_forecast_inputs_many(db, as_of, weeks=weeks, settings=settings)
    return {i: inputs[i].forecast(as_of=as_of[i], weeks=weeks) for i in as_of}


async def forecast_for_account(
    sessions: async_sessionmaker[AsyncSession], account_id: str, *, today: date, now: datetime, settings: Settings,
    weeks: int = 13, as_of: date | None = None,
) -> Forecast:
    """The account's forecast as of ``today`` (or from ``as_of``), what the CLI and Slack show.

    When the account's schedules fall short of the forecast's last day (a forecast longer than the
    rolling horizon, an account never backfilled, a 6 AM job that has not run yet) they are extended
    first, in a write transaction of its own that commits before anything is read; then the forecast
    is computed in a read-only transaction, so it reads what is stored.
    """
    start = as_of or today
    end = start + timedelta(days=7 * max(weeks, RUNWAY_WEEKS) - 1)  # what load_forecast_inputs reads
    if settings.use_obligation_for_forecast:
        async with sessions() as db:
            read_only(db)
            head = (await db.execute(select(Account.schedules_through).where(Account.id == account_id))).first()
        if head is None:
            raise NotFound(f"There is no account `{account_id}`.")
        if not reaches(head.schedules_through, end):
            async with sessions() as db, db.begin():
                await extend_schedules(db, account_id=account_id, through=end, settings=settings, today=today, now=now)
    async with sessions() as db:
        read_only(db)
        return await calculate_forecast(db, account_id, as_of=start, weeks=weeks, settings=settings)


# The design document's name ("Computing a Forecast: API calls calculate_forecast_v2()"); one function.
calculate_forecast_v2 = calculate_forecast

"""An immutable picture of one account's books, what every detection rule reads.

Loaded once per run in a fixed number of queries whatever the account's size (seven Core selects
plus the forecast's own), so twelve rules can look at the same data without touching the database:

- cash accounts, clients, vendors (expense buckets) and every obligation agreement;
- schedules due from ``today - 120 days`` to the end of the 13-week forecast, of any status, and
  older ones still open (an invoice 200 days late is still owed);
- payments dated in the last 120 days, each with the schedule it paid (amount, currency, status);
- the 13-week forecast (``tamio.forecast.service.calculate_forecast``) as of ``today``.

Records hold plain values (``tamio.detection.records``), so engine tests can build a snapshot by
hand. Each is made from its row in one call: the queries (``tamio.detection.snapshot_queries``, each
built once per shape) select the record's fields in order, with what used to be worked out per row (a
missing base amount, an agreement's type) done in SQL, and each distinct stored amount decoded once
(``tamio.db.Decoded``). A loaded snapshot also carries
what its run's preparation context is built from (``loaded``: the forecast's inputs, the account's
name and zone, the open schedules of the day after the forecast's last), so a run reads its books once.

    snapshot = await load_snapshot(session, account.id, today=date(2026, 12, 7), settings=settings)
    late = [s for s in snapshot.receivables if s.is_open and s.due_date < snapshot.today]

The 5-minute critical pass (buffer_breach, payroll_safety, statutory_deadline) reads far less, for
many accounts at once: ``load_critical_snapshots`` gives each account its forecast and only the
open payables due up to a given day (with their agreements and vendors), in four queries for the
whole batch. Those rules find exactly what they find on a full snapshot; other rules must not be
run on it (no cash accounts, clients, receivables or payments).

    snapshots = await load_critical_snapshots(session, {account.id: (today, today + timedelta(days=14))}, settings=settings)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from types import MappingProxyType
from typing import Any, TypeVar

from sqlalchemy import Boolean, Row, String, and_, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tamio.accounts.models import Account
from tamio.config import Settings
from tamio.data.models import ExpenseBucket
from tamio.detection.records import (
    OPEN_STATUSES,
    ZERO,
    AgreementRecord,
    CashAccountRecord,
    ClientRecord,
    PaymentRecord,
    ScheduleRecord,
    VendorRecord,
)
from tamio.detection.snapshot_queries import (
    FORECAST_WEEKS,
    HISTORY_DAYS,
    agreements_select,
    cash_select,
    clients_select,
    either,
    heads_select,
    or_zero,
    payment_bounds,
    payment_window,
    payments_of_day,
    payments_select,
    schedule_bounds,
    schedule_window,
    schedules_of_day,
    schedules_select,
    text_of,
    vendors_select,
)
from tamio.errors import NotFound
from tamio.forecast.engine import Forecast
from tamio.forecast.service import ForecastInputs, calculate_forecasts, load_forecast_inputs_many
from tamio.obligations.models import (
    OPEN_SCHEDULE_STATUSES,
    Direction,
    ObligationAgreement,
    ObligationSchedule,
    PaymentEvent,
)
from tamio.process import collector_paused
from tamio.statements import account_params, windowed

__all__ = [
    "FORECAST_WEEKS", "HISTORY_DAYS", "OPEN_STATUSES", "ZERO", "AccountSnapshot", "AgreementRecord", "CashAccountRecord", "ClientRecord", "Loaded", "PaymentRecord",
    "ScheduleRecord", "VendorRecord", "load_critical_snapshots", "load_snapshot", "load_snapshots",
]

Record = TypeVar("Record")


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Loaded:
    """What a snapshot loaded from the database carries beside what detection reads: what the run's
    preparation context is built from (``tamio.preparation.context``), so it reads nothing twice."""

    account_name: str
    timezone: str
    inputs: ForecastInputs  # the forecast's inputs (``snapshot.forecast`` is theirs)
    # The open schedules due the day after the forecast's last: preparation reads 13 weeks to the day.
    day_after: tuple[ScheduleRecord, ...] = ()


@dataclass(frozen=True)
class AccountSnapshot:
    account_id: str
    base_currency: str
    today: date
    forecast: Forecast = field(repr=False)
    cash_accounts: tuple[CashAccountRecord, ...] = ()
    clients: Mapping[str, ClientRecord] = field(default_factory=_empty)
    vendors: Mapping[str, VendorRecord] = field(default_factory=_empty)
    agreements: Mapping[str, AgreementRecord] = field(default_factory=_empty)
    schedules: tuple[ScheduleRecord, ...] = field(default=(), repr=False)
    payments: tuple[PaymentRecord, ...] = field(default=(), repr=False)
    account_created_on: date | None = None
    loaded: Loaded | None = field(default=None, repr=False)  # None: built by hand, or a critical pass's light one

    # Derived once per snapshot (the dataclass stays frozen; these are caches of its own data).
    @cached_property
    def receivables(self) -> tuple[ScheduleRecord, ...]:
        return tuple(s for s in self.schedules if s.direction == "inflow")

    @cached_property
    def payables(self) -> tuple[ScheduleRecord, ...]:
        return tuple(s for s in self.schedules if s.direction != "inflow")

    def counterparty_name(self, *, client_id: str | None = None, vendor_id: str | None = None, agreement_id: str | None = None) -> str:
        if client_id and client_id in self.clients:
            return self.clients[client_id].name
        if vendor_id and vendor_id in self.vendors:
            return self.vendors[vendor_id].name
        agreement = self.agreements.get(agreement_id or "")
        return agreement.description if agreement and agreement.description else "an unnamed counterparty"


async def _all(db: AsyncConnection, statement: Any, params: Mapping[str, Any] | None = None) -> Sequence[Row[Any]]:
    """Every row at once (``fetchall``): iterating the result fetches row by row, twice as slow."""
    return (await db.execute(statement, params)).all()


async def _records(
    db: AsyncConnection, make: Callable[[Sequence[Any]], Record], statement: Any, params: Mapping[str, Any], ids: Sequence[str],
) -> dict[str, list[Record]]:
    """account id -> its records, each made from its row in one call (``Record._make``: the columns are
    the record's fields in order), the owner's column first for a batch of accounts (``_select``)."""
    found: dict[str, list[Record]] = {i: [] for i in ids}
    rows = await _all(db, statement, params)
    if len(ids) == 1:  # one account (every run but the hourly pass's): no owner column, nothing to group
        found[ids[0]] = list(map(make, rows))
        return found
    for row in rows:  # in the order read (unordered tables as a single account reads them)
        found[row[0]].append(make(row[1:]))
    return found


def _client(r: Sequence[Any]) -> ClientRecord:
    return ClientRecord._make((*r[:-1], tuple(r[-1] or ())))


def _vendor(r: Sequence[Any]) -> VendorRecord:
    return VendorRecord._make((*r[:8], len(r[8] or ()), r[9], r[10], tuple(r[11] or ())))


async def load_snapshot(
    session: AsyncSession, account_id: str, *, today: date, settings: Settings
) -> AccountSnapshot:
    """Everything detection reads for ``account_id``, in a fixed number of queries."""
    return (await load_snapshots(session, {account_id: today}, settings=settings))[account_id]


async def load_snapshots(
    session: AsyncSession, today: Mapping[str, date], *, settings: Settings,
    inputs: Mapping[str, ForecastInputs] | None = None,
) -> dict[str, AccountSnapshot]:
    """``load_snapshot`` for each account of ``today`` (id -> its day): the same seven queries plus
    the forecasts' own for the whole batch (``user_id IN (...)``), whatever its size (the hourly pass)."""
    if not today:
        return {}
    with collector_paused():  # thousands of rows made into records: ``tamio.process``
        return await _load_snapshots(session, today, settings=settings, inputs=inputs)


async def _load_snapshots(
    session: AsyncSession, today: Mapping[str, date], *, settings: Settings, inputs: Mapping[str, ForecastInputs] | None,
) -> dict[str, AccountSnapshot]:
    # Core rows through the session's connection: no ORM loading, same transaction (flushed first).
    await session.flush()
    db = await session.connection()
    ids = sorted(today)
    single, scope = len(ids) == 1, account_params(ids)
    heads = {r.id: r for r in await _all(db, heads_select(single), scope)}
    missing = [i for i in ids if i not in heads]
    if missing:
        raise NotFound(f"There is no account `{missing[0]}`.")
    cash = await _records(db, CashAccountRecord._make, cash_select(single), scope, ids)
    clients = {i: {r.id: r for r in rows} for i, rows in (await _records(db, _client, clients_select(single), scope, ids)).items()}
    vendors = {i: {v.id: v for v in rows} for i, rows in (await _records(db, _vendor, vendors_select(single), scope, ids)).items()}
    agreements = await _records(db, AgreementRecord._make, agreements_select(single), scope, ids)
    schedules = await _records(db, ScheduleRecord._make, *windowed(
        today, ids, schedules_of_day, schedules_select, ObligationSchedule.user_id, schedule_window, schedule_bounds), ids)
    payments = await _records(db, PaymentRecord._make, *windowed(
        today, ids, payments_of_day, payments_select, PaymentEvent.user_id, payment_window, payment_bounds), ids)
    if inputs is None:
        inputs = await load_forecast_inputs_many(session, today, weeks=FORECAST_WEEKS, settings=settings)
    found = {}
    for i in ids:
        last = today[i] + timedelta(days=7 * FORECAST_WEEKS - 1)
        mine_ = schedules[i]
        cut = len(mine_)
        while cut and mine_[cut - 1].due_date > last:
            cut -= 1
        head = heads[i]
        found[i] = AccountSnapshot(
            account_id=i,
            base_currency=head.base_currency,
            today=today[i],
            forecast=inputs[i].forecast(as_of=today[i], weeks=FORECAST_WEEKS),
            cash_accounts=tuple(cash[i]),
            clients=MappingProxyType(clients[i]),
            vendors=MappingProxyType(vendors[i]),
            agreements=MappingProxyType({a.id: a for a in agreements[i]}),
            schedules=tuple(mine_[:cut]),
            payments=tuple(payments[i]),
            account_created_on=head.created_at.date() if head.created_at else None,
            loaded=Loaded(account_name=head.name, timezone=head.timezone, inputs=inputs[i],
                          day_after=tuple(s for s in mine_[cut:] if s.is_open)),
        )
    return found


async def load_critical_snapshots(
    session: AsyncSession, wanted: Mapping[str, tuple[date, date]], *, settings: Settings,
    inputs: Mapping[str, ForecastInputs] | None = None,
) -> dict[str, AccountSnapshot]:
    """For each account id of ``wanted`` (-> its today and the last due date a rule may read): a
    snapshot with the forecast and the open payables due by then (never past the forecast's end),
    with the agreements and vendors they belong to. Four queries plus the forecasts' own, for all.
    """
    if not wanted:
        return {}
    await session.flush()
    db = await session.connection()
    ids = sorted(wanted)
    heads = {
        r.id: (r.base_currency, r.created_at)
        for r in await _all(db, select(Account.id, Account.base_currency, Account.created_at).where(Account.id.in_(ids)))
    }
    missing = [i for i in ids if i not in heads]
    if missing:
        raise NotFound(f"There is no account `{missing[0]}`.")
    until = {
        i: min(until, today + timedelta(days=7 * FORECAST_WEEKS - 1)) for i, (today, until) in wanted.items()
    }
    os_, oa, eb = ObligationSchedule, ObligationAgreement, ExpenseBucket
    # One row per payable: the owner, then its schedule's, agreement's and vendor's record fields in order (sliced apart).
    rows: Sequence[Sequence[Any]] = await _all(db,
        select(
            os_.user_id,
            os_.id, os_.obligation_id, func.coalesce(type_coerce(oa.obligation_type, String()), "expense"), text_of(os_.direction),
            os_.due_date, os_.estimated_amount, either(os_.base_currency_amount, os_.estimated_amount), os_.currency, text_of(os_.status),
            or_zero(os_.paid_amount), or_zero(os_.paid_base_amount), oa.client_id, oa.expense_bucket_id, os_.invoice_number,
            os_.paid_at, os_.delayed_from, os_.delay_requested_to, type_coerce(os_.base_currency_amount.is_not(None), Boolean()),
            oa.id, text_of(oa.obligation_type), text_of(oa.direction), oa.base_amount, oa.currency,
            either(oa.base_currency_amount, oa.base_amount), text_of(oa.frequency), oa.start_date, oa.created_at, oa.client_id,
            oa.expense_bucket_id, func.coalesce(oa.description, ""), oa.end_date, text_of(oa.status), oa.cancelled_at,
            oa.previous_amount, oa.amount_changed_at, text_of(oa.amount_type), oa.source,
            eb.id, eb.name, text_of(eb.category), text_of(eb.status), eb.payment_terms, eb.payment_terms_days,
            text_of(eb.flexibility_level), text_of(eb.criticality),
        )
        # The batch's ids in each join too: without them PostgreSQL may hash the whole table (everyone's rows).
        .outerjoin(oa, and_(oa.id == os_.obligation_id, oa.user_id == os_.user_id, oa.user_id.in_(ids)))
        .outerjoin(eb, and_(eb.id == oa.expense_bucket_id, eb.user_id == os_.user_id, eb.user_id.in_(ids)))
        .where(
            os_.user_id.in_(ids),
            os_.due_date <= max(until.values()),
            os_.direction != Direction.INFLOW,
            os_.status.in_(OPEN_SCHEDULE_STATUSES),
        )
        .order_by(os_.user_id, os_.due_date, os_.id)
    )
    schedules: dict[str, list[ScheduleRecord]] = {}
    agreements: dict[str, dict[str, AgreementRecord]] = {}
    vendors: dict[str, dict[str, VendorRecord]] = {}
    for row in rows:
        account_id = row[0]
        if row[5] > until[account_id]:  # its due date
            continue
        schedules.setdefault(account_id, []).append(ScheduleRecord._make(row[1:19]))
        if row[19] is not None and row[19] not in agreements.setdefault(account_id, {}):
            agreements[account_id][row[19]] = AgreementRecord._make(row[19:38])
        if row[38] is not None and row[38] not in vendors.setdefault(account_id, {}):
            vendors[account_id][row[38]] = VendorRecord(*row[38:46])  # its terms (no contacts: nothing is prepared on a light snapshot)
    forecasts = await calculate_forecasts(
        session, {i: today for i, (today, _) in wanted.items()}, weeks=FORECAST_WEEKS, settings=settings, inputs=inputs
    )
    return {
        i: AccountSnapshot(
            account_id=i,
            base_currency=heads[i][0],
            today=wanted[i][0],
            forecast=forecasts[i],
            vendors=MappingProxyType(vendors.get(i, {})),
            agreements=MappingProxyType(agreements.get(i, {})),
            schedules=tuple(schedules.get(i, ())),
            account_created_on=heads[i][1].date() if heads[i][1] else None,
        )
        for i in ids
    }

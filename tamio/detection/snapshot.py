"""An immutable picture of one account's books, what every detection rule reads.

Loaded once per run in a fixed number of queries whatever the account's size (seven Core selects
plus the forecast's own), so twelve rules can look at the same data without touching the database:

- cash accounts, clients, vendors (expense buckets) and every obligation agreement;
- schedules due from ``today - 120 days`` to the end of the 13-week forecast, of any status, and
  older ones still open (an invoice 200 days late is still owed);
- payments dated in the last 120 days, each with the schedule it paid (amount, currency, status);
- the 13-week forecast (``tamio.forecast.service.calculate_forecast``) as of ``today``.

Records hold plain values (``tamio.detection.records``), so engine tests can build a snapshot by
hand. Each is made from its row in one call: the queries select the record's fields in order, with
what used to be worked out per row (a missing base amount, an agreement's type) done in SQL, and
each distinct stored amount decoded once (``tamio.db.Decoded``). A loaded snapshot also carries
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

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from types import MappingProxyType
from typing import Any, TypeVar

from sqlalchemy import Boolean, Row, String, and_, func, or_, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tamio.accounts.models import Account
from tamio.config import Settings
from tamio.data.models import CashAccount, Client, ExpenseBucket
from tamio.db import Decoded, Money, from_thousandths
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

__all__ = [
    "OPEN_STATUSES", "ZERO", "AccountSnapshot", "AgreementRecord", "CashAccountRecord", "ClientRecord", "Loaded", "PaymentRecord",
    "ScheduleRecord", "VendorRecord", "load_critical_snapshots", "load_snapshot", "load_snapshots",
]

HISTORY_DAYS = 120
FORECAST_WEEKS = 13
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


async def _all(db: AsyncConnection, statement: Any) -> Sequence[Row[Any]]:
    """Every row at once (``fetchall``): iterating the result fetches row by row, twice as slow."""
    return (await db.execute(statement)).all()


def _text(column: Any, name: str | None = None) -> Any:
    """An enum column as its stored string (records hold values; skips making enum members)."""
    return type_coerce(column, String()).label(name or column.key)


class _MoneyOrZero(Money):
    """A Money column read as ``ZERO`` when it is 0 or NULL (what ``amount or ZERO`` gave)."""

    cache_ok = True
    decoded = Decoded(from_thousandths, {None: ZERO, 0: ZERO})


def _money(column: Any) -> Any:
    return type_coerce(column, Money())


def _or_zero(column: Any) -> Any:
    return type_coerce(column, _MoneyOrZero())


def _either(first: Any, second: Any) -> Any:
    """``first`` when stored, else ``second`` (a base-currency amount, else the amount itself)."""
    return _money(func.coalesce(first, second))


def _by_day(today: Mapping[str, date], owner: Any, clause: Callable[[date], Any]) -> Any:
    """``owner`` among the accounts of ``today`` and ``clause(its day)``: the bounds exact in SQL for
    a batch whose accounts are on different days (a few time zones), one term per distinct day."""
    days: dict[date, list[str]] = {}
    for account_id in sorted(today):
        days.setdefault(today[account_id], []).append(account_id)
    return or_(*(
        and_(owner == ids[0] if len(ids) == 1 else owner.in_(ids), clause(day)) for day, ids in days.items()
    ))


async def _records(
    db: AsyncConnection, make: Callable[[Sequence[Any]], Record], columns: Iterable[Any], *, owner: Any, where: Any,
    ids: Sequence[str], order: Iterable[Any] = (), join: tuple[Any, Any] | None = None,
) -> dict[str, list[Record]]:
    """account id -> its records, each made from its row in one call (``Record._make``: the columns are
    the record's fields in order), the owner's column first for a batch of accounts. ``join``: a
    table outer-joined on a condition."""
    found: dict[str, list[Record]] = {i: [] for i in ids}
    single = len(ids) == 1  # one account (every run but the hourly pass's): no owner column, nothing to group
    statement = select(*columns) if single else select(owner, *columns)
    if join is not None:
        statement = statement.outerjoin(*join)
    order = tuple(order)
    statement = statement.where(where).order_by(*order) if single or not order else statement.where(where).order_by(owner, *order)
    rows = await _all(db, statement)
    if single:
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
    # Core rows through the session's connection: no ORM loading, same transaction (flushed first).
    await session.flush()
    db = await session.connection()
    ids = sorted(today)

    def mine(column: Any) -> Any:
        return column == ids[0] if len(ids) == 1 else column.in_(ids)

    heads = {
        r.id: r for r in await _all(db, select(
            Account.id, Account.base_currency, Account.created_at, Account.name, Account.timezone,
        ).where(mine(Account.id)))
    }
    missing = [i for i in ids if i not in heads]
    if missing:
        raise NotFound(f"There is no account `{missing[0]}`.")
    ca = CashAccount
    cash = await _records(db, CashAccountRecord._make, (
        ca.id, ca.name, _text(ca.account_type), ca.currency, ca.balance, _either(ca.base_currency_amount, ca.balance),
        ca.credit_limit, _or_zero(ca.drawn_amount), ca.interest_rate_pct,
    ), owner=ca.user_id, where=mine(ca.user_id), ids=ids, order=(ca.name,))
    clients: dict[str, dict[str, ClientRecord]] = {}
    for account_id, rows in (await _records(db, _client, (
        Client.id, Client.name, _text(Client.status), _text(Client.relationship_type),
        func.coalesce(Client.avg_payment_delay_days, 0), Client.revenue_percent, _text(Client.risk_level), Client.currency,
        Client.payment_habit, Client.contact_name, Client.contact_email, Client.tags,
    ), owner=Client.user_id, where=mine(Client.user_id), ids=ids)).items():
        clients[account_id] = {r.id: r for r in rows}
    eb = ExpenseBucket
    vendors: dict[str, dict[str, VendorRecord]] = {}
    for account_id, parties in (await _records(db, _vendor, (
        eb.id, eb.name, _text(eb.category), _text(eb.status), eb.payment_terms, eb.payment_terms_days, _text(eb.flexibility_level),
        _text(eb.criticality), eb.delay_history, eb.contact_name, eb.contact_email, eb.tags,
    ), owner=eb.user_id, where=mine(eb.user_id), ids=ids)).items():
        vendors[account_id] = {v.id: v for v in parties}
    oa = ObligationAgreement
    agreements = await _records(db, AgreementRecord._make, (
        oa.id, _text(oa.obligation_type), _text(oa.direction), oa.base_amount, oa.currency, _either(oa.base_currency_amount, oa.base_amount),
        _text(oa.frequency), oa.start_date, oa.created_at, oa.client_id, oa.expense_bucket_id, func.coalesce(oa.description, ""),
        oa.end_date, _text(oa.status), oa.cancelled_at, oa.previous_amount, oa.amount_changed_at, _text(oa.amount_type), oa.source,
    ), owner=oa.user_id, where=mine(oa.user_id), ids=ids)
    os_ = ObligationSchedule
    # Through the day after the forecast's last: that day's open schedules are preparation's (``Loaded.day_after``).
    # A join names the accounts too (here and below): without them PostgreSQL may hash the whole joined table, everyone's rows.
    schedules = await _records(db, ScheduleRecord._make, (
        os_.id, os_.obligation_id, func.coalesce(type_coerce(oa.obligation_type, String()), "expense"), _text(os_.direction), os_.due_date,
        os_.estimated_amount, _either(os_.base_currency_amount, os_.estimated_amount), os_.currency, _text(os_.status),
        _or_zero(os_.paid_amount), _or_zero(os_.paid_base_amount), oa.client_id, oa.expense_bucket_id, os_.invoice_number,
        os_.paid_at, os_.delayed_from, os_.delay_requested_to, type_coerce(os_.base_currency_amount.is_not(None), Boolean()),
    ), owner=os_.user_id, ids=ids, order=(os_.due_date, os_.id), where=_by_day(today, os_.user_id, lambda day: and_(
        os_.due_date <= day + timedelta(days=7 * FORECAST_WEEKS),
        or_(os_.due_date >= day - timedelta(days=HISTORY_DAYS), os_.status.in_(OPEN_SCHEDULE_STATUSES)),
    )), join=(oa, and_(oa.id == os_.obligation_id, mine(oa.user_id))))
    pe = PaymentEvent
    payments = await _records(db, PaymentRecord._make, (
        pe.id, _text(pe.direction), pe.amount, pe.currency, _either(pe.base_currency_amount, pe.amount), pe.payment_date,
        _text(pe.status), pe.schedule_id, pe.obligation_id, pe.client_id, pe.expense_bucket_id, pe.variance_vs_expected,
        pe.reference, os_.estimated_amount, os_.currency.label("schedule_currency"), _text(os_.status, "schedule_status"),
        os_.exchange_rate_used,
    ), owner=pe.user_id, ids=ids, order=(pe.payment_date, pe.id), where=_by_day(today, pe.user_id, lambda day: and_(
        pe.payment_date >= day - timedelta(days=HISTORY_DAYS), pe.payment_date <= day,
    )), join=(os_, and_(os_.id == pe.schedule_id, mine(os_.user_id))))
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
            os_.id, os_.obligation_id, func.coalesce(type_coerce(oa.obligation_type, String()), "expense"), _text(os_.direction),
            os_.due_date, os_.estimated_amount, _either(os_.base_currency_amount, os_.estimated_amount), os_.currency, _text(os_.status),
            _or_zero(os_.paid_amount), _or_zero(os_.paid_base_amount), oa.client_id, oa.expense_bucket_id, os_.invoice_number,
            os_.paid_at, os_.delayed_from, os_.delay_requested_to, type_coerce(os_.base_currency_amount.is_not(None), Boolean()),
            oa.id, _text(oa.obligation_type), _text(oa.direction), oa.base_amount, oa.currency,
            _either(oa.base_currency_amount, oa.base_amount), _text(oa.frequency), oa.start_date, oa.created_at, oa.client_id,
            oa.expense_bucket_id, func.coalesce(oa.description, ""), oa.end_date, _text(oa.status), oa.cancelled_at,
            oa.previous_amount, oa.amount_changed_at, _text(oa.amount_type), oa.source,
            eb.id, eb.name, _text(eb.category), _text(eb.status), eb.payment_terms, eb.payment_terms_days,
            _text(eb.flexibility_level), _text(eb.criticality),
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

"""An immutable picture of one account's books, what every detection rule reads.

Loaded once per run in a fixed number of queries whatever the account's size (seven Core selects
plus the forecast's own), so twelve rules can look at the same data without touching the database:

- cash accounts, clients, vendors (expense buckets) and every obligation agreement;
- schedules due from ``today - 120 days`` to the end of the 13-week forecast, of any status, and
  older ones still open (an invoice 200 days late is still owed);
- payments dated in the last 120 days, each with the schedule it paid (amount, currency, status);
- the 13-week forecast (``tamio.forecast.service.calculate_forecast``) as of ``today``.

Records hold plain values (enum values as strings, money as Decimal, base-currency amounts
converted at write time), so engine tests can build a snapshot by hand.

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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cached_property
from types import MappingProxyType
from typing import Any

from sqlalchemy import Row, String, and_, or_, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tamio.accounts.models import Account
from tamio.config import Settings
from tamio.data.models import CashAccount, Client, ExpenseBucket
from tamio.errors import NotFound
from tamio.forecast.engine import Forecast
from tamio.forecast.service import ForecastInputs, calculate_forecasts
from tamio.obligations.models import (
    OPEN_SCHEDULE_STATUSES,
    Direction,
    ObligationAgreement,
    ObligationSchedule,
    PaymentEvent,
)

ZERO = Decimal(0)
HISTORY_DAYS = 120
FORECAST_WEEKS = 13
OPEN_STATUSES = frozenset({"scheduled", "queued", "partially_paid", "overdue"})


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})



@dataclass(frozen=True, slots=True)
class CashAccountRecord:
    id: str
    name: str
    account_type: str  # bank | savings | credit_line
    currency: str
    balance: Decimal
    base_balance: Decimal
    credit_limit: Decimal | None = None
    drawn_amount: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class ClientRecord:
    id: str
    name: str
    status: str = "active"
    relationship_type: str | None = None  # strategic | transactional | managed
    avg_payment_delay_days: int = 0
    revenue_percent: Decimal | None = None
    risk_level: str | None = None
    currency: str = "USD"
    payment_habit: str | None = None  # how it pays, in words, once learned from its payments


@dataclass(frozen=True, slots=True)
class VendorRecord:
    id: str
    name: str
    category: str = "operating"  # ... payroll | tax | statutory
    status: str = "active"
    payment_terms: str | None = None
    payment_terms_days: int | None = None
    flexibility_level: str | None = None
    criticality: str | None = None


@dataclass(frozen=True, slots=True)
class AgreementRecord:
    id: str
    obligation_type: str  # revenue | expense | payroll | tax | credit_repayment
    direction: str  # inflow | outflow
    amount: Decimal  # per occurrence, in ``currency``
    currency: str
    base_amount: Decimal  # per occurrence, in the base currency
    frequency: str
    start_date: date
    created_at: datetime
    client_id: str | None = None
    vendor_id: str | None = None
    description: str = ""
    end_date: date | None = None
    status: str = "active"  # active | cancelled | ended
    cancelled_at: datetime | None = None
    previous_amount: Decimal | None = None
    amount_changed_at: datetime | None = None

    @property
    def is_recurring(self) -> bool:
        return self.frequency != "once"


@dataclass(frozen=True, slots=True)
class ScheduleRecord:
    id: str
    agreement_id: str
    obligation_type: str
    direction: str
    due_date: date
    amount: Decimal  # expected, in ``currency``
    base_amount: Decimal  # expected, in the base currency
    currency: str
    status: str = "scheduled"
    paid_amount: Decimal = ZERO
    paid_base_amount: Decimal = ZERO
    client_id: str | None = None
    vendor_id: str | None = None
    invoice_number: str | None = None
    paid_at: date | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def remaining(self) -> Decimal:
        return max(ZERO, self.amount - self.paid_amount)

    @property
    def remaining_base(self) -> Decimal:
        return max(ZERO, self.base_amount - self.paid_base_amount)


@dataclass(frozen=True, slots=True)
class PaymentRecord:
    id: str
    direction: str
    amount: Decimal  # in ``currency``
    currency: str
    base_amount: Decimal
    payment_date: date
    status: str = "completed"  # completed | pending | reversed
    schedule_id: str | None = None  # None: unmatched
    agreement_id: str | None = None
    client_id: str | None = None
    vendor_id: str | None = None
    variance_vs_expected: Decimal | None = None  # actual - expected, in the schedule's currency
    reference: str | None = None
    schedule_amount: Decimal | None = None  # the schedule's expected amount, in its currency
    schedule_currency: str | None = None
    schedule_status: str | None = None
    schedule_rate: Decimal | None = None  # schedule currency -> base currency

    @property
    def expected_amount(self) -> Decimal | None:
        """What was expected when this payment arrived, in the schedule's currency."""
        if self.schedule_id is None:
            return None
        if self.variance_vs_expected is not None and self.currency == self.schedule_currency:
            return self.amount - self.variance_vs_expected
        return self.schedule_amount


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
    single = len(ids) == 1

    def mine(column: Any) -> Any:
        return column == ids[0] if single else column.in_(ids)

    heads = {r.id: r for r in await _all(db, select(Account.id, Account.base_currency, Account.created_at).where(mine(Account.id)))}
    missing = [i for i in ids if i not in heads]
    if missing:
        raise NotFound(f"There is no account `{missing[0]}`.")
    cash: dict[str, list[CashAccountRecord]] = {i: [] for i in ids}
    for r in await _all(db,
        select(
            CashAccount.user_id, CashAccount.id, CashAccount.name, _text(CashAccount.account_type), CashAccount.currency,
            CashAccount.balance, CashAccount.base_currency_amount, CashAccount.credit_limit, CashAccount.drawn_amount,
        )
        .where(mine(CashAccount.user_id))
        .order_by(CashAccount.user_id, CashAccount.name)
    ):
        cash[r.user_id].append(CashAccountRecord(
            id=r.id, name=r.name, account_type=r.account_type, currency=r.currency, balance=r.balance,
            base_balance=r.base_currency_amount if r.base_currency_amount is not None else r.balance,
            credit_limit=r.credit_limit, drawn_amount=r.drawn_amount or ZERO,
        ))
    clients: dict[str, dict[str, ClientRecord]] = {i: {} for i in ids}
    for r in await _all(db,
        select(
            Client.user_id, Client.id, Client.name, _text(Client.status), _text(Client.relationship_type),
            Client.avg_payment_delay_days, Client.revenue_percent, _text(Client.risk_level), Client.currency, Client.payment_habit,
        ).where(mine(Client.user_id))
    ):
        clients[r.user_id][r.id] = ClientRecord(
            id=r.id, name=r.name, status=r.status, relationship_type=r.relationship_type,
            avg_payment_delay_days=r.avg_payment_delay_days or 0, revenue_percent=r.revenue_percent,
            risk_level=r.risk_level, currency=r.currency, payment_habit=r.payment_habit,
        )
    vendors: dict[str, dict[str, VendorRecord]] = {i: {} for i in ids}
    for r in await _all(db,
        select(
            ExpenseBucket.user_id, ExpenseBucket.id, ExpenseBucket.name, _text(ExpenseBucket.category), _text(ExpenseBucket.status),
            ExpenseBucket.payment_terms, ExpenseBucket.payment_terms_days, _text(ExpenseBucket.flexibility_level),
            _text(ExpenseBucket.criticality),
        ).where(mine(ExpenseBucket.user_id))
    ):
        vendors[r.user_id][r.id] = VendorRecord(
            id=r.id, name=r.name, category=r.category, status=r.status, payment_terms=r.payment_terms,
            payment_terms_days=r.payment_terms_days, flexibility_level=r.flexibility_level,
            criticality=r.criticality,
        )
    oa = ObligationAgreement
    agreements: dict[str, dict[str, AgreementRecord]] = {i: {} for i in ids}
    for r in await _all(db,
        select(
            oa.user_id, oa.id, _text(oa.obligation_type), _text(oa.direction), oa.base_amount, oa.currency, oa.base_currency_amount,
            _text(oa.frequency), oa.start_date, oa.created_at, oa.client_id, oa.expense_bucket_id, oa.description, oa.end_date,
            _text(oa.status), oa.cancelled_at, oa.previous_amount, oa.amount_changed_at,
        ).where(mine(oa.user_id))
    ):
        agreements[r.user_id][r.id] = AgreementRecord(
            id=r.id, obligation_type=r.obligation_type, direction=r.direction, amount=r.base_amount,
            currency=r.currency, base_amount=r.base_currency_amount if r.base_currency_amount is not None else r.base_amount,
            frequency=r.frequency, start_date=r.start_date, created_at=r.created_at, client_id=r.client_id,
            vendor_id=r.expense_bucket_id, description=r.description or "", end_date=r.end_date, status=r.status,
            cancelled_at=r.cancelled_at, previous_amount=r.previous_amount, amount_changed_at=r.amount_changed_at,
        )
    history_start = {i: today[i] - timedelta(days=HISTORY_DAYS) for i in ids}
    horizon_end = {i: today[i] + timedelta(days=7 * FORECAST_WEEKS - 1) for i in ids}
    os_ = ObligationSchedule
    schedules: dict[str, list[ScheduleRecord]] = {i: [] for i in ids}
    for r in await _all(db,
        select(
            os_.user_id, os_.id, os_.obligation_id, _text(os_.direction), os_.due_date, os_.estimated_amount, os_.base_currency_amount,
            os_.currency, _text(os_.status), os_.paid_amount, os_.paid_base_amount, os_.invoice_number, os_.paid_at,
        )
        .where(
            mine(os_.user_id),
            os_.due_date <= max(horizon_end.values()),
            or_(os_.due_date >= min(history_start.values()), os_.status.in_(OPEN_SCHEDULE_STATUSES)),
        )
        .order_by(os_.user_id, os_.due_date, os_.id)
    ):
        if r.due_date > horizon_end[r.user_id] or (r.due_date < history_start[r.user_id] and r.status not in OPEN_STATUSES):
            continue
        agreement = agreements[r.user_id].get(r.obligation_id)
        schedules[r.user_id].append(
            ScheduleRecord(
                id=r.id, agreement_id=r.obligation_id, obligation_type=agreement.obligation_type if agreement else "expense",
                direction=r.direction, due_date=r.due_date, amount=r.estimated_amount,
                base_amount=r.base_currency_amount if r.base_currency_amount is not None else r.estimated_amount,
                currency=r.currency, status=r.status, paid_amount=r.paid_amount or ZERO,
                paid_base_amount=r.paid_base_amount or ZERO, client_id=agreement.client_id if agreement else None,
                vendor_id=agreement.vendor_id if agreement else None, invoice_number=r.invoice_number, paid_at=r.paid_at,
            )
        )
    pe = PaymentEvent
    payments: dict[str, list[PaymentRecord]] = {i: [] for i in ids}
    for r in await _all(db,
        select(
            pe.user_id, pe.id, _text(pe.direction), pe.amount, pe.currency, pe.base_currency_amount, pe.payment_date, _text(pe.status),
            pe.schedule_id, pe.obligation_id, pe.client_id, pe.expense_bucket_id, pe.variance_vs_expected, pe.reference,
            os_.estimated_amount, os_.currency.label("schedule_currency"), _text(os_.status, "schedule_status"),
            os_.exchange_rate_used,
        )
        .outerjoin(os_, os_.id == pe.schedule_id)
        .where(mine(pe.user_id), pe.payment_date >= min(history_start.values()), pe.payment_date <= max(today.values()))
        .order_by(pe.user_id, pe.payment_date, pe.id)
    ):
        if r.payment_date < history_start[r.user_id] or r.payment_date > today[r.user_id]:
            continue
        payments[r.user_id].append(PaymentRecord(
            id=r.id, direction=r.direction, amount=r.amount, currency=r.currency,
            base_amount=r.base_currency_amount if r.base_currency_amount is not None else r.amount,
            payment_date=r.payment_date, status=r.status, schedule_id=r.schedule_id, agreement_id=r.obligation_id,
            client_id=r.client_id, vendor_id=r.expense_bucket_id, variance_vs_expected=r.variance_vs_expected,
            reference=r.reference, schedule_amount=r.estimated_amount, schedule_currency=r.schedule_currency,
            schedule_status=r.schedule_status, schedule_rate=r.exchange_rate_used,
        ))
    forecasts = await calculate_forecasts(session, dict(today), weeks=FORECAST_WEEKS, settings=settings, inputs=inputs)
    return {
        i: AccountSnapshot(
            account_id=i,
            base_currency=heads[i].base_currency,
            today=today[i],
            forecast=forecasts[i],
            cash_accounts=tuple(cash[i]),
            clients=MappingProxyType(clients[i]),
            vendors=MappingProxyType(vendors[i]),
            agreements=MappingProxyType(agreements[i]),
            schedules=tuple(schedules[i]),
            payments=tuple(payments[i]),
            account_created_on=heads[i].created_at.date() if heads[i].created_at else None,
        )
        for i in ids
    }


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
    rows = await db.execute(
        select(
            os_.user_id, os_.id, os_.obligation_id, _text(os_.direction), os_.due_date, os_.estimated_amount,
            os_.base_currency_amount, os_.currency, _text(os_.status), os_.paid_amount, os_.paid_base_amount,
            os_.invoice_number, os_.paid_at,
            oa.id.label("a_id"), _text(oa.obligation_type), _text(oa.direction, "a_direction"), oa.base_amount,
            oa.currency.label("a_currency"), oa.base_currency_amount.label("a_base_currency_amount"), _text(oa.frequency),
            oa.start_date, oa.created_at, oa.client_id, oa.expense_bucket_id, oa.description, oa.end_date,
            _text(oa.status, "a_status"), oa.cancelled_at, oa.previous_amount, oa.amount_changed_at,
            eb.id.label("v_id"), eb.name.label("v_name"), _text(eb.category), _text(eb.status, "v_status"),
            eb.payment_terms, eb.payment_terms_days, _text(eb.flexibility_level), _text(eb.criticality),
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
    for r in rows:
        if r.due_date > until[r.user_id]:
            continue
        agreement = None
        if r.a_id is not None:
            agreement = agreements.setdefault(r.user_id, {}).get(r.a_id)
            if agreement is None:
                agreement = agreements[r.user_id][r.a_id] = AgreementRecord(
                    id=r.a_id, obligation_type=r.obligation_type, direction=r.a_direction, amount=r.base_amount,
                    currency=r.a_currency,
                    base_amount=r.a_base_currency_amount if r.a_base_currency_amount is not None else r.base_amount,
                    frequency=r.frequency, start_date=r.start_date, created_at=r.created_at, client_id=r.client_id,
                    vendor_id=r.expense_bucket_id, description=r.description or "", end_date=r.end_date, status=r.a_status,
                    cancelled_at=r.cancelled_at, previous_amount=r.previous_amount, amount_changed_at=r.amount_changed_at,
                )
        if r.v_id is not None and r.v_id not in vendors.setdefault(r.user_id, {}):
            vendors[r.user_id][r.v_id] = VendorRecord(
                id=r.v_id, name=r.v_name, category=r.category, status=r.v_status, payment_terms=r.payment_terms,
                payment_terms_days=r.payment_terms_days, flexibility_level=r.flexibility_level, criticality=r.criticality,
            )
        schedules.setdefault(r.user_id, []).append(
            ScheduleRecord(
                id=r.id, agreement_id=r.obligation_id, obligation_type=agreement.obligation_type if agreement else "expense",
                direction=r.direction, due_date=r.due_date, amount=r.estimated_amount,
                base_amount=r.base_currency_amount if r.base_currency_amount is not None else r.estimated_amount,
                currency=r.currency, status=r.status, paid_amount=r.paid_amount or ZERO,
                paid_base_amount=r.paid_base_amount or ZERO, client_id=agreement.client_id if agreement else None,
                vendor_id=agreement.vendor_id if agreement else None, invoice_number=r.invoice_number, paid_at=r.paid_at,
            )
        )
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

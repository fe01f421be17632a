"""Everything the agents need for all alerts of a run, loaded in a fixed number of queries.

Clients, vendors (expense buckets), cash accounts, open schedules over the forecast's horizon (and
overdue ones), the user configuration and the forecast's own inputs, so that each option's effect
can be measured as a delta against the base forecast with the option applied (``effect``). Also what
earlier decisions committed: the last chase of each invoice (``chases``, for the cool-off) and the
credit draws approved but not yet carried out (they already use the line's available amount).

``buffer`` and ``payroll_buffer_percent`` are the thresholds detection used: the configuration after
its safety mode and the account's DetectionRule overrides for buffer_breach and payroll_safety, so
that an action restores the same buffer its alert was raised against.

The books and the base forecast are the run's detection snapshot's (``tamio.detection.snapshot``):
preparation works on the figures detection found its alerts on, and a run reads them once.

    ctx = await load_context(db, account_id=account.id, today=today, settings=settings)
    ctx = await load_context(db, account_id=account.id, today=today, settings=settings, snapshot=run.snapshot)
    ctx.forecast.lowest_closing_balance

``load_contexts`` loads many accounts' contexts with the same queries (``user_id IN (...)``): the
critical pass prepares actions for a batch of accounts at once. The values it holds for each client,
vendor, cash account and open payment are ``context_records``.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import cached_property
from itertools import chain
from types import MappingProxyType
from typing import Any, TypeVar, cast

from sqlalchemy.ext.asyncio import AsyncSession

from tamio.audit.service import to_jsonable
from tamio.config import Settings
from tamio.detection.records import OPEN_STATUSES, AgreementRecord, ScheduleRecord
from tamio.detection.snapshot import FORECAST_WEEKS, AccountSnapshot, Loaded, load_snapshots
from tamio.forecast.behaviour import arrivals, expected_on
from tamio.forecast.engine import INFLOW, CashByDay, Forecast, ForecastItem
from tamio.forecast.service import ForecastInputs
from tamio.obligations.habits import Habits
from tamio.preparation.commitments import ChaseInfo
from tamio.preparation.context_records import (
    CashInfo,
    ClientInfo,
    ScheduleInfo,
    VendorInfo,
    cash_info,
    client_info,
    vendor_info,
)
from tamio.preparation.decisions import load_decisions
from tamio.scenarios.engine import Delta, Effect, ScenarioBase, effect_of

T = TypeVar("T")
ZERO = Decimal(0)
HORIZON_WEEKS = FORECAST_WEEKS  # the base forecast is detection's (its snapshot's)
@dataclass(frozen=True)
class PreparationContext:
    account_id: str
    account_name: str
    base_currency: str
    today: date
    clients: Mapping[str, ClientInfo]
    vendors: Mapping[str, VendorInfo]
    cash_accounts: tuple[CashInfo, ...]
    schedules: tuple[ScheduleInfo, ...]
    buffer: Decimal
    payroll_buffer_percent: Decimal
    opening_balance: Decimal
    forecast_items: tuple[ForecastItem, ...] = field(repr=False)
    forecast: Forecast = field(repr=False)
    # The base forecast's inputs and weekly totals, computed once per run: an option's effect is a
    # delta against them through the scenario engine, the same one a what-if goes through.
    scenario: ScenarioBase | None = field(repr=False, default=None)
    chases: Mapping[str, ChaseInfo] = field(default_factory=dict)  # schedule id -> its last chase
    chase_cooloff_days: int = 7
    habits: Habits = field(default_factory=Habits, repr=False)  # how the clients pay (where receivables are expected)

    def last_chase(self, schedule: ScheduleInfo) -> ChaseInfo | None:
        return self.chases.get(schedule.id)

    def may_chase(self, schedule: ScheduleInfo) -> bool:
        """No new chase for an invoice within ``chase_cooloff_days`` of the last one."""
        last = self.chases.get(schedule.id)
        return last is None or (self.today - last.on).days >= self.chase_cooloff_days

    @property
    def operating_accounts(self) -> tuple[CashInfo, ...]:
        return tuple(c for c in self.cash_accounts if c.account_type == "bank")

    @property
    def savings_accounts(self) -> tuple[CashInfo, ...]:
        return tuple(c for c in self.cash_accounts if c.account_type == "savings" and c.base_balance > 0)

    @property
    def credit_lines(self) -> tuple[CashInfo, ...]:
        return tuple(c for c in self.cash_accounts if c.available_credit > 0)

    def overdue_receivables(self) -> list[ScheduleInfo]:
        return list(self._overdue)

    def chaseable_receivables(self) -> list[ScheduleInfo]:
        """Overdue receivables not chased within the cool-off: the ones a new chase may be proposed for."""
        return list(self._chaseable)

    @cached_property
    def _chaseable(self) -> tuple[ScheduleInfo, ...]:
        return tuple(s for s in self._overdue if self.may_chase(s))

    @cached_property
    def _overdue(self) -> tuple[ScheduleInfo, ...]:
        found = [s for s in self.schedules if s.direction == INFLOW and s.due_date < self.today and s.base_amount > 0]
        return tuple(sorted(found, key=lambda s: (-s.base_amount, s.due_date)))

    def counted_by(self, schedule: ScheduleInfo, day: date) -> bool:
        """Whether the forecast already has this schedule's money moving on or before ``day`` (both
        forecast paths count every open schedule, an overdue one where it is now expected)."""
        return max(self.today, schedule.expected_date) <= day

    def outflows_between(self, start: date, end: date) -> list[ScheduleInfo]:
        dues, outflows = self._outflows
        return list(outflows[bisect_left(dues, start) : bisect_right(dues, end)])

    def kept(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()`` once per context and ``key``: what agents derive from the context (which a run
        never changes), asked again by each of thousands of alerts on a large account, is worked out once
        (a pass over every schedule per alert was quadratic). What it keeps is shared: never changed."""
        if key not in self._kept:
            self._kept[key] = compute()
        return cast(T, self._kept[key])

    @cached_property
    def _kept(self) -> dict[Hashable, object]:
        return {}

    @cached_property
    def _outflows(self) -> tuple[list[date], tuple[ScheduleInfo, ...]]:
        found = sorted((s for s in self.schedules if s.direction != INFLOW and s.base_amount > 0), key=lambda s: (s.due_date, s.id))
        return [s.due_date for s in found], tuple(found)

    def schedules_of_client(self, client_id: str) -> list[ScheduleInfo]:
        return list(self._grouped["client"].get(client_id, ()))

    def schedules_of_vendor(self, vendor_id: str) -> list[ScheduleInfo]:
        return list(self._grouped["vendor"].get(vendor_id, ()))

    def schedules_of_agreement(self, agreement_id: str) -> list[ScheduleInfo]:
        return list(self._grouped["agreement"].get(agreement_id, ()))

    def schedules_of_type(self, obligation_type: str) -> list[ScheduleInfo]:
        """The schedules of one obligation type (``payroll``, ``tax``), in due-date order."""
        return list(self._grouped["type"].get(obligation_type, ()))

    @cached_property
    def _grouped(self) -> dict[str, dict[str, tuple[ScheduleInfo, ...]]]:
        """The schedules by client, vendor, agreement and obligation type, each in due-date order: an
        agent looks up one counterparty's payments per alert, a run has hundreds of alerts."""
        groups: dict[str, dict[str, list[ScheduleInfo]]] = {"client": {}, "vendor": {}, "agreement": {}, "type": {}}
        for s in self.schedules:
            for name, key in (("client", s.client_id), ("vendor", s.vendor_id), ("agreement", s.agreement_id), ("type", s.obligation_type)):
                if key is not None:
                    groups[name].setdefault(key, []).append(s)
        return {name: {key: tuple(found) for key, found in keyed.items()} for name, keyed in groups.items()}

    def can_delay(self, schedule: ScheduleInfo) -> bool:
        """Whether an option may offer to delay this payment: an outflow of a vendor that can wait,
        and never payroll or tax, whatever the vendor's category (a vendor of category operating can
        carry a payroll obligation: ``/tamio add payroll`` or a CSV payroll row for an existing vendor);
        never one already moved by a carried-out action either (the vendor agreed to that date once),
        nor one whose delay the vendor was asked for and has not answered yet."""
        vendor = self.vendors.get(schedule.vendor_id or "")
        return (
            vendor is not None and vendor.can_be_delayed and schedule.direction != INFLOW and not schedule.is_payroll_or_tax
            and schedule.status != "queued" and schedule.delayed_from is None and schedule.delay_requested_to is None
        )

    def schedule(self, schedule_id: str) -> ScheduleInfo | None:
        return self._by_id.get(schedule_id)

    @cached_property
    def _by_id(self) -> Mapping[str, ScheduleInfo]:
        return {s.id: s for s in self.schedules}

    def cash_at_end_of(self, day: date) -> Decimal:
        """Cash at the end of ``day``, as detection measures it for payroll safety."""
        return self._cash_by_day.at_end_of(day)

    @cached_property
    def _cash_by_day(self) -> CashByDay:
        return CashByDay(self.opening_balance, self.forecast_items)

    def effect(self, adjustments: Iterable[ForecastItem] = (), *, opening_delta: Decimal = ZERO) -> Effect:
        """An option's effect on the forecast (items added, moved or removed; cash moved): the
        scenario engine's ``effect_of`` over this run's base (``effect_of``), once per change in a
        run (an invoice's chase in each tone receives the same money)."""
        items = tuple(adjustments)
        return self.kept(("effect", items, opening_delta), lambda: self.effect_of(Delta(items=items, opening=opening_delta)))

    def effect_of(self, delta: Delta) -> Effect:
        """The lowest closing balance and week with a scenario delta applied, exactly as a what-if of
        the same change computes them (a running delta over the base's weeks, no forecast rebuilt)."""
        if self.scenario is None:
            raise ValueError("this context was built without its base forecast")
        return effect_of(self.scenario, delta)


async def load_context(
    db: AsyncSession, *, account_id: str, today: date, settings: Settings, snapshot: AccountSnapshot | None = None,
) -> PreparationContext:
    """``snapshot``: the account's detection snapshot of this run (as of ``today``), when there is one."""
    snapshots = {account_id: snapshot} if snapshot is not None else None
    return (await load_contexts(db, {account_id: today}, settings=settings, snapshots=snapshots))[account_id]


async def load_contexts(
    db: AsyncSession, today: Mapping[str, date], *, settings: Settings, inputs: Mapping[str, ForecastInputs] | None = None,
    snapshots: Mapping[str, AccountSnapshot] | None = None,
) -> dict[str, PreparationContext]:
    """The context of each account of ``today`` (account id -> its day), in a fixed number of queries for all.

    Built from each account's detection snapshot (``load_snapshots``: the same books, the same base
    forecast): ``snapshots`` when the run has them (loaded as of the same day), else loaded here,
    with ``inputs`` (the forecasts' inputs for those days over ``HORIZON_WEEKS``) when the caller
    has them. Besides, only what decisions set: the configuration, the clients' standing, commitments."""
    ids = sorted(today)
    if not ids:
        return {}
    books = {i: s for i, s in (snapshots or {}).items() if i in today and s.loaded is not None and s.today == today[i]}
    wanted = {i: today[i] for i in ids if i not in books}
    if wanted:
        books.update(await load_snapshots(db, wanted, settings=settings, inputs=None if inputs is None else {i: inputs[i] for i in wanted}))
    loaded = {i: loaded_of(books[i]) for i in ids}
    decided = await load_decisions(db, today, zones={i: loaded[i].timezone for i in ids})
    contexts = {}
    for i in ids:
        snapshot, got, decisions = books[i], loaded[i].inputs, decided[i]
        config = decisions.config
        clients = {c.id: client_info(c, decisions.standing.get(c.id)) for c in snapshot.clients.values()}
        vendors = {v.id: vendor_info(v) for v in snapshot.vendors.values()}
        base = ScenarioBase.of(got, as_of=today[i], weeks=HORIZON_WEEKS, buffer=config.obligations_buffer_amount)
        contexts[i] = PreparationContext(
            account_id=i,
            account_name=loaded[i].account_name,
            base_currency=snapshot.base_currency,
            today=today[i],
            clients=MappingProxyType(clients),
            vendors=MappingProxyType(vendors),
            cash_accounts=tuple(cash_info(c, decisions.committed.get(c.id, ZERO)) for c in snapshot.cash_accounts),
            schedules=_open_schedules(snapshot, got, clients, vendors),
            buffer=config.obligations_buffer_amount,
            payroll_buffer_percent=config.payroll_buffer_percent,
            opening_balance=got.opening_balance,
            forecast_items=got.items,
            forecast=base.forecast,
            scenario=base,
            chases=MappingProxyType(decisions.chases),
            chase_cooloff_days=decisions.cooloff,
            habits=got.habits,
        )
    return contexts


def loaded_of(snapshot: AccountSnapshot) -> Loaded:
    if snapshot.loaded is None:
        raise ValueError("a preparation context is built from a loaded snapshot")
    return snapshot.loaded


def _open_schedules(
    snapshot: AccountSnapshot, inputs: ForecastInputs, clients: Mapping[str, ClientInfo], vendors: Mapping[str, VendorInfo],
) -> tuple[ScheduleInfo, ...]:
    """The open schedules due by 13 weeks from today (overdue ones too), as the forecast counts them:
    what remains of each, a receivable where its client's behaviour expects it."""
    today, currency, habits = snapshot.today, snapshot.base_currency, inputs.habits
    found: list[ScheduleInfo] = []
    for s, agreement, base_amount in open_records(snapshot):
        client = clients.get(s.client_id) if s.client_id else None
        vendor = vendors.get(s.vendor_id) if s.vendor_id else None
        if s.direction == INFLOW:
            where = arrivals(habits.of(s.client_id), amount=base_amount, due=s.due_date, as_of=today, currency=currency)
            expected = expected_on(where)
        else:
            expected = max(today, s.due_date)
            where = ((expected, base_amount),)
        found.append(ScheduleInfo(
            s.id, s.agreement_id, s.obligation_type, s.direction, s.due_date, expected, s.remaining, base_amount, s.currency,
            s.status, agreement.amount_type, agreement.source, s.client_id, s.vendor_id,
            client.name if client else vendor.name if vendor else agreement.description,
            s.invoice_number, s.delayed_from, s.delay_requested_to, where,
        ))
    return tuple(found)


def open_records(snapshot: AccountSnapshot) -> Iterator[tuple[ScheduleRecord, AgreementRecord, Decimal]]:
    """The snapshot's open schedules preparation reads (due by 13 weeks from today, overdue ones too),
    each with its agreement and what remains of it in the base currency, as the forecast sums it."""
    end, agreements = snapshot.today + timedelta(weeks=HORIZON_WEEKS), snapshot.agreements
    for s in chain(snapshot.schedules, loaded_of(snapshot).day_after):
        if s.status not in OPEN_STATUSES or s.due_date > end:
            continue
        agreement = agreements.get(s.agreement_id)
        if agreement is not None:
            yield s, agreement, max(ZERO, (s.base_amount if s.converted else ZERO) - s.paid_base_amount)


def jsonable(params: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = to_jsonable(params)
    return result

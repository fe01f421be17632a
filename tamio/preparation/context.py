"""Everything the agents need for all alerts of a run, loaded in a fixed number of queries.

Clients, vendors (expense buckets), cash accounts, open schedules over the forecast's horizon (and
overdue ones), the user configuration and the forecast's own inputs, so that each option's effect
can be measured by re-running the forecast with the option applied (``forecast_with``).

    ctx = await load_context(db, account_id=account.id, today=today, settings=settings)
    ctx.forecast.lowest_closing_balance
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import cached_property
from types import MappingProxyType
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account, UserConfiguration
from tamio.config import Settings
from tamio.data.models import CashAccount, Client, ExpenseBucket
from tamio.forecast.engine import (
    INFLOW,
    Forecast,
    ForecastItem,
    WeeklyTotals,
    build_forecast,
    forecast_from_totals,
)
from tamio.forecast.service import load_forecast_inputs
from tamio.obligations.models import OPEN_SCHEDULE_STATUSES, ObligationAgreement, ObligationSchedule

ZERO = Decimal(0)
HORIZON_WEEKS = 13


@dataclass(frozen=True)
class ClientInfo:
    id: str
    name: str
    relationship_type: str | None
    avg_payment_delay_days: int
    revenue_percent: Decimal | None
    contact_name: str | None
    contact_email: str | None
    tags: tuple[str, ...]
    currency: str


@dataclass(frozen=True)
class VendorInfo:
    id: str
    name: str
    category: str
    flexibility_level: str | None
    criticality: str | None
    payment_terms_days: int | None
    delay_count: int
    contact_name: str | None
    contact_email: str | None
    tags: tuple[str, ...]

    @property
    def can_be_delayed(self) -> bool:
        """Only vendors that can delay or negotiate, and never critical ones (nor payroll or tax)."""
        return (
            self.flexibility_level in ("can_delay", "negotiable")
            and self.criticality != "critical"
            and self.category not in ("payroll", "tax", "statutory")
        )


@dataclass(frozen=True)
class CashInfo:
    id: str
    name: str
    account_type: str
    currency: str
    balance: Decimal
    base_balance: Decimal
    credit_limit: Decimal | None
    drawn_amount: Decimal
    interest_rate_pct: Decimal | None

    @property
    def available_credit(self) -> Decimal:
        if self.account_type != "credit_line" or self.credit_limit is None:
            return ZERO
        return max(ZERO, self.credit_limit - self.drawn_amount)


@dataclass(frozen=True)
class ScheduleInfo:
    id: str
    agreement_id: str
    obligation_type: str
    direction: str
    due_date: date
    expected_date: date
    amount: Decimal  # remaining, in the schedule's currency
    base_amount: Decimal  # remaining, in the base currency
    currency: str
    status: str
    amount_type: str
    source: str
    client_id: str | None
    vendor_id: str | None
    counterparty_name: str
    invoice_number: str | None


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
    totals: WeeklyTotals = field(repr=False, default=WeeklyTotals.empty(HORIZON_WEEKS))

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

    @cached_property
    def _overdue(self) -> tuple[ScheduleInfo, ...]:
        found = [s for s in self.schedules if s.direction == INFLOW and s.due_date < self.today and s.base_amount > 0]
        return tuple(sorted(found, key=lambda s: (-s.base_amount, s.due_date)))

    def outflows_between(self, start: date, end: date) -> list[ScheduleInfo]:
        dues, outflows = self._outflows
        return list(outflows[bisect_left(dues, start) : bisect_right(dues, end)])

    @cached_property
    def _outflows(self) -> tuple[list[date], tuple[ScheduleInfo, ...]]:
        found = sorted((s for s in self.schedules if s.direction != INFLOW and s.base_amount > 0), key=lambda s: (s.due_date, s.id))
        return [s.due_date for s in found], tuple(found)

    def schedules_of_client(self, client_id: str) -> list[ScheduleInfo]:
        return [s for s in self.schedules if s.client_id == client_id]

    def schedules_of_vendor(self, vendor_id: str) -> list[ScheduleInfo]:
        return [s for s in self.schedules if s.vendor_id == vendor_id]

    def schedule(self, schedule_id: str) -> ScheduleInfo | None:
        return self._by_id.get(schedule_id)

    @cached_property
    def _by_id(self) -> Mapping[str, ScheduleInfo]:
        return {s.id: s for s in self.schedules}

    def forecast_with(self, adjustments: Iterable[ForecastItem] = (), *, opening_delta: Decimal = ZERO) -> Forecast:
        """The forecast re-run with an option applied (items added, moved or removed; cash moved).

        Same result as ``build_forecast`` over all items plus the adjustments, from the weekly
        totals computed once per run (see ``test_forecast_with_matches_a_full_rebuild``).
        """
        return forecast_from_totals(
            self.totals.adjusted(adjustments, as_of=self.today),
            as_of=self.today,
            opening_balance=self.opening_balance + opening_delta,
            buffer=self.buffer,
            base_currency=self.base_currency,
        )


def _expected(due: date, delay: int, direction: str) -> date:
    return due + timedelta(days=delay if direction == INFLOW else 0)


async def load_context(db: AsyncSession, *, account_id: str, today: date, settings: Settings) -> PreparationContext:
    account = await db.get(Account, account_id)
    if account is None:
        raise LookupError(account_id)
    config = await db.get(UserConfiguration, account_id)
    clients = {
        c.id: ClientInfo(
            id=c.id, name=c.name, relationship_type=c.relationship_type.value if c.relationship_type else None,
            avg_payment_delay_days=c.avg_payment_delay_days or 0, revenue_percent=c.revenue_percent,
            contact_name=c.contact_name, contact_email=c.contact_email, tags=tuple(c.tags or ()), currency=c.currency,
        )
        for c in (await db.execute(select(Client).where(Client.user_id == account_id))).scalars()
    }
    vendors = {
        v.id: VendorInfo(
            id=v.id, name=v.name, category=v.category.value, flexibility_level=v.flexibility_level.value if v.flexibility_level else None,
            criticality=v.criticality.value if v.criticality else None, payment_terms_days=v.payment_terms_days,
            delay_count=len(v.delay_history or []), contact_name=v.contact_name, contact_email=v.contact_email, tags=tuple(v.tags or ()),
        )
        for v in (await db.execute(select(ExpenseBucket).where(ExpenseBucket.user_id == account_id))).scalars()
    }
    cash = tuple(
        CashInfo(
            id=c.id, name=c.name, account_type=c.account_type.value, currency=c.currency, balance=c.balance,
            base_balance=c.base_currency_amount if c.base_currency_amount is not None else c.balance,
            credit_limit=c.credit_limit, drawn_amount=c.drawn_amount or ZERO, interest_rate_pct=c.interest_rate_pct,
        )
        for c in (await db.execute(select(CashAccount).where(CashAccount.user_id == account_id).order_by(CashAccount.name))).scalars()
    )
    end = today + timedelta(weeks=HORIZON_WEEKS)
    rows = (
        await db.execute(
            select(
                ObligationSchedule.id, ObligationSchedule.obligation_id, ObligationAgreement.obligation_type, ObligationSchedule.direction,
                ObligationSchedule.due_date, ObligationSchedule.estimated_amount, ObligationSchedule.paid_amount,
                ObligationSchedule.base_currency_amount, ObligationSchedule.paid_base_amount, ObligationSchedule.currency,
                ObligationSchedule.status, ObligationAgreement.amount_type, ObligationAgreement.source,
                ObligationAgreement.client_id, ObligationAgreement.expense_bucket_id, ObligationAgreement.description,
                ObligationSchedule.invoice_number,
            )
            .join(ObligationAgreement, ObligationAgreement.id == ObligationSchedule.obligation_id)
            .where(
                ObligationSchedule.user_id == account_id,
                ObligationSchedule.status.in_(OPEN_SCHEDULE_STATUSES),
                ObligationSchedule.due_date <= end,
            )
            .order_by(ObligationSchedule.due_date, ObligationSchedule.id)
        )
    ).all()
    schedules = []
    for r in rows:
        client = clients.get(r.client_id) if r.client_id else None
        vendor = vendors.get(r.expense_bucket_id) if r.expense_bucket_id else None
        delay = client.avg_payment_delay_days if client else 0
        schedules.append(
            ScheduleInfo(
                id=r.id, agreement_id=r.obligation_id, obligation_type=r.obligation_type.value, direction=r.direction.value,
                due_date=r.due_date, expected_date=_expected(r.due_date, delay, r.direction.value),
                amount=max(ZERO, r.estimated_amount - r.paid_amount),
                base_amount=max(ZERO, (r.base_currency_amount or ZERO) - r.paid_base_amount),
                currency=r.currency, status=r.status.value, amount_type=r.amount_type.value, source=r.source,
                client_id=r.client_id, vendor_id=r.expense_bucket_id,
                counterparty_name=client.name if client else vendor.name if vendor else r.description,
                invoice_number=r.invoice_number,
            )
        )
    inputs = await load_forecast_inputs(db, account_id, as_of=today, weeks=HORIZON_WEEKS, settings=settings)
    forecast = build_forecast(
        as_of=today, weeks=HORIZON_WEEKS, opening_balance=inputs.opening_balance, items=inputs.items,
        buffer=inputs.buffer, base_currency=inputs.base_currency,
    )
    return PreparationContext(
        account_id=account_id,
        account_name=account.name,
        base_currency=account.base_currency,
        today=today,
        clients=MappingProxyType(clients),
        vendors=MappingProxyType(vendors),
        cash_accounts=cash,
        schedules=tuple(schedules),
        buffer=config.obligations_buffer_amount if config else ZERO,
        payroll_buffer_percent=config.payroll_buffer_percent if config else Decimal(10),
        opening_balance=inputs.opening_balance,
        forecast_items=inputs.items,
        forecast=forecast,
        totals=WeeklyTotals.of(inputs.items, as_of=today, weeks=HORIZON_WEEKS),
    )


def jsonable(params: dict[str, Any]) -> dict[str, Any]:
    from tamio.audit.service import to_jsonable

    result: dict[str, Any] = to_jsonable(params)
    return result

"""The statements a detection snapshot (``tamio.detection.snapshot``) is read with, one per shape.

Each select lists a record's fields in order (``tamio.detection.records``), with what used to be
worked out per row done in SQL (a missing base amount, an agreement's type, an enum as its stored
string), so the loader makes each record from its row in one call. Each is built once per shape
(one account, or a batch: ``tamio.statements``) and reused with new parameters: building one
of these selects costs ~0.6 ms, more than several of them take to run. A batch whose accounts are on
different days (a few time zones) gets its dated statements built for its days, one term per day.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Boolean, Select, String, and_, bindparam, func, or_, select, type_coerce

from tamio.accounts.models import Account
from tamio.data.models import CashAccount, Client, ExpenseBucket
from tamio.db import Decoded, Money, from_thousandths
from tamio.detection.records import ZERO
from tamio.obligations.models import (
    OPEN_SCHEDULE_STATUSES,
    ObligationAgreement,
    ObligationSchedule,
    PaymentEvent,
)
from tamio.statements import account_scope

HISTORY_DAYS = 120
FORECAST_WEEKS = 13


def text_of(column: Any, name: str | None = None) -> Any:
    """An enum column as its stored string (records hold values; skips making enum members)."""
    return type_coerce(column, String()).label(name or column.key)


class MoneyOrZero(Money):
    """A Money column read as ``ZERO`` when it is 0 or NULL (what ``amount or ZERO`` gave)."""

    cache_ok = True
    decoded = Decoded(from_thousandths, {None: ZERO, 0: ZERO})


def money_of(column: Any) -> Any:
    return type_coerce(column, Money())


def or_zero(column: Any) -> Any:
    return type_coerce(column, MoneyOrZero())


def either(first: Any, second: Any) -> Any:
    """``first`` when stored, else ``second`` (a base-currency amount, else the amount itself)."""
    return money_of(func.coalesce(first, second))


def shaped(
    columns: Iterable[Any], *, owner: Any, where: Any, single: bool, order: Iterable[Any] = (), join: tuple[Any, Any] | None = None,
) -> Select[Any]:
    """The record's columns (the owner's first for a batch of accounts), ``join`` outer-joined."""
    statement = select(*columns) if single else select(owner, *columns)
    if join is not None:
        statement = statement.outerjoin(*join)
    order = tuple(order)
    return statement.where(where).order_by(*order) if single or not order else statement.where(where).order_by(owner, *order)


@cache
def heads_select(single: bool) -> Select[Any]:
    columns: tuple[Any, ...] = (Account.id, Account.base_currency, Account.created_at, Account.name, Account.timezone)
    return select(*columns).where(account_scope(Account.id, single))


@cache
def cash_select(single: bool) -> Select[Any]:
    ca = CashAccount
    return shaped((
        ca.id, ca.name, text_of(ca.account_type), ca.currency, ca.balance, either(ca.base_currency_amount, ca.balance),
        ca.credit_limit, or_zero(ca.drawn_amount), ca.interest_rate_pct,
    ), owner=ca.user_id, where=account_scope(ca.user_id, single), single=single, order=(ca.name,))


@cache
def clients_select(single: bool) -> Select[Any]:
    return shaped((
        Client.id, Client.name, text_of(Client.status), text_of(Client.relationship_type),
        func.coalesce(Client.avg_payment_delay_days, 0), Client.revenue_percent, text_of(Client.risk_level), Client.currency,
        Client.payment_habit, Client.contact_name, Client.contact_email, Client.tags,
    ), owner=Client.user_id, where=account_scope(Client.user_id, single), single=single)


@cache
def vendors_select(single: bool) -> Select[Any]:
    eb = ExpenseBucket
    return shaped((
        eb.id, eb.name, text_of(eb.category), text_of(eb.status), eb.payment_terms, eb.payment_terms_days, text_of(eb.flexibility_level),
        text_of(eb.criticality), eb.delay_history, eb.contact_name, eb.contact_email, eb.tags,
    ), owner=eb.user_id, where=account_scope(eb.user_id, single), single=single)


@cache
def agreements_select(single: bool) -> Select[Any]:
    oa = ObligationAgreement
    return shaped((
        oa.id, text_of(oa.obligation_type), text_of(oa.direction), oa.base_amount, oa.currency, either(oa.base_currency_amount, oa.base_amount),
        text_of(oa.frequency), oa.start_date, oa.created_at, oa.client_id, oa.expense_bucket_id, func.coalesce(oa.description, ""),
        oa.end_date, text_of(oa.status), oa.cancelled_at, oa.previous_amount, oa.amount_changed_at, text_of(oa.amount_type), oa.source,
    ), owner=oa.user_id, where=account_scope(oa.user_id, single), single=single)


def schedule_bounds(day: date) -> tuple[date, date]:
    """The first and last due dates a snapshot reads (older ones only while open): through the day after
    the forecast's last, whose open schedules are preparation's (``Loaded.day_after``)."""
    return day - timedelta(days=HISTORY_DAYS), day + timedelta(days=7 * FORECAST_WEEKS)


def schedule_window(first: Any, last: Any) -> Any:
    os_ = ObligationSchedule
    return and_(os_.due_date <= last, or_(os_.due_date >= first, os_.status.in_(OPEN_SCHEDULE_STATUSES)))


def schedules_select(single: bool, where: Any) -> Select[Any]:
    os_, oa = ObligationSchedule, ObligationAgreement
    # A join names the accounts too (here and below): without them PostgreSQL may hash the whole joined table, everyone's rows.
    return shaped((
        os_.id, os_.obligation_id, func.coalesce(type_coerce(oa.obligation_type, String()), "expense"), text_of(os_.direction), os_.due_date,
        os_.estimated_amount, either(os_.base_currency_amount, os_.estimated_amount), os_.currency, text_of(os_.status),
        or_zero(os_.paid_amount), or_zero(os_.paid_base_amount), oa.client_id, oa.expense_bucket_id, os_.invoice_number,
        os_.paid_at, os_.delayed_from, os_.delay_requested_to, type_coerce(os_.base_currency_amount.is_not(None), Boolean()),
    ), owner=os_.user_id, single=single, order=(os_.due_date, os_.id), where=where,
        join=(oa, and_(oa.id == os_.obligation_id, account_scope(oa.user_id, single))))


@cache
def schedules_of_day(single: bool) -> Select[Any]:
    return schedules_select(single, and_(
        account_scope(ObligationSchedule.user_id, single), schedule_window(bindparam("first"), bindparam("last")),
    ))


def payment_bounds(day: date) -> tuple[date, date]:
    return day - timedelta(days=HISTORY_DAYS), day


def payment_window(first: Any, last: Any) -> Any:
    return and_(PaymentEvent.payment_date >= first, PaymentEvent.payment_date <= last)


def payments_select(single: bool, where: Any) -> Select[Any]:
    pe, os_ = PaymentEvent, ObligationSchedule
    return shaped((
        pe.id, text_of(pe.direction), pe.amount, pe.currency, either(pe.base_currency_amount, pe.amount), pe.payment_date,
        text_of(pe.status), pe.schedule_id, pe.obligation_id, pe.client_id, pe.expense_bucket_id, pe.variance_vs_expected,
        pe.reference, os_.estimated_amount, os_.currency.label("schedule_currency"), text_of(os_.status, "schedule_status"),
        os_.exchange_rate_used,
    ), owner=pe.user_id, single=single, order=(pe.payment_date, pe.id), where=where,
        join=(os_, and_(os_.id == pe.schedule_id, account_scope(os_.user_id, single))))


@cache
def payments_of_day(single: bool) -> Select[Any]:
    return payments_select(single, and_(account_scope(PaymentEvent.user_id, single), payment_window(bindparam("first"), bindparam("last"))))

"""A client's standing, computed from the books: its share of revenue and how risky its payments are.

Nobody types these in: a business in Slack never knew to. The share is the client's part of the
receipts of the last 12 months; a business with no receipts yet uses what it expects to receive
(open invoices due within the next 12 months) instead. The risk comes from the lateness history:
payments of the last 12 months against an invoice (days between its due date and the payment) and
the invoices still open past their due date (days overdue so far). A value a person set on the client (``Client.revenue_percent``) wins over the
computed share.

    risk from the average days late   0-7 low · 8-30 medium · 31-60 high · over 60 critical
    (an invoice open more than 90 days past due makes the client critical whatever the average)

    standing = standings({"cli_a": Decimal("30000"), "cli_b": Decimal("10000")}, {}, {"cli_b": [40, 35]})
    standing["cli_a"].revenue_percent   # Decimal("75.0")
    standing["cli_b"].risk              # RiskLevel.HIGH
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import Integer, and_, bindparam, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from tamio.data.models import RiskLevel
from tamio.db import Money, money_sum
from tamio.obligations.models import (
    OPEN_SCHEDULE_STATUSES,
    Direction,
    ObligationSchedule,
    PaymentEvent,
    PaymentStatus,
)
from tamio.statements import account_params, account_scope, windowed

YEAR = timedelta(days=365)
TENTH = Decimal("0.1")
LONG_OVERDUE_DAYS = 90


class Lateness(NamedTuple):
    """Days late, summed up: how many times, the days in all and the most (early counts as 0: on time)."""

    times: int = 0
    days: int = 0
    most: int = 0

    @classmethod
    def of(cls, days_late: Iterable[int]) -> Lateness:
        lateness = [max(0, d) for d in days_late]
        return cls(len(lateness), sum(lateness), max(lateness, default=0))

    def plus(self, days_late: int) -> Lateness:
        late = max(0, days_late)
        return Lateness(self.times + 1, self.days + late, max(self.most, late))


@dataclass(frozen=True)
class ClientStanding:
    revenue_percent: Decimal | None  # None: no receipts and nothing expected
    basis: str  # "received" (last 12 months) or "expected" (next 12 months)
    risk: RiskLevel | None  # None: no invoice has come due yet
    avg_days_late: int | None
    # What the risk and the average were worked out from: payments against an invoice (last 12 months)
    # and the invoices still open past their due date (days overdue so far).
    payments: int = 0
    overdue: Lateness = Lateness()


def risk_of(days_late: Iterable[int] | Lateness) -> RiskLevel | None:
    found = days_late if isinstance(days_late, Lateness) else Lateness.of(days_late)
    if not found.times:
        return None
    if found.most > LONG_OVERDUE_DAYS:
        return RiskLevel.CRITICAL
    average = found.days / found.times
    if average > 60:
        return RiskLevel.CRITICAL
    if average > 30:
        return RiskLevel.HIGH
    return RiskLevel.MEDIUM if average > 7 else RiskLevel.LOW


def standings(
    received: Mapping[str, Decimal], expected: Mapping[str, Decimal], lateness: Mapping[str, Iterable[int] | Lateness],
    overdue: Mapping[str, Lateness] | None = None,
) -> dict[str, ClientStanding]:
    """Each client's standing from its receipts, expected receivables and days late (pure); ``overdue``:
    the part of each client's days late that its invoices still open past their due date make up."""
    basis, amounts = ("received", received) if sum(received.values(), Decimal(0)) > 0 else ("expected", expected)
    total = sum(amounts.values(), Decimal(0))
    found: dict[str, ClientStanding] = {}
    for client_id in set(received) | set(expected) | set(lateness):
        share = (amounts.get(client_id, Decimal(0)) * 100 / total).quantize(TENTH, rounding=ROUND_HALF_UP) if total > 0 else None
        given = lateness.get(client_id, ())
        days = given if isinstance(given, Lateness) else Lateness.of(given)
        average = round(days.days / days.times) if days.times else None
        still = (overdue or {}).get(client_id, Lateness())
        found[client_id] = ClientStanding(revenue_percent=share, basis=basis, risk=risk_of(days), avg_days_late=average,
                                          payments=days.times - still.times, overdue=still)
    return found


def describe_standing(standing: ClientStanding | None) -> str:
    """In words, naming what each figure comes from, so it reads with the client's payment habit (which
    says whether it was learned from paid invoices or entered by a person): Slack's ``/tamio client``
    and ``tamio client`` show this line.

        "38.5 % of the last 12 months' receipts · payment risk medium (12 days late on average over 4 payments)"
        "payment risk medium from its open invoice, 21 days overdue (no invoice paid in the last 12 months)"
    """
    if standing is None:
        return "No receipts or invoices yet, so no revenue share or payment risk."
    parts = []
    if standing.revenue_percent is not None:
        basis = "the last 12 months' receipts" if standing.basis == "received" else "what is expected in the next 12 months"
        parts.append(f"{standing.revenue_percent} % of {basis}")
    parts.append(_risk_words(standing))
    return " · ".join(parts)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _risk_words(standing: ClientStanding) -> str:
    if standing.risk is None:
        return "no invoice due yet, so no payment risk"
    risk, still = f"payment risk {standing.risk.value}", standing.overdue
    if not standing.payments:  # from open invoices only: say so, beside a habit that may be as entered
        average = round(still.days / still.times)
        its = (f"its open invoice, {average} days overdue" if still.times == 1
               else f"its {still.times} open invoices, {average} days overdue on average")
        return f"{risk} from {its} (no invoice paid in the last 12 months)"
    late = f"{standing.avg_days_late} days late on average" if standing.avg_days_late else "on time"
    over = _plural(standing.payments, "payment") + (f" and {_plural(still.times, 'open invoice')} past due" if still.times else "")
    words = f"{risk} ({late} over {over})"
    if still.most > LONG_OVERDUE_DAYS:
        words += f"; an invoice is {still.most} days overdue"
    return words


class _days_between(FunctionElement[int]):  # noqa: N801 (an SQL function)
    """Whole days from the second date to the first (negative when it is earlier)."""

    type = Integer()
    inherit_cache = True
    name = "days_between"


@compiles(_days_between)
def _days_between_default(element: _days_between, compiler: Any, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"({later} - {earlier})"


@compiles(_days_between, "sqlite")
def _days_between_sqlite(element: _days_between, compiler: Any, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"


class _late(FunctionElement[int]):  # noqa: N801 (an SQL function)
    """``max(0, days)``: paying early is paying on time."""

    type = Integer()
    inherit_cache = True
    name = "late"


@compiles(_late)
def _late_default(element: _late, compiler: Any, **kw: Any) -> str:
    return f"GREATEST(0, {compiler.process(element.clauses, **kw)})"


@compiles(_late, "sqlite")
def _late_sqlite(element: _late, compiler: Any, **kw: Any) -> str:
    return f"max(0, {compiler.process(element.clauses, **kw)})"


def _paid_window(first: Any, last: Any) -> Any:
    return and_(PaymentEvent.payment_date >= first, PaymentEvent.payment_date <= last)


def _paid_bounds(day: date) -> tuple[date, date]:
    """The last 12 months' receipts, through the account's day."""
    return day - YEAR, day


def _paid(single: bool, window: Any) -> Any:
    pe, os_ = PaymentEvent, ObligationSchedule
    late = _days_between(pe.payment_date, os_.due_date)
    return (
        select(pe.user_id, pe.client_id, type_coerce(money_sum(func.coalesce(pe.base_currency_amount, pe.amount)), Money()),
               func.count(os_.due_date), func.sum(_late(late)), func.max(_late(late)))
        .outerjoin(os_, os_.id == pe.schedule_id)
        .where(pe.client_id.is_not(None), pe.direction == Direction.INFLOW, pe.status == PaymentStatus.COMPLETED, window)
        .group_by(pe.user_id, pe.client_id)
    )


@cache
def _paid_of_day(single: bool) -> Any:
    return _paid(single, and_(account_scope(PaymentEvent.user_id, single), _paid_window(bindparam("first"), bindparam("last"))))


@cache
def _owed_select(single: bool) -> Any:
    """The open receivables due by ``:latest``."""
    os_ = ObligationSchedule
    return select(
        os_.user_id, os_.client_id, os_.due_date, func.coalesce(os_.base_currency_amount, os_.estimated_amount), os_.paid_base_amount,
    ).where(
        account_scope(os_.user_id, single), os_.client_id.is_not(None), os_.direction == Direction.INFLOW,
        os_.status.in_(OPEN_SCHEDULE_STATUSES), os_.due_date <= bindparam("latest"),
    )


async def client_standings(db: AsyncSession, *, today: Mapping[str, date]) -> dict[str, dict[str, ClientStanding]]:
    """account id -> client id -> standing, for the accounts of ``today`` (account id -> its day), in two
    queries: the last 12 months' receipts summed per client in SQL (with how late they came), then
    the open receivables."""
    ids = sorted(today)
    received: dict[str, dict[str, Decimal]] = defaultdict(dict)
    expected: dict[str, dict[str, Decimal]] = defaultdict(dict)
    lateness: dict[str, dict[str, Lateness]] = defaultdict(dict)
    overdue: dict[str, dict[str, Lateness]] = defaultdict(dict)
    if not ids:
        return {}
    single, params = len(ids) == 1, account_params(ids)
    paid = windowed(today, ids, _paid_of_day, _paid, PaymentEvent.user_id, _paid_window, _paid_bounds)
    for account_id, payer, amount, count, total, most in await db.execute(*paid):
        client_id = str(payer)
        received[account_id][client_id] = amount
        if count:  # paid against an invoice: how late it came
            lateness[account_id][client_id] = Lateness(count, int(total), int(most))
    for account_id, owner, due, amount, paid_amount in await db.execute(_owed_select(single), {
        **params, "latest": max(today.values()) + YEAR,
    }):
        day, client_id = today[account_id], str(owner)
        if due < day:  # still open past its due date: overdue so far
            lateness[account_id][client_id] = lateness[account_id].get(client_id, Lateness()).plus((day - due).days)
            overdue[account_id][client_id] = overdue[account_id].get(client_id, Lateness()).plus((day - due).days)
        if due <= day + YEAR:
            owed = Decimal(amount) - Decimal(paid_amount or 0)
            expected[account_id][client_id] = expected[account_id].get(client_id, Decimal(0)) + max(owed, Decimal(0))
    return {i: standings(received[i], expected[i], lateness[i], overdue[i]) for i in ids}

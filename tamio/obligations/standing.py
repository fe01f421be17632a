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

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.data.models import RiskLevel
from tamio.obligations.models import (
    OPEN_SCHEDULE_STATUSES,
    Direction,
    ObligationSchedule,
    PaymentEvent,
    PaymentStatus,
)

YEAR = timedelta(days=365)
TENTH = Decimal("0.1")
LONG_OVERDUE_DAYS = 90


@dataclass(frozen=True)
class ClientStanding:
    revenue_percent: Decimal | None  # None: no receipts and nothing expected
    basis: str  # "received" (last 12 months) or "expected" (next 12 months)
    risk: RiskLevel | None  # None: no invoice has come due yet
    avg_days_late: int | None


def risk_of(days_late: Iterable[int]) -> RiskLevel | None:
    lateness = [max(0, d) for d in days_late]
    if not lateness:
        return None
    if max(lateness) > LONG_OVERDUE_DAYS:
        return RiskLevel.CRITICAL
    average = sum(lateness) / len(lateness)
    if average > 60:
        return RiskLevel.CRITICAL
    if average > 30:
        return RiskLevel.HIGH
    return RiskLevel.MEDIUM if average > 7 else RiskLevel.LOW


def standings(
    received: Mapping[str, Decimal], expected: Mapping[str, Decimal], lateness: Mapping[str, list[int]]
) -> dict[str, ClientStanding]:
    """Each client's standing from its receipts, expected receivables and days late (pure)."""
    basis, amounts = ("received", received) if sum(received.values(), Decimal(0)) > 0 else ("expected", expected)
    total = sum(amounts.values(), Decimal(0))
    found: dict[str, ClientStanding] = {}
    for client_id in set(received) | set(expected) | set(lateness):
        share = (amounts.get(client_id, Decimal(0)) * 100 / total).quantize(TENTH, rounding=ROUND_HALF_UP) if total > 0 else None
        days = lateness.get(client_id, [])
        average = round(sum(max(0, d) for d in days) / len(days)) if days else None
        found[client_id] = ClientStanding(revenue_percent=share, basis=basis, risk=risk_of(days), avg_days_late=average)
    return found


async def client_standings(db: AsyncSession, *, today: Mapping[str, date]) -> dict[str, dict[str, ClientStanding]]:
    """account id -> client id -> standing, for the accounts of ``today`` (account id -> its day), in two queries."""
    ids = sorted(today)
    received: dict[str, dict[str, Decimal]] = defaultdict(dict)
    expected: dict[str, dict[str, Decimal]] = defaultdict(dict)
    lateness: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    if not ids:
        return {}
    earliest, latest = min(today.values()) - YEAR, max(today.values()) + YEAR
    pe, os_ = PaymentEvent, ObligationSchedule
    paid = (
        select(pe.user_id, pe.client_id, pe.payment_date, func.coalesce(pe.base_currency_amount, pe.amount), os_.due_date)
        .outerjoin(os_, os_.id == pe.schedule_id)
        .where(pe.user_id.in_(ids), pe.client_id.is_not(None), pe.direction == Direction.INFLOW, pe.status == PaymentStatus.COMPLETED,
               pe.payment_date >= earliest)
    )
    for account_id, payer, when, amount, due in await db.execute(paid):
        client_id = str(payer)
        if today[account_id] - YEAR <= when <= today[account_id]:
            received[account_id][client_id] = received[account_id].get(client_id, Decimal(0)) + Decimal(amount)
            if due is not None:  # paid against an invoice: how late it came
                lateness[account_id][client_id].append((when - due).days)
    rows = select(
        os_.user_id, os_.client_id, os_.due_date, func.coalesce(os_.base_currency_amount, os_.estimated_amount), os_.paid_base_amount,
    ).where(
        os_.user_id.in_(ids), os_.client_id.is_not(None), os_.direction == Direction.INFLOW, os_.status.in_(OPEN_SCHEDULE_STATUSES),
        os_.due_date <= latest,
    )
    for account_id, owner, due, amount, paid_amount in await db.execute(rows):
        day, client_id = today[account_id], str(owner)
        if due < day:  # still open past its due date: overdue so far
            lateness[account_id][client_id].append((day - due).days)
        if due <= day + YEAR:
            owed = Decimal(amount) - Decimal(paid_amount or 0)
            expected[account_id][client_id] = expected[account_id].get(client_id, Decimal(0)) + max(owed, Decimal(0))
    return {i: standings(received[i], expected[i], lateness[i]) for i in ids}

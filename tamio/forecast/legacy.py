"""The legacy forecast path (``USE_OBLIGATION_FOR_FORECAST`` off): billing lines, and the ledger's news.

The design document's legacy path computes the forecast from clients' and expense buckets'
``billing_config``. Billing lines say what recurs and how much; they cannot say what has happened
since: a payment received, part of an invoice paid, a payment moved by an approved delay, an
invoice overdue, an invoice synced from Xero, a credit line's repayment. Counting lines alone
counted a paid invoice again and missed every overdue one. So the decision is:

    expected = occurrences of the billing lines from the forecast's first day (of active clients
               and vendors, whose agreement, if any, is active), each one replaced by what the
               ledger knows about it, plus the ledger's open items no line describes.

"The ledger knows about it" means the occurrence's ObligationSchedule (found by agreement and
rule date) is not *plain* (``tamio.forecast.expected``): paid or cancelled (then nothing is
expected), partly paid (the rest), queued, moved by a delay (its new date), or overdue. Only
these rows are read, plus the open schedules of agreements that have no billing line (Xero
invoices, credit-line repayments); a plain schedule is exactly what its line already says, so
the lines alone still carry the recurring future. Payments reach the forecast twice over and
never double: the cash balance moves (both paths read it), and the schedule they settle stops
being expected. An account whose lines have no agreements at all (the obligation system off)
still gets its recurring forecast from the lines.

This is what makes both paths give the same 13 weeks for the same business in every state
(``tests/service/test_forecast_paths.py`` generates histories with payments, delays, overdue
invoices, paused clients, credit draws and repayments, and Xero-like invoices to check it).

    totals = await legacy_totals(db, account_id=account.id, as_of=date(2026, 12, 7), end=date(2027, 3, 7))
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.data.models import Client, CounterpartyStatus, ExpenseBucket
from tamio.forecast.engine import INFLOW, OUTFLOW
from tamio.forecast.expected import ExpectedKey, Totals, add, key_of, origin_column, plain_clause
from tamio.obligations.business_days import MAX_SHIFT_DAYS
from tamio.obligations.models import (
    OPEN_SCHEDULE_STATUSES,
    AgreementStatus,
    ObligationAgreement,
    ObligationSchedule,
)
from tamio.obligations.schemas import RecurrenceSpec

Occurrence = tuple[str, date]  # (agreement id, or the line's own key without one; rule date)
Expected = tuple[ExpectedKey, Decimal] | None


async def legacy_totals(db: AsyncSession, *, account_id: str, as_of: date, end: date) -> Totals:
    clients = (await db.execute(select(Client).where(Client.user_id == account_id))).scalars().all()
    buckets = (await db.execute(select(ExpenseBucket).where(ExpenseBucket.user_id == account_id))).scalars().all()
    entities: list[Client | ExpenseBucket] = [*clients, *buckets]
    active_entities = {e.id for e in entities if e.status == CounterpartyStatus.ACTIVE}
    oa = ObligationAgreement
    agreements = (await db.execute(select(oa.id, oa.status, oa.client_id, oa.expense_bucket_id).where(oa.user_id == account_id))).all()
    active = {a.id for a in agreements if a.status == AgreementStatus.ACTIVE}
    expected: dict[Occurrence, Expected] = {}
    with_line: set[str] = set()
    for entity in entities:
        for index, line in enumerate((entity.billing_config or {}).get("lines", [])):
            agreement_id = line.get("agreement_id")
            if agreement_id:
                with_line.add(agreement_id)
            if entity.id not in active_entities or (agreement_id and agreement_id not in active):
                continue
            expected.update(_line_occurrences(entity, index, line, as_of=as_of, end=end))
    lineless = [
        a.id for a in agreements
        if a.id in active and a.id not in with_line
        and all(cp is None or cp in active_entities for cp in (a.client_id, a.expense_bucket_id))
    ]
    totals: Totals = {}
    for value in {**expected, **await _ledger(db, account_id=account_id, as_of=as_of, end=end, lineless=lineless)}.values():
        if value is not None:
            add(totals, *value)
    return totals


def _line_occurrences(entity: Client | ExpenseBucket, index: int, line: dict[str, Any], *, as_of: date, end: date) -> Iterable[tuple[Occurrence, Expected]]:
    direction = INFLOW if line.get("obligation_type") == "revenue" else OUTFLOW
    spec = RecurrenceSpec.from_config(line["recurrence"])
    amount = Decimal(str(line.get("base_amount") or line["amount"]))
    origin = str(line.get("origin") or entity.source)
    client_id = entity.id if isinstance(entity, Client) else None
    owner = str(line.get("agreement_id") or f"line:{entity.id}:{index}")
    for occurrence in spec.recurrence().occurrences(as_of, end):
        key = key_of(occurrence.due_date, direction, line.get("amount_type", "fixed"), origin, client_id)
        yield (owner, occurrence.rule_date), (key, amount)


async def _ledger(db: AsyncSession, *, account_id: str, as_of: date, end: date, lineless: list[str]) -> dict[Occurrence, Expected]:
    """What the ledger says about the occurrences it knows more of than the lines, by occurrence."""
    os_ = ObligationSchedule
    columns = (
        os_.id, os_.obligation_id, os_.rule_date, os_.due_date, os_.direction, os_.amount_type, origin_column().label("origin"),
        os_.client_id, os_.status, os_.base_currency_amount, os_.paid_base_amount,
    )
    news = or_(
        and_(os_.status.in_(OPEN_SCHEDULE_STATUSES), os_.due_date <= end),  # open and due by the end
        # any state, for an occurrence a line may give in the window (paid or moved out of it)
        and_(os_.rule_date >= as_of - timedelta(days=MAX_SHIFT_DAYS), os_.rule_date <= end + timedelta(days=MAX_SHIFT_DAYS)),
    )
    rows = list((await db.execute(select(*columns).where(os_.user_id == account_id, news, not_(plain_clause(as_of))))).all())
    for start in range(0, len(lineless), 500):
        rows += (
            await db.execute(
                select(*columns).where(
                    os_.obligation_id.in_(lineless[start : start + 500]), os_.status.in_(OPEN_SCHEDULE_STATUSES), os_.due_date <= end
                )
            )
        ).all()
    found: dict[Occurrence, Expected] = {}
    for row in rows:
        is_open = row.status in OPEN_SCHEDULE_STATUSES and row.due_date <= end
        remaining = (row.base_currency_amount or Decimal(0)) - row.paid_base_amount
        key = key_of(row.due_date, row.direction, row.amount_type, row.origin, row.client_id)
        found[(row.obligation_id, row.rule_date)] = (key, remaining) if is_open else None
    return found

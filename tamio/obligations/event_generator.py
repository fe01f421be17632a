"""CashEvent generation: from schedules (``schedule_id`` set) or, legacy, straight from billing lines.

The migration path of the design document decides which: until ``DEPRECATE_DIRECT_CASH_EVENTS``
is on, CashEvents come directly from clients' and expense buckets' billing lines (phases 1 and 2,
kept for audit); from phase 3 they come only from ObligationSchedules (the "schedule-to-event
generator"). Both are idempotent through ``event_key``. It is the obligations' own: it reads
agreements and schedules, so it sits above ``tamio.events`` (the table), which imports nothing of theirs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account
from tamio.bulk import copy_rows
from tamio.config import Settings
from tamio.data.models import Client, ExpenseBucket
from tamio.db import new_id
from tamio.events.models import CashEvent
from tamio.obligations.models import (
    Direction,
    ObligationAgreement,
    ObligationSchedule,
    ObligationType,
    Scheduled,
)
from tamio.obligations.schemas import RecurrenceSpec


def line_key(line: dict[str, Any]) -> str:
    if line.get("agreement_id"):
        return str(line["agreement_id"])
    digest = hashlib.sha256(json.dumps(line.get("recurrence"), sort_keys=True).encode() + str(line.get("amount")).encode())
    return digest.hexdigest()[:16]


async def _existing_keys(db: AsyncSession, account_id: str, keys: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = list(keys[start : start + 500])
        rows = await db.execute(select(CashEvent.event_key).where(CashEvent.user_id == account_id, CashEvent.event_key.in_(chunk)))
        found.update(rows.scalars())
    return found


async def insert_events(db: AsyncSession, account_id: str, rows: list[dict[str, Any]], *, new_keys: bool = False) -> int:
    """Insert event rows in batches, leaving out any whose key is already there (or earlier in ``rows``).

    ``new_keys``: every key names a schedule or agreement made in this transaction, so none can be
    there yet and the lookup is skipped (a bulk import's hundreds of thousands of events)."""
    if not rows:
        return 0
    have = set() if new_keys else await _existing_keys(db, account_id, [r["event_key"] for r in rows])
    fresh = []
    for row in rows:
        if row["event_key"] not in have:
            have.add(row["event_key"])
            fresh.append(row)
    await copy_rows(db, CashEvent, fresh)  # Core rows (COPY on PostgreSQL), not the ORM's bulk insert: that splits a batch wherever a None moves
    return len(fresh)



async def generate_legacy_events(
    db: AsyncSession, *, account: Account, counterparty: Client | ExpenseBucket, line: dict[str, Any], start: date, end: date,
    now: datetime,
) -> int:
    """Legacy: CashEvents computed directly from a billing line (no schedule behind them)."""
    is_client = isinstance(counterparty, Client)
    rows = legacy_event_rows(account_id=account.id, client_id=counterparty.id if is_client else None,
                             expense_bucket_id=None if is_client else counterparty.id, description=counterparty.name,
                             line=line, start=start, end=end, now=now)
    return await insert_events(db, account.id, rows)


def legacy_event_rows(
    *, account_id: str, client_id: str | None, expense_bucket_id: str | None, description: str, line: dict[str, Any],
    start: date, end: date, now: datetime,
) -> list[dict[str, Any]]:
    """The legacy CashEvent rows of one billing line between ``start`` and ``end`` (for ``insert_events``)."""
    spec = RecurrenceSpec.from_config(line["recurrence"])
    direction = Direction.INFLOW if line.get("obligation_type") == ObligationType.REVENUE.value else Direction.OUTFLOW
    key = line_key(line)
    return [
        {
            "id": new_id("evt"),
            "user_id": account_id,
            "schedule_id": None,
            "client_id": client_id,
            "expense_bucket_id": expense_bucket_id,
            "event_key": f"legacy:{key}:{o.due_date.isoformat()}",
            "date": o.due_date,
            "amount": Decimal(line["amount"]),
            "currency": line["currency"],
            "base_currency_amount": Decimal(line.get("base_amount") or line["amount"]),
            "exchange_rate_used": Decimal(line.get("rate") or "1"),
            "exchange_rate_date": None,
            "direction": direction,
            "category": line.get("obligation_type", ""),
            "source": "legacy",
            "confidence": "medium",
            "description": description,
            "created_at": now,
        }
        for o in spec.recurrence().occurrences(start, end)
    ]


async def generate_events_from_schedules(
    db: AsyncSession, *, account: Account, schedules: Sequence[ObligationSchedule], agreement: ObligationAgreement, now: datetime,
) -> int:
    """The schedule-to-event generator: one CashEvent per schedule, linked by ``schedule_id``."""
    return await insert_events(db, account.id, schedule_event_rows(account_id=account.id, schedules=schedules, agreement=agreement, now=now))


def schedule_event_rows(
    *, account_id: str, schedules: Iterable[ObligationSchedule | Mapping[str, Any]], agreement: Scheduled, now: datetime
) -> list[dict[str, Any]]:
    """One CashEvent row per schedule of ``agreement`` (a row or the values just inserted), for ``insert_events``."""
    return [
        {
            "id": new_id("evt"),
            "user_id": account_id,
            "schedule_id": s["id"],
            "client_id": agreement.client_id,
            "expense_bucket_id": agreement.expense_bucket_id,
            "event_key": f"schedule:{s['id']}",
            "date": s["due_date"],
            "amount": s["estimated_amount"],
            "currency": s["currency"],
            "base_currency_amount": s["base_currency_amount"],
            "exchange_rate_used": s["exchange_rate_used"],
            "exchange_rate_date": s["exchange_rate_date"],
            "direction": s["direction"],
            "category": agreement.obligation_type.value,
            "source": "schedule",
            "confidence": "high" if agreement.amount_type.value == "fixed" else "medium",
            "description": agreement.description,
            "created_at": now,
        }
        for s in map(_values, schedules)
    ]


def _values(schedule: ObligationSchedule | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(schedule, Mapping):
        return schedule
    return {name: getattr(schedule, name) for name in _SCHEDULE_FIELDS}


_SCHEDULE_FIELDS = ("id", "due_date", "estimated_amount", "currency", "base_currency_amount", "exchange_rate_used",
                    "exchange_rate_date", "direction")


async def generate_events_for_agreement(
    db: AsyncSession,
    *,
    account: Account,
    settings: Settings,
    counterparty: Client | ExpenseBucket,
    agreement: ObligationAgreement | None,
    line: dict[str, Any],
    today: date,
    horizon: date,
    now: datetime,
) -> int:
    if not settings.deprecate_direct_cash_events:
        return await generate_legacy_events(db, account=account, counterparty=counterparty, line=line, start=today, end=horizon, now=now)
    if agreement is None:
        return 0
    schedules = (
        await db.execute(select(ObligationSchedule).where(ObligationSchedule.obligation_id == agreement.id))
    ).scalars().all()
    return await generate_events_from_schedules(db, account=account, schedules=schedules, agreement=agreement, now=now)

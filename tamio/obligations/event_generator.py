"""CashEvent generation: from schedules (``schedule_id`` set) or, legacy, straight from billing lines.

The migration path of the design document decides which: until ``DEPRECATE_DIRECT_CASH_EVENTS``
is on, CashEvents come directly from clients' and expense buckets' billing lines (phases 1 and 2,
kept for audit); from phase 3 they come only from ObligationSchedules (the "schedule-to-event
generator"). Both are idempotent through ``event_key``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account
from tamio.config import Settings
from tamio.data.models import Client, ExpenseBucket
from tamio.db import new_id
from tamio.events.models import CashEvent
from tamio.obligations.models import Direction, ObligationAgreement, ObligationSchedule, ObligationType
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


async def _insert(db: AsyncSession, account_id: str, rows: list[dict[str, Any]]) -> int:
    if not rows:
        return 0
    have = await _existing_keys(db, account_id, [r["event_key"] for r in rows])
    fresh = [r for r in rows if r["event_key"] not in have]
    for start in range(0, len(fresh), 1000):
        await db.execute(insert(CashEvent), fresh[start : start + 1000])
    return len(fresh)


async def generate_legacy_events(
    db: AsyncSession, *, account: Account, counterparty: Client | ExpenseBucket, line: dict[str, Any], start: date, end: date,
    now: datetime,
) -> int:
    """Legacy: CashEvents computed directly from a billing line (no schedule behind them)."""
    spec = RecurrenceSpec.from_config(line["recurrence"])
    direction = Direction.INFLOW if line.get("obligation_type") == ObligationType.REVENUE.value else Direction.OUTFLOW
    key = line_key(line)
    rows = [
        {
            "id": new_id("evt"),
            "user_id": account.id,
            "schedule_id": None,
            "client_id": counterparty.id if isinstance(counterparty, Client) else None,
            "expense_bucket_id": counterparty.id if isinstance(counterparty, ExpenseBucket) else None,
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
            "description": counterparty.name,
            "created_at": now,
        }
        for o in spec.recurrence().occurrences(start, end)
    ]
    return await _insert(db, account.id, rows)


async def generate_events_from_schedules(
    db: AsyncSession, *, account: Account, schedules: Sequence[ObligationSchedule], agreement: ObligationAgreement, now: datetime,
) -> int:
    """The schedule-to-event generator: one CashEvent per schedule, linked by ``schedule_id``."""
    rows = [
        {
            "id": new_id("evt"),
            "user_id": account.id,
            "schedule_id": s.id,
            "client_id": agreement.client_id,
            "expense_bucket_id": agreement.expense_bucket_id,
            "event_key": f"schedule:{s.id}",
            "date": s.due_date,
            "amount": s.estimated_amount,
            "currency": s.currency,
            "base_currency_amount": s.base_currency_amount,
            "exchange_rate_used": s.exchange_rate_used,
            "exchange_rate_date": s.exchange_rate_date,
            "direction": s.direction,
            "category": agreement.obligation_type.value,
            "source": "schedule",
            "confidence": "high" if agreement.amount_type.value == "fixed" else "medium",
            "description": agreement.description,
            "created_at": now,
        }
        for s in schedules
    ]
    return await _insert(db, account.id, rows)


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

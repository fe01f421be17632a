"""The outbox: write what must be sent in the same transaction as the change, deliver it later.

Nothing is posted to Slack (or mailed) from inside a database transaction. A state change calls
``enqueue`` with a deterministic idempotency key; enqueueing the same key again is a no-op, so a
rerun never sends twice. Delivery workers (``bot.delivery``) ``claim_due`` rows, send them, and
``mark_delivered`` / ``mark_failed``. Claims are leases (``claimed_until``): a worker that dies
mid-send leaves its rows to be claimed again once the lease runs out.

    await enqueue(db, account_id=account.id, kind="slack_post", channel="C123",
                  payload={"text": "...", "blocks": [...]}, idempotency_key=f"card:{action.id}", now=now)
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.db import new_id
from tamio.outbox.models import OutboxMessage

MAX_ATTEMPTS = 8
LEASE = timedelta(seconds=60)
BASE_BACKOFF = 2.0
MAX_BACKOFF = 300.0

PENDING, SENDING, DELIVERED, DEAD = "pending", "sending", "delivered", "dead"


async def enqueue(
    db: AsyncSession,
    *,
    account_id: str | None,
    kind: str,
    payload: dict[str, Any],
    idempotency_key: str,
    now: datetime,
    channel: str | None = None,
    not_before: datetime | None = None,
) -> bool:
    """Add a message unless one with this key exists; returns whether it was added."""
    values = {
        "id": new_id("out"),
        "user_id": account_id,
        "kind": kind,
        "channel": channel,
        "idempotency_key": idempotency_key,
        "payload": payload,
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": not_before or now,
        "result": {},
        "created_at": now,
    }
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(OutboxMessage).values(**values).on_conflict_do_nothing(index_elements=["idempotency_key"])
    result = await db.execute(stmt)
    return bool(getattr(result, "rowcount", 0))


async def claim_due(db: AsyncSession, *, worker: str, now: datetime, limit: int = 20, kinds: tuple[str, ...] | None = None) -> list[OutboxMessage]:
    """Lease due rows to this worker. PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: BEGIN IMMEDIATE serialises."""
    due = or_(
        and_(OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.status == SENDING, OutboxMessage.claimed_until <= now),
    )
    stmt = select(OutboxMessage).where(due).order_by(OutboxMessage.next_attempt_at, OutboxMessage.created_at).limit(limit)
    if kinds:
        stmt = stmt.where(OutboxMessage.kind.in_(kinds))
    if db.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    rows = list((await db.execute(stmt)).scalars().all())
    for row in rows:
        row.status = SENDING
        row.claimed_by = worker
        row.claimed_until = now + LEASE
        row.attempts = row.attempts + 1
    await db.flush()
    return rows


def backoff(attempts: int, *, retry_after: float | None = None, rng: random.Random | None = None) -> float:
    """Seconds to wait: Retry-After when given, else exponential with full jitter."""
    if retry_after is not None:
        return max(0.0, retry_after)
    ceiling = min(MAX_BACKOFF, BASE_BACKOFF * (2 ** max(0, attempts - 1)))
    return (rng or random).uniform(ceiling / 2, ceiling)


async def mark_delivered(db: AsyncSession, *, message_id: str, worker: str, now: datetime, result: dict[str, Any] | None = None) -> bool:
    stmt = (
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == SENDING, OutboxMessage.claimed_by == worker)
        .values(status=DELIVERED, delivered_at=now, result=result or {}, claimed_until=None, last_error=None)
    )
    return bool((await db.execute(stmt)).rowcount)  # type: ignore[attr-defined]


async def mark_failed(
    db: AsyncSession, *, message_id: str, worker: str, now: datetime, error: str, retry_after: float | None = None, permanent: bool = False
) -> str:
    row = await db.get(OutboxMessage, message_id)
    if row is None or row.claimed_by != worker or row.status != SENDING:
        return "lost-lease"
    row.last_error = error[:2000]
    row.claimed_until = None
    if permanent or row.attempts >= MAX_ATTEMPTS:
        row.status = DEAD
    else:
        row.status = PENDING
        row.next_attempt_at = now + timedelta(seconds=backoff(row.attempts, retry_after=retry_after))
    await db.flush()
    return row.status


async def retry_dead(db: AsyncSession, *, message_id: str, now: datetime) -> OutboxMessage | None:
    row = await db.get(OutboxMessage, message_id)
    if row is None or row.status != DEAD:
        return None
    row.status = PENDING
    row.attempts = 0
    row.next_attempt_at = now
    await db.flush()
    return row


async def list_messages(db: AsyncSession, *, status: str | None = None, limit: int = 100) -> list[OutboxMessage]:
    stmt = select(OutboxMessage).order_by(OutboxMessage.created_at.desc()).limit(limit)
    if status:
        stmt = stmt.where(OutboxMessage.status == status)
    return list((await db.execute(stmt)).scalars().all())


@dataclass(frozen=True)
class Backlog:
    pending: int
    sending: int
    dead: int
    oldest_pending: datetime | None


async def backlog(db: AsyncSession) -> Backlog:
    rows = (await db.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))).all()
    counts = {status: int(n) for status, n in rows}
    oldest = (await db.execute(select(func.min(OutboxMessage.created_at)).where(OutboxMessage.status == PENDING))).scalar_one()
    return Backlog(counts.get(PENDING, 0), counts.get(SENDING, 0), counts.get(DEAD, 0), oldest)

"""The outbox: write what must be sent in the same transaction as the change, deliver it later.

Nothing is posted to Slack (or mailed) from inside a database transaction. A state change calls
``enqueue`` with a deterministic idempotency key; enqueueing the same key again is a no-op, so a
rerun never sends twice. Delivery workers (``bot.delivery``) ``claim_due`` rows, send them, and
``mark_delivered`` / ``mark_failed``.

- Claims are leases (``claimed_until``): a worker that dies mid-send leaves its rows to be claimed
  again once the lease runs out. ``attempts`` counts claims, so a row claimed with ``attempts > 1``
  may have reached its destination already: the sender checks before sending again.
- PostgreSQL claims with ``FOR UPDATE SKIP LOCKED`` (workers never wait for each other nor take
  the same row); SQLite's ``BEGIN IMMEDIATE`` serialises claims.
- About one message per second per channel: a claim skips channels another worker is sending to
  (a live lease) and takes at most ``per_channel`` rows of one channel; the sender spaces those.
- Failures: ``Retry-After`` is honoured; other errors back off exponentially with full jitter;
  after ``RetryPolicy.max_attempts`` claims the row is dead, listed by ``tamio outbox list --dead``
  and sent again by ``tamio outbox retry ID``.

    await enqueue(db, account_id=account.id, kind="slack_post", channel="C123",
                  payload={"text": "...", "blocks": [...]}, idempotency_key=f"card:{action.id}", now=now)
    await enqueue_many(db, account_id=account.id, messages=[Outgoing("action_card", {...}, "card:act_1", "C123")], now=now)
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from tamio.db import core_table, new_id
from tamio.outbox.models import OutboxMessage

PENDING, SENDING, DELIVERED, DEAD = "pending", "sending", "delivered", "dead"
STATUSES = (PENDING, SENDING, DELIVERED, DEAD)


@dataclass(frozen=True)
class RetryPolicy:
    """How long a claim lasts, how retries back off, and when a message is given up on."""

    max_attempts: int = 8
    base_seconds: float = 2.0
    cap_seconds: float = 300.0
    lease: timedelta = timedelta(seconds=60)

    def delay(self, attempts: int, *, retry_after: float | None = None, rng: random.Random | None = None) -> float:
        """Seconds before the next try: ``Retry-After`` when the server said, else exponential with jitter."""
        if retry_after is not None:
            return max(0.0, retry_after)
        ceiling = min(self.cap_seconds, self.base_seconds * (2 ** max(0, attempts - 1)))
        return (rng or random).uniform(ceiling / 2, ceiling)


DEFAULT_POLICY = RetryPolicy()
MAX_ATTEMPTS = DEFAULT_POLICY.max_attempts
LEASE = DEFAULT_POLICY.lease


def backoff(attempts: int, *, retry_after: float | None = None, rng: random.Random | None = None,
            policy: RetryPolicy = DEFAULT_POLICY) -> float:
    return policy.delay(attempts, retry_after=retry_after, rng=rng)


def _insert_for(db: AsyncSession) -> Any:
    return pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert


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
    stmt = (
        _insert_for(db)(OutboxMessage).values(**values)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(OutboxMessage.id)
    )
    return (await db.execute(stmt)).first() is not None


@dataclass(frozen=True)
class Outgoing:
    kind: str
    payload: dict[str, Any]
    idempotency_key: str
    channel: str | None = None
    due: datetime | None = None  # when it may go (default: now); earlier than its batch goes first in its channel


async def enqueue_many(db: AsyncSession, *, account_id: str | None, messages: list[Outgoing], now: datetime) -> int:
    """``enqueue`` for many messages in one statement per 500; existing keys are left alone."""
    return await enqueue_for_accounts(db, [(account_id, m) for m in messages], now=now)


async def enqueue_for_accounts(db: AsyncSession, messages: Sequence[tuple[str | None, Outgoing]], *, now: datetime) -> int:
    """``enqueue_many`` for messages of several accounts (account id, message): one cached statement
    over batches of rows (insertmanyvalues), not a statement compiled afresh for each batch of values."""
    if not messages:
        return 0
    rows = [
        {
            "id": new_id("out"), "user_id": account_id, "kind": m.kind, "channel": m.channel,
            "idempotency_key": m.idempotency_key, "payload": m.payload, "status": PENDING, "attempts": 0,
            "next_attempt_at": m.due or now, "result": {}, "created_at": m.due or now,
        }
        for account_id, m in messages
    ]
    stmt = _insert_for(db)(core_table(OutboxMessage)).on_conflict_do_nothing(index_elements=["idempotency_key"])
    added = await db.execute(stmt.returning(core_table(OutboxMessage).c.id), rows)
    return len(added.all())


async def claim_due(
    db: AsyncSession,
    *,
    worker: str,
    now: datetime,
    limit: int = 20,
    kinds: tuple[str, ...] | None = None,
    per_channel: int | None = 5,
    policy: RetryPolicy = DEFAULT_POLICY,
    crowded: set[str] | None = None,
) -> list[OutboxMessage]:
    """Lease due rows to ``worker`` (oldest first) and count the attempt; see the module docstring.

    ``crowded`` (if given) receives the channels that had more due rows than ``per_channel``: the
    sender holds such a channel a moment after its last post, so the next worker keeps the pace.
    """
    due = or_(
        and_(OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.status == SENDING, OutboxMessage.claimed_until <= now),
    )
    stmt = select(OutboxMessage).where(due)
    if kinds:
        stmt = stmt.where(OutboxMessage.kind.in_(kinds))
    if per_channel is not None:
        other = aliased(OutboxMessage)
        busy = select(other.id).where(
            other.channel == OutboxMessage.channel, other.status == SENDING, other.claimed_until > now
        ).exists()
        stmt = stmt.where(or_(OutboxMessage.channel.is_(None), ~busy))
    # Look a little past ``limit`` so a busy channel does not starve the others of this batch.
    window = limit if per_channel is None else limit * 3
    stmt = stmt.order_by(OutboxMessage.next_attempt_at, OutboxMessage.created_at, OutboxMessage.id).limit(window)
    if db.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=OutboxMessage)
    candidates = list((await db.execute(stmt)).scalars().all())
    taken: list[OutboxMessage] = []
    per: Counter[str] = Counter()
    for row in candidates:
        if len(taken) == limit:
            break
        if per_channel is not None and row.channel is not None:
            if per[row.channel] >= per_channel:
                if crowded is not None:
                    crowded.add(row.channel)
                continue
            per[row.channel] += 1
        taken.append(row)
    for row in taken:
        row.status = SENDING
        row.claimed_by = worker
        row.claimed_until = now + policy.lease
        row.attempts = row.attempts + 1
    await db.flush()
    return taken


async def mark_delivered(db: AsyncSession, *, message_id: str, worker: str, now: datetime, result: dict[str, Any] | None = None) -> bool:
    """Delivered, if ``worker`` still holds the lease (a worker whose lease ran out must not overwrite)."""
    stmt = (
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == SENDING, OutboxMessage.claimed_by == worker)
        .values(status=DELIVERED, delivered_at=now, result=result or {}, claimed_until=None, last_error=None)
        .returning(OutboxMessage.id)
    )
    return (await db.execute(stmt)).first() is not None


async def waiting(db: AsyncSession, *, account_id: str, kind: str, exclude: str | None = None) -> list[str]:
    """The ids of the account's rows of ``kind`` still waiting to be sent (``pending``)."""
    stmt = select(OutboxMessage.id).where(OutboxMessage.user_id == account_id, OutboxMessage.kind == kind, OutboxMessage.status == PENDING)
    if exclude:
        stmt = stmt.where(OutboxMessage.id != exclude)
    return list((await db.execute(stmt)).scalars().all())


async def coalesce(db: AsyncSession, *, message_ids: Sequence[str], into: str, now: datetime) -> int:
    """Mark waiting rows delivered by another row's send (App Home rendered once for many changes).

    Only rows still ``pending``: one a worker has claimed meanwhile is left to that worker.
    """
    if not message_ids:
        return 0
    stmt = (
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(list(message_ids)), OutboxMessage.status == PENDING)
        .values(status=DELIVERED, delivered_at=now, result={"coalesced_into": into})
        .returning(OutboxMessage.id)
    )
    return len((await db.execute(stmt)).all())


async def extend_lease(db: AsyncSession, *, message_id: str, worker: str, now: datetime,
                       policy: RetryPolicy = DEFAULT_POLICY) -> bool:
    """Keep a lease alive while a slow send is still going (e.g. waiting out a channel's pace)."""
    stmt = (
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == SENDING, OutboxMessage.claimed_by == worker)
        .values(claimed_until=now + policy.lease)
        .returning(OutboxMessage.id)
    )
    return (await db.execute(stmt)).first() is not None


async def mark_failed(
    db: AsyncSession, *, message_id: str, worker: str, now: datetime, error: str, retry_after: float | None = None,
    permanent: bool = False, policy: RetryPolicy = DEFAULT_POLICY,
) -> str:
    """Back to ``pending`` after a backoff, or ``dead`` (permanent, or out of attempts); the new status.

    ``lost-lease`` when another worker has taken the row over meanwhile: nothing is changed.
    """
    row = await db.get(OutboxMessage, message_id, populate_existing=True)
    if row is None or row.claimed_by != worker or row.status != SENDING:
        return "lost-lease"
    row.last_error = error[:2000]
    row.claimed_until = None
    if permanent or row.attempts >= policy.max_attempts:
        row.status = DEAD
    else:
        row.status = PENDING
        row.next_attempt_at = now + timedelta(seconds=policy.delay(row.attempts, retry_after=retry_after))
    await db.flush()
    return row.status


async def retry_dead(db: AsyncSession, *, message_id: str, now: datetime) -> OutboxMessage | None:
    """Send a dead message again (from scratch: its attempts start over); None if it is not dead."""
    row = await db.get(OutboxMessage, message_id, populate_existing=True)
    if row is None or row.status != DEAD:
        return None
    row.status = PENDING
    row.attempts = 0
    row.next_attempt_at = now
    row.claimed_by = None
    row.claimed_until = None
    await db.flush()
    return row


# Delivered rows that stay: they record where an alert was announced (its resolution edits those
# messages) and what changed since the last digest.
KEPT_WHEN_DELIVERED = ("alert_new", "alert_escalated")


async def prune_delivered(db: AsyncSession, *, before: datetime, keep_kinds: Sequence[str] = KEPT_WHEN_DELIVERED) -> int:
    """Forget messages delivered before ``before`` (pending, sending and dead ones always stay).

    Their keys are never enqueued again by then (a card's key names its action and version, a
    digest's its day), so forgetting them cannot make anything go out twice.
    """
    stmt = delete(OutboxMessage).where(OutboxMessage.status == DELIVERED, OutboxMessage.delivered_at < before)
    if keep_kinds:
        stmt = stmt.where(OutboxMessage.kind.not_in(list(keep_kinds)))
    return len((await db.execute(stmt.returning(OutboxMessage.id))).all())


async def get_message(db: AsyncSession, *, message_id: str) -> OutboxMessage | None:
    return await db.get(OutboxMessage, message_id)


async def list_messages(db: AsyncSession, *, status: str | None = None, limit: int = 100,
                        account_id: str | None = None) -> list[OutboxMessage]:
    """Newest first; ``status="dead"`` lists what needs a human."""
    stmt = select(OutboxMessage).order_by(OutboxMessage.created_at.desc(), OutboxMessage.id).limit(limit)
    if status:
        stmt = stmt.where(OutboxMessage.status == status)
    if account_id:
        stmt = stmt.where(OutboxMessage.user_id == account_id)
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

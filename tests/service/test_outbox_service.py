"""The outbox on a real database: idempotent enqueue, leases that expire, one row per worker under
concurrency (SKIP LOCKED / BEGIN IMMEDIATE), a channel at a time, Retry-After, backoff, dead letters."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.outbox.models import OutboxMessage
from tamio.outbox.service import (
    DEAD,
    PENDING,
    SENDING,
    RetryPolicy,
    backlog,
    claim_due,
    enqueue,
    extend_lease,
    list_messages,
    mark_delivered,
    mark_failed,
    retry_dead,
)

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=3, base_seconds=2.0, cap_seconds=30.0, lease=timedelta(seconds=60))


async def post(sessions: async_sessionmaker[AsyncSession], key: str, channel: str | None = "C1", at: datetime = NOW) -> bool:
    async with sessions() as db, db.begin():
        return await enqueue(db, account_id=None, kind="slack_post", channel=channel, payload={"text": key},
                             idempotency_key=key, now=at)


async def claim(sessions: async_sessionmaker[AsyncSession], worker: str, at: datetime = NOW, **options: object) -> list[OutboxMessage]:
    async with sessions() as db, db.begin():
        return await claim_due(db, worker=worker, now=at, policy=POLICY, **options)  # type: ignore[arg-type]


async def test_enqueueing_the_same_key_again_adds_nothing(session_factory: async_sessionmaker[AsyncSession]) -> None:
    assert await post(session_factory, "card:act_1") is True
    assert await post(session_factory, "card:act_1") is False
    async with session_factory() as db:
        assert (await db.execute(select(func.count()).select_from(OutboxMessage))).scalar_one() == 1


async def test_a_lease_keeps_others_off_until_it_runs_out(session_factory: async_sessionmaker[AsyncSession]) -> None:
    await post(session_factory, "k1")
    [mine] = await claim(session_factory, "a")
    assert (mine.status, mine.attempts, mine.claimed_by) == (SENDING, 1, "a")
    assert await claim(session_factory, "b", NOW + timedelta(seconds=59)) == []

    async with session_factory() as db, db.begin():  # a slow send renews its lease
        assert await extend_lease(db, message_id=mine.id, worker="a", now=NOW + timedelta(seconds=30), policy=POLICY)
    assert await claim(session_factory, "b", NOW + timedelta(seconds=61)) == []

    [taken] = await claim(session_factory, "b", NOW + timedelta(seconds=91))  # "a" died: its lease ran out
    assert (taken.id, taken.attempts, taken.claimed_by) == (mine.id, 2, "b")
    async with session_factory() as db, db.begin():  # "a" wakes up: it can change nothing any more
        assert await mark_delivered(db, message_id=mine.id, worker="a", now=NOW) is False
        assert await mark_failed(db, message_id=mine.id, worker="a", now=NOW, error="late", policy=POLICY) == "lost-lease"
        assert await extend_lease(db, message_id=mine.id, worker="a", now=NOW, policy=POLICY) is False
        assert await mark_delivered(db, message_id=mine.id, worker="b", now=NOW, result={"ts": "1.2"}) is True


async def test_concurrent_workers_never_take_the_same_row(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with session_factory() as db, db.begin():
        for i in range(120):
            await enqueue(db, account_id=None, kind="slack_post", channel=None, payload={}, idempotency_key=f"k{i}", now=NOW)

    async def drain(worker: str) -> list[str]:
        got: list[str] = []
        while rows := await claim(session_factory, worker, limit=7, per_channel=None):
            got += [r.id for r in rows]
            await asyncio.sleep(0)
        return got

    batches = await asyncio.gather(*(drain(f"w{i}") for i in range(4)))
    every = [row for batch in batches for row in batch]
    assert len(every) == 120 and len(set(every)) == 120
    assert sum(1 for batch in batches if batch) >= 2  # they really did share the work


async def test_one_worker_at_a_time_sends_to_a_channel(session_factory: async_sessionmaker[AsyncSession]) -> None:
    for i in range(8):
        await post(session_factory, f"busy-{i}", channel="C1", at=NOW + timedelta(milliseconds=i))
    for i in range(2):
        await post(session_factory, f"quiet-{i}", channel="C2", at=NOW + timedelta(seconds=1, milliseconds=i))
    await post(session_factory, "home", channel=None)

    later = NOW + timedelta(seconds=2)
    first = await claim(session_factory, "a", later, per_channel=5)
    assert Counter(r.channel for r in first) == {"C1": 5, "C2": 2, None: 1}
    assert [r.idempotency_key for r in first if r.channel == "C1"] == [f"busy-{i}" for i in range(5)]  # in order
    assert await claim(session_factory, "b", later) == []  # C1 is being sent to by "a"; the rest is taken
    async with session_factory() as db, db.begin():
        for row in first:
            await mark_delivered(db, message_id=row.id, worker="a", now=later)
    assert [r.idempotency_key for r in await claim(session_factory, "b", later)] == ["busy-5", "busy-6", "busy-7"]


async def test_retry_after_is_honoured_then_backoff_then_a_dead_letter(session_factory: async_sessionmaker[AsyncSession]) -> None:
    await post(session_factory, "k1")
    [row] = await claim(session_factory, "a")
    async with session_factory() as db, db.begin():
        assert await mark_failed(db, message_id=row.id, worker="a", now=NOW, error="ratelimited", retry_after=7, policy=POLICY) == PENDING
    assert await claim(session_factory, "a", NOW + timedelta(seconds=6.9)) == []
    [row] = await claim(session_factory, "a", NOW + timedelta(seconds=7))
    async with session_factory() as db, db.begin():
        assert await mark_failed(db, message_id=row.id, worker="a", now=NOW, error="internal_error", policy=POLICY) == PENDING
        again = await db.get(OutboxMessage, row.id)
        assert again is not None and timedelta(seconds=2) <= again.next_attempt_at - NOW <= timedelta(seconds=4)  # 2nd try: 2-4 s
    [row] = await claim(session_factory, "a", NOW + timedelta(seconds=5))
    async with session_factory() as db, db.begin():  # the third try was the last
        assert await mark_failed(db, message_id=row.id, worker="a", now=NOW, error="internal_error", policy=POLICY) == DEAD
    assert await claim(session_factory, "a", NOW + timedelta(days=1)) == []

    async with session_factory() as db, db.begin():
        assert [m.idempotency_key for m in await list_messages(db, status=DEAD)] == ["k1"]
        assert (await backlog(db)).dead == 1
        assert await retry_dead(db, message_id=row.id, now=NOW + timedelta(hours=1)) is not None
        assert await retry_dead(db, message_id=row.id, now=NOW) is None  # not dead any more
    [row] = await claim(session_factory, "a", NOW + timedelta(hours=1))
    assert row.attempts == 1 and row.last_error == "internal_error"


async def test_an_error_slack_repeats_forever_is_dead_at_once(session_factory: async_sessionmaker[AsyncSession]) -> None:
    await post(session_factory, "k1")
    [row] = await claim(session_factory, "a")
    async with session_factory() as db, db.begin():
        assert await mark_failed(db, message_id=row.id, worker="a", now=NOW, error="channel_not_found", permanent=True) == DEAD


def test_backoff_grows_exponentially_with_jitter_up_to_a_cap() -> None:
    rng = random.Random(3)
    delays = [[POLICY.delay(attempt, rng=rng) for attempt in range(1, 7)] for _ in range(200)]
    for attempt, ceiling in enumerate((2, 4, 8, 16, 30, 30)):
        spread = [d[attempt] for d in delays]
        assert ceiling / 2 <= min(spread) and max(spread) <= ceiling
        assert max(spread) - min(spread) > ceiling / 4  # jittered, not in lockstep
    assert POLICY.delay(5, retry_after=1.5) == 1.5

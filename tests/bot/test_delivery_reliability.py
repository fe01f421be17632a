"""The delivery worker against a Slack that fails: every message arrives, none twice.

The local Slack stand-in answers 429 with Retry-After, 500, or applies a post and then drops the
connection (so the worker cannot know the post happened). Workers retry with backoff, look for an
earlier attempt's message (metadata carrying the idempotency key) before posting again, pace each
channel to about one message a second, and dead-letter what cannot be sent.

The workers, their pacing and the stand-in's timestamps all run on one ``FakeClock``: backoffs,
Retry-After and the one-second pace are stepped through, never waited out, so the figures below are
exact and the same on an idle or a saturated machine.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.charts import ChartLinks
from bot.delivery import DeliveryWorker
from bot.delivery_posting import ChannelPace
from bot.oauth import BOT_SCOPES, SingleWorkspaceToken
from bot.runtime import Runtime
from slack_sandbox.standin import SlackStandIn
from tamio.config import Settings
from tamio.digest import DailyDigest
from tamio.opening import open_account
from tamio.outbox.models import OutboxMessage
from tamio.outbox.service import PENDING, SENDING, RetryPolicy, backlog, enqueue, retry_dead
from tests.bot.conftest import workspace
from tests.conftest import TEST_SECRET_KEY
from tests.fake_clock import FakeClock

pytestmark = pytest.mark.backends("sqlite", "pg")
FAST = RetryPolicy(max_attempts=20, base_seconds=0.05, cap_seconds=0.4, lease=timedelta(seconds=10))
# The channels these tests post to, Tamio in each; and the history scope, so a dropped answer can be
# looked for (the test without it withholds it).
OUTBOX_CHANNELS = {"C0FINANCE", "C0", "C1", "C2", "C0OPS", *(f"C{n:02d}" for n in range(8))}


def outbox_workspace(**kwargs: Any) -> SlackStandIn:
    return workspace(channels={c: c.lower() for c in OUTBOX_CHANNELS}, bot_scopes=(*BOT_SCOPES, "channels:history"), **kwargs)


NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
async def slack(clock: FakeClock) -> AsyncIterator[SlackStandIn]:
    """The stand-in stamps messages with the workers' clock: a channel's pace reads in its ``ts``."""
    async with outbox_workspace(clock=clock.epoch) as stand_in:
        yield stand_in


def settings_for(slack: SlackStandIn) -> Settings:
    return Settings(database_url="sqlite+aiosqlite:///:memory:", slack_bot_token=slack.bot_token, slack_api_url=slack.api_url,
                    slack_signing_secret="s", slack_client_id=None, slack_client_secret=None, secret_key=TEST_SECRET_KEY)


def worker_for(slack: SlackStandIn, sessions: async_sessionmaker[AsyncSession], name: str, *,
               clock: Callable[[], datetime] | None = None, **options: Any) -> DeliveryWorker:
    """A worker on ``clock``; on a ``FakeClock`` its channel pace sleeps on that clock too."""
    settings = settings_for(slack)
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url, timeout=5)
    options.setdefault("policy", FAST)
    if isinstance(clock, FakeClock):
        options["pace"] = ChannelPace(options.pop("spacing", 1.0), monotonic=clock.epoch, sleep=clock.sleep)
    return DeliveryWorker(Runtime(settings, sessions, clock), client, SingleWorkspaceToken(slack.bot_token), ChartLinks(settings),
                          name=name, **options)


async def team(sessions: async_sessionmaker[AsyncSession], channel: str = "C0FINANCE") -> str:
    async with sessions() as db, db.begin():
        account = await open_account(db, name="Acme Ltd", base_currency="USD", slack_team_id="T0001", now=NOW)
        account.digest_channel_id = channel
        return account.id


def a_digest(account_id: str, day: date) -> dict[str, Any]:
    return DailyDigest(account_id=account_id, account_name="Acme Ltd", day=day, base_currency="USD",
                       cash_today=Decimal("48250"), lowest_balance=Decimal("31900"), lowest_week=date(2027, 1, 4),
                       runway_weeks=None, since=datetime(2026, 12, 6, 6, tzinfo=UTC)).to_json()


async def queue(sessions: async_sessionmaker[AsyncSession], account_id: str, messages: list[tuple[str, str, str]], *,
                now: datetime = NOW) -> None:
    """(kind, channel, key) each; posts carry their key as text, digests are quiet-day digests.

    They are queued in order a microsecond apart, the last at ``now`` (the outbox sends a channel's
    rows oldest first; rows written at the same moment have no order between them).
    """
    async with sessions() as db, db.begin():
        for n, (kind, channel, key) in enumerate(messages):
            payload = a_digest(account_id, date(2026, 12, 1) + timedelta(days=n)) if kind == "digest" else {"text": key}
            at = now - timedelta(microseconds=len(messages) - 1 - n)
            await enqueue(db, account_id=account_id, kind=kind, channel=channel, payload=payload, idempotency_key=key, now=at)


async def next_due(sessions: async_sessionmaker[AsyncSession]) -> datetime | None:
    """When a worker may next claim something: a pending row's next try or a lease running out."""
    async with sessions() as db:
        waiting = (await db.execute(select(OutboxMessage.status, OutboxMessage.next_attempt_at, OutboxMessage.claimed_until)
                                    .where(OutboxMessage.status.in_([PENDING, SENDING])))).all()
    moments = [next_try if status == PENDING else leased for status, next_try, leased in waiting]
    return min((m for m in moments if m is not None), default=None)


async def deliver_everything(workers: list[DeliveryWorker], sessions: async_sessionmaker[AsyncSession],
                             clock: FakeClock | None = None, *, rounds: int = 200) -> None:
    """Rounds of every worker's ``run_once`` until nothing is pending or being sent.

    With a ``clock``, between rounds it moves on to the moment the next row can be claimed (a
    backoff or a lease running out), so retries take rounds, not seconds.
    """
    for _ in range(rounds):
        await asyncio.gather(*(w.run_once() for w in workers))
        async with sessions() as db:
            left = await backlog(db)
        if left.pending == 0 and left.sending == 0:
            return
        due = await next_due(sessions)
        if clock is not None and due is not None:
            clock.advance_to(due)
    raise AssertionError(f"still not delivered after {rounds} rounds: {left}")


def posted_keys(slack: SlackStandIn, channels: set[str]) -> Counter[str]:
    return Counter(m["metadata"]["event_payload"]["key"] for c in channels for m in slack.messages(c) if m.get("metadata"))


async def rows(sessions: async_sessionmaker[AsyncSession]) -> list[OutboxMessage]:
    async with sessions() as db:
        return list((await db.execute(select(OutboxMessage).order_by(OutboxMessage.idempotency_key))).scalars())


def stamps_us(slack: SlackStandIn, channel: str) -> list[int]:
    """The channel's message ts in microseconds (exact: the stand-in stamps them with the fake clock)."""
    return [int(m["ts"].replace(".", "")) for m in slack.messages(channel)]


async def test_thirty_percent_failures_and_every_message_arrives_once(
    slack: SlackStandIn, session_factory: async_sessionmaker[AsyncSession], clock: FakeClock,
) -> None:
    account_id = await team(session_factory)
    channels = {f"C{n:02d}" for n in range(8)}
    messages = [("slack_post", channel, f"post:{channel}:{i}") for channel in sorted(channels) for i in range(3)]
    messages += [("digest", "C0FINANCE", f"digest:{account_id}:{n}") for n in range(3)]
    await queue(session_factory, account_id, messages)
    slack.fail_next(1, "drop", method="chat.postMessage")  # at least one post that lands but is never answered
    slack.failure_rate(0.3, seed=11, kinds=("429", "500", "drop"))

    workers = [worker_for(slack, session_factory, f"w{i}", batch=6, clock=clock) for i in range(3)]
    await deliver_everything(workers, session_factory, clock)

    assert posted_keys(slack, channels | {"C0FINANCE"}) == Counter(key for _, _, key in messages)  # each exactly once
    delivered = await rows(session_factory)
    assert {r.status for r in delivered} == {"delivered"}
    kinds = Counter(kind for _, kind in slack.failures)
    assert kinds["429"] and kinds["500"] and kinds["drop"], slack.failures
    assert any(r.result.get("found_earlier") for r in delivered), "no dropped post was recovered from Slack's history"
    assert max(r.attempts for r in delivered) > 1
    assert len(slack.calls_to("chat.postMessage")) > len(messages)  # retried, yet posted once each


@pytest.mark.backends("sqlite")  # the outbox's SQL is covered on both in tests/service
async def test_retry_after_is_waited_out(slack: SlackStandIn, session_factory: async_sessionmaker[AsyncSession], clock: FakeClock) -> None:
    account_id = await team(session_factory)
    await queue(session_factory, account_id, [("slack_post", "C1", "k1")])
    slack.fail_next(1, 429, retry_after=2, method="chat.postMessage")
    worker = worker_for(slack, session_factory, "w", clock=clock)
    assert await worker.run_once() == 0
    [row] = await rows(session_factory)
    assert row.status == "pending" and row.last_error == "ratelimited"
    assert row.next_attempt_at == NOW + timedelta(seconds=2)

    clock.advance(timedelta(seconds=1.9))
    assert await worker.run_once() == 0  # not yet
    assert len(slack.calls_to("chat.postMessage")) == 1

    clock.advance(timedelta(seconds=0.1))
    assert await worker.run_once() == 1
    assert posted_keys(slack, {"C1"}) == {"k1": 1}
    assert stamps_us(slack, "C1") == [int((NOW + timedelta(seconds=2)).timestamp() * 1_000_000)]  # posted when Slack said


@pytest.mark.backends("sqlite")  # the outbox's SQL is covered on both in tests/service
async def test_a_dropped_answer_is_found_in_the_channel_not_posted_again(
    slack: SlackStandIn, session_factory: async_sessionmaker[AsyncSession], clock: FakeClock,
) -> None:
    account_id = await team(session_factory)
    await queue(session_factory, account_id, [("digest", "C0FINANCE", "digest:acct:2026-12-07")])
    slack.fail_next(1, "drop", method="chat.postMessage")
    worker = worker_for(slack, session_factory, "w", clock=clock)
    await deliver_everything([worker], session_factory, clock)
    [row] = await rows(session_factory)
    assert (row.status, row.attempts, row.result["found_earlier"]) == ("delivered", 2, True)
    assert row.result["ts"] == slack.messages("C0FINANCE")[0]["ts"]
    assert len(slack.calls_to("chat.postMessage")) == 1 and len(slack.calls_to("conversations.history")) == 1
    assert slack.messages("C0FINANCE")[0]["text"].startswith("Nothing new. Cash $48,250.00")


@pytest.mark.backends("sqlite")  # the outbox's SQL is covered on both in tests/service
async def test_without_history_scopes_a_dropped_post_is_sent_again_not_dead_lettered(
    slack: SlackStandIn, session_factory: async_sessionmaker[AsyncSession], clock: FakeClock,
) -> None:
    # The manifest's least-privilege scopes cannot read the channel: the message must still arrive.
    slack.withhold_scope("channels:history")
    account_id = await team(session_factory)
    await queue(session_factory, account_id, [("slack_post", "C0FINANCE", "drop-then-post")])
    slack.fail_next(1, "drop", method="chat.postMessage")
    await deliver_everything([worker_for(slack, session_factory, "w", clock=clock)], session_factory, clock)
    [row] = await rows(session_factory)
    assert (row.status, row.attempts) == ("delivered", 2) and "found_earlier" not in row.result
    assert len(slack.calls_to("conversations.history")) == 0  # knows it may not look (x-oauth-scopes): posted again
    assert posted_keys(slack, {"C0FINANCE"}) == {"drop-then-post": 2}  # at least once: the price of the missing scope


@pytest.mark.backends("sqlite")  # the outbox's SQL is covered on both in tests/service
async def test_what_cannot_be_sent_is_dead_and_can_be_sent_again(
    slack: SlackStandIn, session_factory: async_sessionmaker[AsyncSession], clock: FakeClock,
) -> None:
    account_id = await team(session_factory)
    worker = worker_for(slack, session_factory, "w", policy=RetryPolicy(max_attempts=3, base_seconds=0.02, cap_seconds=0.05),
                        clock=clock)
    await queue(session_factory, account_id, [("slack_post", "C0GONE", "gone")])
    slack.refuse_channel("C0GONE", "channel_not_found")
    await deliver_everything([worker], session_factory, clock)
    await queue(session_factory, account_id, [("slack_post", "C1", "flaky")], now=clock())
    slack.failure_rate(1.0, kinds=("500",), methods=("chat.postMessage", "conversations.history"))
    await deliver_everything([worker], session_factory, clock)
    everything = await rows(session_factory)
    flaky, gone = [r for r in everything if r.kind == "slack_post"]
    assert (gone.status, gone.attempts, gone.last_error) == ("dead", 1, "channel_not_found")  # Slack would say it forever
    assert [r.payload for r in everything if r.kind == "channel_problem"] == [{"channel": "C0GONE", "error": "channel_not_found"}]
    assert (flaky.status, flaky.attempts, flaky.last_error) == ("dead", 3, "internal_error")  # out of tries

    slack.failure_rate(0)
    async with session_factory() as db, db.begin():
        await retry_dead(db, message_id=flaky.id, now=clock())
    await deliver_everything([worker], session_factory, clock)
    assert posted_keys(slack, {"C1"}) == {"flaky": 1}


@pytest.mark.backends("sqlite")  # the outbox's SQL is covered on both in tests/service
async def test_a_dead_message_that_had_reached_slack_is_not_posted_again_when_retried(
    slack: SlackStandIn, session_factory: async_sessionmaker[AsyncSession], clock: FakeClock,
) -> None:
    account_id = await team(session_factory)
    worker = worker_for(slack, session_factory, "w", policy=RetryPolicy(max_attempts=2, base_seconds=0.02, cap_seconds=0.05),
                        clock=clock)
    await queue(session_factory, account_id, [("slack_post", "C1", "arrived-then-died")])
    slack.fail_next(1, "drop", method="chat.postMessage")  # posted, but the answer is lost
    slack.fail_next(1, 500, method="conversations.history")  # the second try cannot look: out of tries
    await deliver_everything([worker], session_factory, clock)
    [row] = await rows(session_factory)
    assert (row.status, row.attempts) == ("dead", 2)

    async with session_factory() as db, db.begin():
        await retry_dead(db, message_id=row.id, now=clock())
    await deliver_everything([worker], session_factory, clock)
    [row] = await rows(session_factory)
    assert (row.status, row.result.get("found_earlier")) == ("delivered", True)
    assert posted_keys(slack, {"C1"}) == {"arrived-then-died": 1}


@pytest.mark.backends("sqlite")  # the outbox's SQL is covered on both in tests/service
async def test_about_one_message_a_second_per_channel_even_across_workers(
    slack: SlackStandIn, session_factory: async_sessionmaker[AsyncSession], clock: FakeClock,
) -> None:
    account_id = await team(session_factory)
    await queue(session_factory, account_id, [("slack_post", "C1", f"burst-{i}") for i in range(4)]
                + [("slack_post", "C2", "other")])
    workers = [worker_for(slack, session_factory, f"w{i}", per_channel=2, clock=clock) for i in range(2)]
    await deliver_everything(workers, session_factory, clock)
    stamps = stamps_us(slack, "C1")
    assert [m["text"] for m in slack.messages("C1")] == [f"burst-{i}" for i in range(4)]
    # Two by one worker, the next two by whichever claims them: one second apart all the same (to the
    # millisecond: the stand-in moves a ts on by a microsecond when another channel has just used it).
    assert [round((later - earlier) / 1e6, 3) for earlier, later in zip(stamps, stamps[1:], strict=False)] == [1.0] * 3
    assert stamps_us(slack, "C2")[0] < stamps[2]  # the other channel went out with the first claim, not behind C1


async def test_a_channels_pace_holds_only_that_channel(clock: FakeClock) -> None:
    pace = ChannelPace(1.0, monotonic=clock.epoch, sleep=clock.sleep)
    await pace.turn("C1")
    assert clock() == NOW
    await pace.turn("C1")
    assert clock() == NOW + timedelta(seconds=1)  # a second after the first post
    await pace.turn("C2")
    assert clock() == NOW + timedelta(seconds=1)  # another channel does not wait
    pace.hold("C2", 30)  # Slack said Retry-After: 30
    await pace.turn("C2")
    assert clock() == NOW + timedelta(seconds=31)
    await pace.settle("C1")  # C1 was free again long ago
    assert clock() == NOW + timedelta(seconds=31)

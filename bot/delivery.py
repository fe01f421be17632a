"""The outbox worker for Slack: claims due messages and sends each one exactly once.

State changes write outbox rows in their own transaction (``tamio.outbox``); this worker claims due
rows in one short transaction, calls Slack with no transaction open, and marks each delivered or
failed. How it stays exactly-once while Slack and the network misbehave:

- Its Web API client has no retry handlers: the SDK's default retries a dropped connection, which
  posts twice when Slack had already posted. Retrying is the outbox's job.
- 429 waits ``Retry-After`` (and holds back that channel); 5xx and network errors back off
  exponentially with jitter (``RetryPolicy``); errors Slack will repeat forever are permanent and
  the row is dead at once; after the last try it is dead too (``tamio outbox list --dead``).
- Every post carries ``metadata`` with the row's idempotency key, and a delivered row keeps the
  message's channel and ``ts`` (later updates edit it in place, never reading the channel). A row
  claimed again (``attempts > 1``: a dropped answer, a timeout, a worker killed mid-send whose lease
  ran out) may already be in the channel: where the token has a history scope, the worker looks
  for the key with ``conversations.history`` (``include_all_metadata``) and adopts what it finds;
  without one (the manifest asks for none) it posts again rather than call what Slack refuses.
- Right before a post the worker renews its lease; if another worker has taken the row over, it
  stops. The HTTP timeout stays below the lease, so a send in flight ends before a takeover.
- About one message per second per channel: rows are grouped by channel, channels run
  concurrently, posts to one channel are spaced ``spacing`` seconds apart.

A posted card's channel and ``ts`` are stored on its PreparedAction, so later updates edit it in
place; a resolved alert edits the messages already posted about it (``bot.digests``).

Kinds: ``action_card`` / ``card_update`` {action_id}, ``home_refresh`` {}, ``alert_new`` /
``alert_escalated`` / ``alert_resolved`` {alert_id}, ``digest`` (a ``DailyDigest``), ``run_heading``
{title, lines, more} (a scheduled run's heading before its cards), and the generic
``slack_post`` {text, blocks, thread_ts?}, ``slack_update`` {ts, text, blocks}, ``slack_ephemeral``
{user, text, blocks}, ``slack_home`` {user_id}, and ``integration_reconnect`` {text, integration, reason}
(an integration stopped accepting Tamio's tokens: said once, in the row's channel or the digest channel).

This module is the worker's loop (claim, send, mark); what each kind sends is in
``bot.delivery_kinds``, posting exactly once and pacing in ``bot.delivery_posting``.

    worker = DeliveryWorker(app.runtime, app.client, app.bot_tokens, app.charts)
    delivered = await worker.run_once()
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.charts import ChartLinks
from bot.delivery_kinds import KINDS, KindSenders
from bot.delivery_posting import ChannelPace, LostLease, Skip, retry_after_of, without_retries
from bot.oauth import BotTokens
from bot.problems import note_lost_channel
from bot.runtime import Runtime
from tamio.outbox import service as outbox
from tamio.outbox.models import OutboxMessage

log = logging.getLogger("tamio.bot.delivery")

PERMANENT = frozenset({
    "channel_not_found", "not_in_channel", "is_archived", "invalid_blocks", "invalid_blocks_format", "invalid_arguments",
    "msg_too_long", "no_text", "cant_update_message", "message_not_found", "user_not_found", "invalid_auth",
    "account_inactive", "token_revoked", "missing_scope", "not_authed", "restricted_action", "invalid_metadata_format",
})


class DeliveryWorker(KindSenders):
    def __init__(self, runtime: Runtime, client: AsyncWebClient, tokens: BotTokens, charts: ChartLinks, *,
                 batch: int = 20, interval: float = 1.0, policy: outbox.RetryPolicy = outbox.DEFAULT_POLICY, spacing: float = 1.0,
                 per_channel: int = 5, name: str | None = None, pace: ChannelPace | None = None) -> None:
        self.runtime, self.tokens, self.charts = runtime, tokens, charts
        self.client = without_retries(client)
        self.batch, self.interval, self.policy, self.per_channel = batch, interval, policy, per_channel
        self.pace = pace or ChannelPace(spacing)
        self._scopes: dict[str, frozenset[str]] = {}  # what each token was granted (x-oauth-scopes)
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._covered: dict[str, list[str]] = {}  # a home_refresh row -> the rows of its batch its render covers

    async def run_once(self) -> int:
        """Claim and send one batch (channels concurrently, each in order); returns how many were delivered."""
        now = self.runtime.clock()
        crowded: set[str] = set()
        async with self.runtime.sessions() as db, db.begin():
            rows = await outbox.claim_due(db, worker=self.name, now=now, limit=self.batch, kinds=KINDS,
                                   per_channel=self.per_channel, policy=self.policy, crowded=crowded)
        groups: dict[str, list[OutboxMessage]] = {}
        homes: dict[str | None, OutboxMessage] = {}
        for row in rows:
            if row.kind == "home_refresh" and row.user_id in homes:  # one render covers the account's refreshes of this batch
                self._covered.setdefault(homes[row.user_id].id, []).append(row.id)
                continue
            if row.kind == "home_refresh":
                homes[row.user_id] = row
            groups.setdefault(row.channel or f"#{row.id}", []).append(row)

        async def in_order(group: list[OutboxMessage]) -> int:
            # More of this channel is waiting: keep the lease on the last one until the channel's
            # pace allows another post, so whichever worker claims the rest does not post too soon.
            hold = group[-1].channel in crowded
            return sum([await self._one(row, hold=hold and row is group[-1]) for row in group])

        return sum(await asyncio.gather(*(in_order(g) for g in groups.values())))

    async def run_forever(self, stop: asyncio.Event) -> None:
        wakeup = asyncio.Event()
        self.runtime.delivery_wakeup = wakeup
        while not stop.is_set():
            try:
                busy = await self.run_once() >= self.batch
            except Exception:
                log.exception("delivery batch failed; trying again shortly")
                busy = False
            if busy:
                continue
            wakeup.clear()
            waiters = {asyncio.ensure_future(wakeup.wait()), asyncio.ensure_future(stop.wait())}
            _, pending = await asyncio.wait(waiters, timeout=self.interval, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
        self.runtime.delivery_wakeup = None

    async def _one(self, row: OutboxMessage, *, hold: bool = False) -> int:
        try:
            result = await self.deliver(row)
            if hold and result.get("ts") and not result.get("updated"):
                await self.pace.settle(str(result.get("channel")))
        except Skip as why:
            log.info("outbox %s (%s): skipped: %s", row.id, row.kind, why)
            result = {"skipped": str(why)}
        except LostLease:
            log.info("outbox %s (%s): another worker took it over", row.id, row.kind)
            return 0
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "slack_error")
            retry_after = retry_after_of(exc)
            if retry_after is not None and row.channel:
                self.pace.hold(row.channel, retry_after)
            async with self.runtime.sessions() as db, db.begin():
                status = await outbox.mark_failed(db, message_id=row.id, worker=self.name, now=self.runtime.clock(), error=error,
                                           retry_after=retry_after, permanent=error in PERMANENT, policy=self.policy)
                if status == outbox.DEAD:  # lost for good because of its channel: the admins hear of it
                    await note_lost_channel(db, row=row, error=error, now=self.runtime.clock())
            log.warning("outbox %s (%s) failed: %s -> %s", row.id, row.kind, error, status)
            return 0
        except Exception as exc:  # network errors, timeouts, our own bugs: back off and try again
            async with self.runtime.sessions() as db, db.begin():
                status = await outbox.mark_failed(db, message_id=row.id, worker=self.name, now=self.runtime.clock(),
                                           error=repr(exc)[:2000], policy=self.policy)
            log.warning("outbox %s (%s) failed: %r -> %s", row.id, row.kind, exc, status)
            return 0
        async with self.runtime.sessions() as db, db.begin():
            done = await outbox.mark_delivered(db, message_id=row.id, worker=self.name, now=self.runtime.clock(), result=result)
        return int(done)


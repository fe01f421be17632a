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

    worker = DeliveryWorker(app.runtime, app.client, app.bot_tokens, app.charts)
    delivered = await worker.run_once()
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import digests as say
from bot.blocks.card import card_blocks, card_text
from bot.blocks.common import LOCALE
from bot.charts import ChartLinks
from bot.home import publish_home, publish_homes
from bot.oauth import BotTokens
from bot.problems import PROBLEM_KIND, admins_to_tell, note_lost_channel, problem_text
from bot.queries import load_card
from bot.runtime import Runtime
from tamio.accounts.models import Account
from tamio.detection.models import DetectionAlert
from tamio.digest import DailyDigest
from tamio.execution.readiness import with_email_needs
from tamio.integrations.connections import RECONNECT_KIND
from tamio.outbox import service as outbox
from tamio.outbox.models import OutboxMessage
from tamio.preparation.models import ActionStatus, PreparedAction

log = logging.getLogger("tamio.bot.delivery")

KINDS = ("action_card", "card_update", "home_refresh", "alert_new", "alert_escalated", "alert_resolved", "digest", "run_heading",
         "slack_post", "slack_update", "slack_ephemeral", "slack_home", RECONNECT_KIND, PROBLEM_KIND)
PERMANENT = frozenset({
    "channel_not_found", "not_in_channel", "is_archived", "invalid_blocks", "invalid_blocks_format", "invalid_arguments",
    "msg_too_long", "no_text", "cant_update_message", "message_not_found", "user_not_found", "invalid_auth",
    "account_inactive", "token_revoked", "missing_scope", "not_authed", "restricted_action", "invalid_metadata_format",
})
METADATA_EVENT = "tamio_outbox"
# Errors of conversations.history that mean "not allowed to look", not "try again later".
UNREADABLE = frozenset({"missing_scope", "not_in_channel", "channel_not_found", "not_allowed_token_type"})
HISTORY_SCOPES = frozenset({"channels:history", "groups:history"})
HISTORY_PAGES = 5  # up to 1,000 of the channel's newest messages are searched for an earlier attempt


class Skip(Exception):
    """Nothing to send (the action or alert is gone, or there is no channel yet); not an error."""


class LostLease(Exception):
    """Another worker took this row over (our lease ran out); it will finish the job."""


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


class ChannelPace:
    """Spaces posts to each channel ``spacing`` seconds apart (Slack: about one per second).

    It reads the event loop's monotonic time and sleeps with ``asyncio.sleep``; tests pass a fake
    clock's ``monotonic`` and ``sleep`` instead, so pacing takes no real time there.
    """

    def __init__(self, spacing: float, *, monotonic: Callable[[], float] = _loop_time,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.spacing = spacing
        self._monotonic, self._sleep = monotonic, sleep
        self._next: dict[str, float] = {}

    async def turn(self, channel: str) -> None:
        now = self._monotonic()
        at = max(now, self._next.get(channel, 0.0))
        self._next[channel] = at + self.spacing
        if at > now:
            await self._sleep(at - now)

    async def settle(self, channel: str) -> None:
        """Wait until this channel may be posted to again (before letting another worker at it)."""
        wait = self._next.get(channel, 0.0) - self._monotonic()
        if wait > 0:
            await self._sleep(wait)

    def hold(self, channel: str, seconds: float) -> None:
        """Slack said wait (429 Retry-After): nothing more to this channel before then."""
        self._next[channel] = max(self._next.get(channel, 0.0), self._monotonic() + seconds)


def retry_after_of(error: SlackApiError) -> float | None:
    if error.response.status_code != 429:
        return None
    for name, value in (error.response.headers or {}).items():
        if name.lower() == "retry-after":
            try:
                return float(value if not isinstance(value, list) else value[0])
            except (TypeError, ValueError):
                return 1.0
    return 1.0


def without_retries(client: AsyncWebClient) -> AsyncWebClient:
    return AsyncWebClient(token=client.token, base_url=client.base_url, timeout=client.timeout, retry_handlers=[])


class DeliveryWorker:
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

    async def _account(self, db: AsyncSession, row: OutboxMessage) -> Account:
        account = await db.get(Account, row.user_id) if row.user_id else None
        if account is None:
            raise Skip("the account no longer exists")
        if not account.is_active:
            raise Skip("the workspace removed Tamio")
        LOCALE.set(account.locale)  # this message's amounts and dates, the account's way (each row is its own task)
        return account

    async def _token(self, account: Account) -> str:
        token = await self.tokens.token_for(team_id=account.slack_team_id, enterprise_id=account.slack_enterprise_id)
        if not token:
            raise Skip(f"no bot token for workspace {account.slack_team_id}")
        return token

    async def deliver(self, row: OutboxMessage) -> dict[str, Any]:
        handlers = {"action_card": self._card, "card_update": self._card, "home_refresh": self._homes,
                    "alert_new": self._alert, "alert_escalated": self._alert, "alert_resolved": self._resolved,
                    "digest": self._digest, "run_heading": self._heading, "slack_post": self._post, "slack_update": self._update,
                    "slack_ephemeral": self._ephemeral, "slack_home": self._home, RECONNECT_KIND: self._reconnect,
                    PROBLEM_KIND: self._channel_problem}
        return await handlers[row.kind](row)

    # -- posting once ---------------------------------------------------------------------------

    async def post_once(self, row: OutboxMessage, *, channel: str, text: str, blocks: list[Any] | None, token: str,
                        thread_ts: str | None = None) -> dict[str, Any]:
        """Post unless an earlier attempt of this row already did; returns the message's channel and ts.

        An earlier attempt may have reached Slack when this is not the first claim, or when the row
        failed before (a dead row sent again with ``tamio outbox retry`` starts its attempts over but
        keeps its last error).
        """
        if (row.attempts > 1 or row.last_error) and await self.may_read_history(token):
            found = await self.find_posted(channel=channel, key=row.idempotency_key, token=token, thread_ts=thread_ts)
            if found is not None:
                log.info("outbox %s: already in %s (ts %s) from an earlier attempt; not posting again", row.id, channel, found)
                return {"channel": channel, "ts": found, "found_earlier": True}
        await self.pace.turn(channel)
        async with self.runtime.sessions() as db, db.begin():
            if not await outbox.extend_lease(db, message_id=row.id, worker=self.name, now=self.runtime.clock(), policy=self.policy):
                raise LostLease(row.id)
        metadata = {"event_type": METADATA_EVENT, "event_payload": {"key": row.idempotency_key, "outbox_id": row.id}}
        posted = await self.client.chat_postMessage(channel=channel, text=text, blocks=blocks, thread_ts=thread_ts,
                                                    metadata=metadata, token=token)
        return {"channel": str(posted["channel"]), "ts": str(posted["ts"])}

    async def may_read_history(self, token: str) -> bool:
        """Whether the token was granted a history scope: without one, an earlier attempt is not looked for.

        Slack says a token's scopes on every answer (``x-oauth-scopes``); ``auth.test`` asks once per token.
        The least-privilege manifest has none, so a dropped answer means posting again (at least once).
        """
        if token not in self._scopes:
            try:
                answer = await self.client.auth_test(token=token)
                self._scopes[token] = frozenset(s for s in str(answer.headers.get("x-oauth-scopes") or "").split(",") if s)
            except SlackApiError as exc:
                if exc.response.status_code == 429 or exc.response.status_code >= 500:
                    raise  # Slack is busy: this row is tried again later, rather than posted blind now
                log.warning("auth.test failed (%s); not looking for earlier attempts", exc.response.get("error"))
                return False
        if self._scopes[token] & HISTORY_SCOPES:
            return True
        log.info("no history scope: a post whose answer was lost is sent again, it may show twice")
        return False

    async def find_posted(self, *, channel: str, key: str, token: str, thread_ts: str | None = None) -> str | None:
        """The ts of a message in ``channel`` (or the thread) whose metadata carries ``key``, if any.

        Reading a channel needs ``channels:history`` / ``groups:history``, which the least-privilege
        manifest does not ask for, and a channel Tamio posts to through ``chat:write.public`` is not
        one it is in. Without them the earlier attempt cannot be looked for: the row is posted again
        (at least once rather than dead-lettered), and the log says why.
        """
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):
            try:
                if thread_ts:
                    page = await self.client.conversations_replies(channel=channel, ts=thread_ts, include_all_metadata=True,
                                                                   limit=200, cursor=cursor, token=token)
                else:
                    page = await self.client.conversations_history(channel=channel, include_all_metadata=True, limit=200,
                                                                   cursor=cursor, token=token)
            except SlackApiError as exc:
                error = str(exc.response.get("error") or "")
                if error not in UNREADABLE:
                    raise
                log.warning("cannot read %s to look for an earlier attempt (%s); posting again. Add the channels:history "
                            "and groups:history scopes (and invite Tamio to the channel) to rule out duplicates.", channel, error)
                return None
            for message in page.get("messages") or []:
                metadata = message.get("metadata") or {}
                if metadata.get("event_type") == METADATA_EVENT and (metadata.get("event_payload") or {}).get("key") == key:
                    return str(message["ts"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return None
        return None

    # -- kinds ----------------------------------------------------------------------------------

    async def _card(self, row: OutboxMessage) -> dict[str, Any]:
        async with self.runtime.sessions() as db:
            account = await self._account(db, row)
            card = await load_card(db, account_id=account.id, action_id=str(row.payload.get("action_id")))
            if card is None:
                raise Skip("the action no longer exists")
            await with_email_needs(db, [card], account=account, settings=self.runtime.settings, now=self.runtime.clock())
            today = self.runtime.clock().astimezone(_zone(account)).date()
            blocks = card_blocks(card, today=today, base_currency=account.base_currency)
            text = card_text(card)
            action = card.action
            channel, ts, version = action.slack_channel_id, action.slack_message_ts, action.version
            target = row.channel or account.digest_channel_id
            card_coming = row.kind == "card_update" and not ts and await _card_waiting(db, account_id=account.id, action_id=action.id)
            await db.commit()
        token = await self._token(account)
        if channel and ts and (row.kind == "card_update" or channel == target):
            await self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks, token=token)
            return {"channel": channel, "ts": ts, "updated": True}
        if card_coming:
            raise Skip("its card is not posted yet; it is posted as the action is then")
        if not target:
            raise Skip("no channel yet; `/tamio digest here` chooses one")
        if action.status != ActionStatus.PENDING and row.kind == "action_card" and not action.auto_executed:
            raise Skip(f"the action is already {action.status.value}")
        posted = await self.post_once(row, channel=target, text=text, blocks=blocks, token=token)
        changed = False
        async with self.runtime.sessions() as db, db.begin():
            stored = await db.get(PreparedAction, action.id, populate_existing=True)
            if stored is not None and stored.user_id == account.id:
                stored.slack_channel_id, stored.slack_message_ts = posted["channel"], posted["ts"]
                changed = stored.version != version
        if changed:  # decided while it was being posted: its update found no message to edit
            await self._card(row)
        return posted

    async def _alert(self, row: OutboxMessage) -> dict[str, Any]:
        async with self.runtime.sessions() as db:
            account = await self._account(db, row)
            alert = await db.get(DetectionAlert, str(row.payload.get("alert_id")))
            if alert is None or alert.user_id != account.id:
                raise Skip("the alert no longer exists")
            today = self.runtime.clock().astimezone(_zone(account)).date()
            if row.kind == "alert_new":
                carded = (await db.execute(select(PreparedAction.id).where(
                    PreparedAction.user_id == account.id, PreparedAction.alert_id == alert.id))).first()
                if carded is not None:
                    raise Skip("its action card says it")
                text, blocks = say.alert_new_message(alert, today=today)
            else:
                earlier = await _announcements(db, account_id=account.id, alert_id=alert.id, before=row.id)
                before = earlier[-1].result.get("announced") if earlier else None
                text, blocks = say.alert_escalated_message(alert, today=today, before=before)
            said = say.announced(alert)
            channel = row.channel or account.digest_channel_id
            await db.commit()
        if not channel:
            raise Skip("no channel yet")
        posted = await self.post_once(row, channel=channel, text=text, blocks=blocks, token=await self._token(account))
        async with self.runtime.sessions() as db, db.begin():
            stored = await db.get(DetectionAlert, alert.id)
            if stored is not None:
                stored.announced_at = self.runtime.clock()
                stored.announced_severity = stored.severity
                if row.kind == "alert_escalated":
                    stored.escalated = False  # announced: escalation.py's contract
        return {**posted, "announced": said}

    async def _resolved(self, row: OutboxMessage) -> dict[str, Any]:
        """Edit what was posted about the alert (announcements, and its action cards) to say it resolved."""
        async with self.runtime.sessions() as db:
            account = await self._account(db, row)
            alert = await db.get(DetectionAlert, str(row.payload.get("alert_id")))
            if alert is None or alert.user_id != account.id:
                raise Skip("the alert no longer exists")
            posts = [(m.result["channel"], m.result["ts"]) for m in await _announcements(db, account_id=account.id, alert_id=alert.id)
                     if m.result.get("channel") and m.result.get("ts")]
            text, blocks = say.alert_resolved_message(alert, resolved_at=alert.resolved_at)
            card_ids = list((await db.execute(select(PreparedAction.id).where(
                PreparedAction.user_id == account.id, PreparedAction.alert_id == alert.id,
                PreparedAction.slack_message_ts.is_not(None)))).scalars())
            today = self.runtime.clock().astimezone(_zone(account)).date()
            cards = []
            for action_id in card_ids:
                card = await load_card(db, account_id=account.id, action_id=action_id)
                if card is not None and card.action.slack_channel_id and card.action.slack_message_ts:
                    cards.append((card.action.slack_channel_id, card.action.slack_message_ts, card_text(card),
                                  card_blocks(card, today=today, base_currency=account.base_currency)))
            await db.commit()
        if not posts and not cards:
            raise Skip("nothing was posted about it")
        token = await self._token(account)
        for channel, ts in posts:
            await self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks, token=token)
        for channel, ts, card_words, card_layout in cards:
            await self.client.chat_update(channel=channel, ts=ts, text=card_words, blocks=card_layout, token=token)
        return {"updated": len(posts) + len(cards)}

    async def _digest(self, row: OutboxMessage) -> dict[str, Any]:
        async with self.runtime.sessions() as db:
            account = await self._account(db, row)
            digest = DailyDigest.from_json(row.payload)
            unlinked = [p.action_id for p in digest.pending if not p.ts]
            if unlinked:  # cards posted after the digest was queued get their links now
                rows = await db.execute(
                    select(PreparedAction.id, PreparedAction.slack_channel_id, PreparedAction.slack_message_ts)
                    .where(PreparedAction.user_id == account.id, PreparedAction.id.in_(unlinked)))
                where = {action_id: (channel, ts) for action_id, channel, ts in rows}
                digest = replace(digest, pending=tuple(
                    replace(p, channel=where[p.action_id][0], ts=where[p.action_id][1]) if p.action_id in where else p
                    for p in digest.pending))
            channel = row.channel or account.digest_channel_id
            await db.commit()
        if not channel:
            raise Skip("no digest channel yet; `/tamio digest here` chooses one")
        text, blocks = say.digest_message(digest)
        return await self.post_once(row, channel=channel, text=text, blocks=blocks, token=await self._token(account))

    async def _homes(self, row: OutboxMessage) -> dict[str, Any]:
        """Every member's Home, rendered once for the account; the refreshes waiting behind this one
        (read before the render) and those claimed in the same batch are covered by it, so they are
        marked delivered too. If publishing fails, the claimed ones are taken again when their lease ends."""
        claimed = self._covered.pop(row.id, [])
        async with self.runtime.sessions() as db:
            account = await self._account(db, row)
            covered = await outbox.waiting(db, account_id=account.id, kind="home_refresh", exclude=row.id)
            await db.commit()
        client = _with_token(self.client, await self._token(account))
        published = await publish_homes(self.runtime, client, account_id=account.id, charts=self.charts)
        async with self.runtime.sessions() as db, db.begin():
            coalesced = await outbox.coalesce(db, message_ids=covered, into=row.id, now=self.runtime.clock())
            for other in claimed:  # claimed with this row in one batch: delivered by its render
                coalesced += await outbox.mark_delivered(db, message_id=other, worker=self.name, now=self.runtime.clock(),
                                                         result={"coalesced_into": row.id})
        return {"published": published, "coalesced": coalesced}

    async def _home(self, row: OutboxMessage) -> dict[str, Any]:
        async with self.runtime.sessions() as db:
            account = await self._account(db, row)
        user = str(row.payload.get("user_id"))
        await publish_home(self.runtime, _with_token(self.client, await self._token(account)), account_id=account.id,
                           slack_user_id=user, charts=self.charts)
        return {"published": 1}

    async def _post(self, row: OutboxMessage) -> dict[str, Any]:
        async with self.runtime.sessions() as db:
            account = await self._account(db, row)
        channel = row.channel or account.digest_channel_id
        if not channel:
            raise Skip("no channel yet")
        p = row.payload
        return await self.post_once(row, channel=channel, text=p.get("text") or "", blocks=p.get("blocks"),
                                    thread_ts=p.get("thread_ts"), token=await self._token(account))

    async def _heading(self, row: OutboxMessage) -> dict[str, Any]:
        """A scheduled run's heading, before the cards it heads (``tamio.pipeline``)."""
        async with self.runtime.sessions() as db:
            account = await self._account(db, row)
        channel = row.channel or account.digest_channel_id
        if not channel:
            raise Skip("no channel yet")
        text, blocks = say.run_heading_message(row.payload)
        return await self.post_once(row, channel=channel, text=text, blocks=blocks, token=await self._token(account))

    async def _reconnect(self, row: OutboxMessage) -> dict[str, Any]:
        """An integration needs reconnecting: its text, in the row's channel or else the digest channel."""
        async with self.runtime.sessions() as db:
            account = await self._account(db, row)
        channel = row.channel or account.digest_channel_id
        if not channel:
            raise Skip("no channel to say it in; `/tamio digest here` chooses one, and `/tamio sync` says it too")
        text = str(row.payload.get("text") or "")
        if not text:
            raise Skip("the message has no text")
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}]
        return await self.post_once(row, channel=channel, text=text, blocks=blocks, token=await self._token(account))

    async def _channel_problem(self, row: OutboxMessage) -> dict[str, Any]:
        """A channel lost a message for good: each admin hears it in their DM with Tamio."""
        async with self.runtime.sessions() as db:
            account = await self._account(db, row)
            admins = await admins_to_tell(db, account_id=account.id)
        if not admins:
            raise Skip("no admin to tell")
        text = problem_text(str(row.payload.get("channel")), str(row.payload.get("error")))
        token = await self._token(account)
        for admin in admins:
            await self.client.chat_postMessage(channel=admin, text=text, token=token)
        return {"told": admins}

    async def _update(self, row: OutboxMessage) -> dict[str, Any]:
        async with self.runtime.sessions() as db:
            account = await self._account(db, row)
        p = row.payload
        await self.client.chat_update(channel=str(row.channel), ts=p["ts"], text=p.get("text") or "", blocks=p.get("blocks"),
                                      token=await self._token(account))
        return {"channel": row.channel, "ts": p["ts"]}

    async def _ephemeral(self, row: OutboxMessage) -> dict[str, Any]:
        async with self.runtime.sessions() as db:
            account = await self._account(db, row)
        p = row.payload
        answer = await self.client.chat_postEphemeral(channel=str(row.channel), user=p["user"], text=p.get("text") or "",
                                                      blocks=p.get("blocks"), token=await self._token(account))
        return {"message_ts": answer.get("message_ts")}


async def _card_waiting(db: AsyncSession, *, account_id: str, action_id: str) -> bool:
    """Whether the action's card is still waiting to be posted (then it shows the action as it is when posted)."""
    found = await db.execute(select(OutboxMessage.id).where(
        OutboxMessage.user_id == account_id, OutboxMessage.kind == "action_card",
        OutboxMessage.status.in_((outbox.PENDING, outbox.SENDING)),
        OutboxMessage.idempotency_key.like(f"card:{_like(action_id)}%", escape="\\"),
    ).limit(1))
    return found.first() is not None


async def _announcements(db: AsyncSession, *, account_id: str, alert_id: str, before: str | None = None) -> list[OutboxMessage]:
    """The delivered new/escalated announcements of an alert, oldest first (``before``: excluding that row)."""
    rows = (await db.execute(select(OutboxMessage).where(
        OutboxMessage.user_id == account_id, OutboxMessage.status == outbox.DELIVERED,
        or_(OutboxMessage.idempotency_key == f"alert:{alert_id}:new",
            OutboxMessage.idempotency_key.like(f"alert:{_like(alert_id)}:escalated:%", escape="\\")),
    ).order_by(OutboxMessage.delivered_at, OutboxMessage.created_at))).scalars().all()
    return [r for r in rows if r.id != before and r.result and not r.result.get("skipped")]


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _zone(account: Account) -> Any:
    return ZoneInfo(account.timezone)


def _with_token(client: AsyncWebClient, token: str) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=client.base_url, timeout=client.timeout, retry_handlers=list(client.retry_handlers))


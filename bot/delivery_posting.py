"""Posting to Slack exactly once: the delivery worker's pacing, retry signals and earlier-attempt search.

Split from ``bot.delivery`` (the worker's claim loop) because this is the part that talks to Slack
about one message: spacing posts per channel (``ChannelPace``), reading a 429's ``Retry-After``, a
Web API client without the SDK's retries, and ``post_once``, which renews the row's lease right
before posting and, for a row claimed again, first looks for the message an earlier attempt may
already have posted (by the idempotency key in its ``metadata``). ``SlackSender`` is the base of
the worker: it also finds each row's account and bot token, which every kind of message needs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession

from bot.blocks.common import LOCALE
from bot.oauth import BotTokens
from bot.runtime import Runtime
from tamio.accounts.models import Account
from tamio.outbox import service as outbox
from tamio.outbox.models import OutboxMessage

log = logging.getLogger("tamio.bot.delivery")

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


class SlackSender:
    """What every kind of message needs: its account, the workspace's bot token, and posting once."""

    runtime: Runtime
    client: AsyncWebClient
    tokens: BotTokens
    name: str
    policy: outbox.RetryPolicy
    pace: ChannelPace
    _scopes: dict[str, frozenset[str]]  # what each token was granted (x-oauth-scopes)

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


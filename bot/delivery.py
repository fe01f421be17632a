"""The outbox worker for Slack: claims due messages and sends them (cards, card updates, Home, alerts).

State changes write outbox rows in their own transaction (``tamio.outbox``); this worker claims due
rows in one short transaction, calls Slack with no transaction open, and marks each delivered or
failed (``Retry-After`` honoured on 429; errors Slack will repeat forever are permanent). A posted
card's channel and ``ts`` are stored on its PreparedAction, so later updates edit it in place.

Kinds: ``action_card`` {action_id}, ``card_update`` {action_id}, ``home_refresh`` {} (every member's
Home), ``alert_new`` / ``alert_escalated`` / ``alert_resolved`` {alert_id}, and the generic
``slack_post`` {text, blocks, thread_ts?}, ``slack_update`` {ts, text, blocks}, ``slack_ephemeral``
{user, text, blocks}, ``slack_home`` {user_id}.

    worker = DeliveryWorker(app.runtime, app.client, app.bot_tokens, app.charts)
    delivered = await worker.run_once()
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.blocks.alerts import announcement
from bot.blocks.card import card_blocks, card_text
from bot.charts import ChartLinks
from bot.home import publish_home
from bot.oauth import BotTokens
from bot.queries import load_card
from bot.runtime import Runtime
from tamio.accounts.models import Account, Member
from tamio.detection.models import DetectionAlert
from tamio.outbox.models import OutboxMessage
from tamio.outbox.service import claim_due, mark_delivered, mark_failed
from tamio.preparation.models import ActionStatus, PreparedAction

log = logging.getLogger("tamio.bot.delivery")

KINDS = ("action_card", "card_update", "home_refresh", "alert_new", "alert_escalated", "alert_resolved",
         "slack_post", "slack_update", "slack_ephemeral", "slack_home")
PERMANENT = frozenset({
    "channel_not_found", "not_in_channel", "is_archived", "invalid_blocks", "invalid_blocks_format", "invalid_arguments",
    "msg_too_long", "no_text", "cant_update_message", "message_not_found", "user_not_found", "invalid_auth",
    "account_inactive", "token_revoked", "missing_scope", "not_authed", "restricted_action",
})


class Skip(Exception):
    """Nothing to send (the action or alert is gone, or there is no channel yet); not an error."""


class DeliveryWorker:
    def __init__(self, runtime: Runtime, client: AsyncWebClient, tokens: BotTokens, charts: ChartLinks, *,
                 batch: int = 20, interval: float = 1.0) -> None:
        self.runtime, self.client, self.tokens, self.charts = runtime, client, tokens, charts
        self.batch, self.interval = batch, interval
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"

    async def run_once(self) -> int:
        """Claim and send one batch; returns how many were delivered."""
        now = self.runtime.clock()
        async with self.runtime.sessions() as db, db.begin():
            rows = await claim_due(db, worker=self.name, now=now, limit=self.batch, kinds=KINDS)
        delivered = 0
        for row in rows:
            delivered += await self._one(row)
        return delivered

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

    async def _one(self, row: OutboxMessage) -> int:
        try:
            result = await self.deliver(row)
        except Skip as why:
            result = {"skipped": str(why)}
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "slack_error")
            retry_after = exc.response.headers.get("Retry-After") if exc.response.status_code == 429 else None
            async with self.runtime.sessions() as db, db.begin():
                status = await mark_failed(db, message_id=row.id, worker=self.name, now=self.runtime.clock(), error=error,
                                           retry_after=float(retry_after) if retry_after else None, permanent=error in PERMANENT)
            log.warning("outbox %s (%s) failed: %s -> %s", row.id, row.kind, error, status)
            return 0
        except Exception as exc:
            async with self.runtime.sessions() as db, db.begin():
                await mark_failed(db, message_id=row.id, worker=self.name, now=self.runtime.clock(), error=repr(exc)[:2000])
            log.exception("outbox %s (%s) failed", row.id, row.kind)
            return 0
        async with self.runtime.sessions() as db, db.begin():
            await mark_delivered(db, message_id=row.id, worker=self.name, now=self.runtime.clock(), result=result)
        return 1

    async def _account(self, db: AsyncSession, row: OutboxMessage) -> Account:
        account = await db.get(Account, row.user_id) if row.user_id else None
        if account is None:
            raise Skip("the account no longer exists")
        return account

    async def _token(self, account: Account) -> str:
        token = await self.tokens.token_for(team_id=account.slack_team_id, enterprise_id=account.slack_enterprise_id)
        if not token:
            raise Skip(f"no bot token for workspace {account.slack_team_id}")
        return token

    async def deliver(self, row: OutboxMessage) -> dict[str, Any]:
        handlers = {"action_card": self._card, "card_update": self._card, "home_refresh": self._homes,
                    "alert_new": self._alert, "alert_escalated": self._alert, "alert_resolved": self._alert,
                    "slack_post": self._post, "slack_update": self._update, "slack_ephemeral": self._ephemeral,
                    "slack_home": self._home}
        return await handlers[row.kind](row)

    async def _card(self, row: OutboxMessage) -> dict[str, Any]:
        async with self.runtime.sessions() as db:
            account = await self._account(db, row)
            card = await load_card(db, account_id=account.id, action_id=str(row.payload.get("action_id")))
            if card is None:
                raise Skip("the action no longer exists")
            today = self.runtime.clock().astimezone(_zone(account)).date()
            blocks = card_blocks(card, today=today, base_currency=account.base_currency)
            text = card_text(card)
            action = card.action
            channel, ts = action.slack_channel_id, action.slack_message_ts
            target = row.channel or account.digest_channel_id
            await db.commit()
        token = await self._token(account)
        if channel and ts and (row.kind == "card_update" or channel == target):
            await self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks, token=token)
            return {"channel": channel, "ts": ts, "updated": True}
        if not target:
            raise Skip("no channel yet; `/tamio digest here` chooses one")
        if action.status != ActionStatus.PENDING and row.kind == "action_card":
            raise Skip(f"the action is already {action.status.value}")
        posted = await self.client.chat_postMessage(channel=target, text=text, blocks=blocks, token=token)
        async with self.runtime.sessions() as db, db.begin():
            stored = await db.get(PreparedAction, action.id)
            if stored is not None and stored.user_id == account.id:
                stored.slack_channel_id, stored.slack_message_ts = str(posted["channel"]), str(posted["ts"])
        return {"channel": posted["channel"], "ts": posted["ts"]}

    async def _alert(self, row: OutboxMessage) -> dict[str, Any]:
        async with self.runtime.sessions() as db:
            account = await self._account(db, row)
            alert = await db.get(DetectionAlert, str(row.payload.get("alert_id")))
            if alert is None or alert.user_id != account.id:
                raise Skip("the alert no longer exists")
            if row.kind == "alert_new":
                carded = (await db.execute(select(PreparedAction.id).where(
                    PreparedAction.user_id == account.id, PreparedAction.alert_id == alert.id))).first()
                if carded is not None:
                    raise Skip("its action card says it")
            today = self.runtime.clock().astimezone(_zone(account)).date()
            text, blocks = announcement(alert, today=today, kind=row.kind)
            channel = row.channel or account.digest_channel_id
            await db.commit()
        if not channel:
            raise Skip("no channel yet")
        posted = await self.client.chat_postMessage(channel=channel, text=text, blocks=blocks, token=await self._token(account))
        return {"channel": posted["channel"], "ts": posted["ts"]}

    async def _homes(self, row: OutboxMessage) -> dict[str, Any]:
        async with self.runtime.sessions() as db:
            account = await self._account(db, row)
            users = list((await db.execute(select(Member.slack_user_id).where(
                Member.user_id == account.id, Member.slack_user_id.is_not(None)))).scalars())
            await db.commit()
        client = _with_token(self.client, await self._token(account))
        for user in users:
            await publish_home(self.runtime, client, account_id=account.id, slack_user_id=str(user), charts=self.charts)
        return {"published": len(users)}

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
        posted = await self.client.chat_postMessage(channel=channel, text=p.get("text") or "", blocks=p.get("blocks"),
                                                    thread_ts=p.get("thread_ts"), token=await self._token(account))
        return {"channel": posted["channel"], "ts": posted["ts"]}

    async def _update(self, row: OutboxMessage) -> dict[str, Any]:
        async with self.runtime.sessions() as db:
            account = await self._account(db, row)
        p = row.payload
        await self.client.chat_update(channel=row.channel, ts=p["ts"], text=p.get("text") or "", blocks=p.get("blocks"),
                                      token=await self._token(account))
        return {"channel": row.channel, "ts": p["ts"]}

    async def _ephemeral(self, row: OutboxMessage) -> dict[str, Any]:
        async with self.runtime.sessions() as db:
            account = await self._account(db, row)
        p = row.payload
        answer = await self.client.chat_postEphemeral(channel=row.channel, user=p["user"], text=p.get("text") or "",
                                                      blocks=p.get("blocks"), token=await self._token(account))
        return {"message_ts": answer.get("message_ts")}


def _zone(account: Account) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(account.timezone)


def _with_token(client: AsyncWebClient, token: str) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=client.base_url, timeout=client.timeout, retry_handlers=list(client.retry_handlers))

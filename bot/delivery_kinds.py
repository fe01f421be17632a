"""What the delivery worker sends for each kind of outbox row, and where.

Split from ``bot.delivery`` (the worker's claim loop) because each kind is its own small story:
an action card posted or edited in place, an alert announced, escalated or marked resolved, the
daily digest with its cards' links, a run's heading, every member's Home, and the generic Slack
posts, updates and ephemerals. Each reads what it shows in a short session, closes it, then calls
Slack (``bot.delivery_posting``); ``deliver`` picks the one for a row's kind (``KINDS``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import digests as say
from bot.blocks.card import card_blocks, card_text
from bot.charts import ChartLinks
from bot.delivery_posting import Skip, SlackSender
from bot.home import publish_home, publish_homes
from bot.problems import PROBLEM_KIND, admins_to_tell, problem_text
from bot.queries import load_card
from tamio.accounts.models import Account
from tamio.detection.models import DetectionAlert
from tamio.digest import DailyDigest
from tamio.execution.readiness import with_email_needs
from tamio.integrations.connections import RECONNECT_KIND
from tamio.outbox import service as outbox
from tamio.outbox.models import OutboxMessage
from tamio.preparation.models import ActionStatus, PreparedAction

KINDS = ("action_card", "card_update", "home_refresh", "alert_new", "alert_escalated", "alert_resolved", "digest", "run_heading",
         "slack_post", "slack_update", "slack_ephemeral", "slack_home", RECONNECT_KIND, PROBLEM_KIND)


class KindSenders(SlackSender):
    """Each kind's message: built from what the row names, then posted, edited or published."""

    charts: ChartLinks
    _covered: dict[str, list[str]]  # a home_refresh row -> the rows of its batch its render covers

    async def deliver(self, row: OutboxMessage) -> dict[str, Any]:
        handlers = {"action_card": self._card, "card_update": self._card, "home_refresh": self._homes,
                    "alert_new": self._alert, "alert_escalated": self._alert, "alert_resolved": self._resolved,
                    "digest": self._digest, "run_heading": self._heading, "slack_post": self._post, "slack_update": self._update,
                    "slack_ephemeral": self._ephemeral, "slack_home": self._home, RECONNECT_KIND: self._reconnect,
                    PROBLEM_KIND: self._channel_problem}
        return await handlers[row.kind](row)

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


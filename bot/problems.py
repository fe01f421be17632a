"""Messages Slack will never take in a channel: the admins hear about it, and App Home shows it.

When the outbox gives up on a message because Tamio can no longer post in its channel (removed from
it, the channel archived or made private: ``not_in_channel``, ``channel_not_found``, ...), retrying
cannot help, and the cards and digests after it would fail the same way unnoticed. So the failure
queues, in the same transaction that marks the message dead, one ``channel_problem`` message (at
most one a day per channel and error) that DMs every admin what happened and what to do, and a
refresh of App Home, which lists the channels that lost messages until one gets through again.

    await note_lost_channel(db, row=row, error="not_in_channel", now=now)        # in mark_failed's transaction
    problems = await lost_channels(db, account_id=account.id, since=now - timedelta(days=7))
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels import LOST_CHANNEL_ERRORS
from tamio.accounts.models import Account, Member, Role
from tamio.outbox.models import OutboxMessage
from tamio.outbox.service import enqueue

PROBLEM_KIND = "channel_problem"
WHY = {
    "not_in_channel": "Tamio isn't in that channel any more",
    "channel_not_found": "the channel is private without Tamio in it, or was deleted",
    "is_archived": "the channel is archived",
    "restricted_action": "the workspace doesn't let apps post there",
    "restricted_action_read_only_channel": "the channel is read-only",
    "team_access_not_granted": "Tamio isn't allowed in that workspace of the org",
}


@dataclass(frozen=True)
class LostChannel:
    channel: str
    error: str
    lost: int  # messages given up on
    last_at: datetime


def problem_text(channel: str, error: str, lost: int = 1) -> str:
    what = f"{lost} message{'s' if lost != 1 else ''}"
    why = WHY.get(error, error)
    return (f":warning: I couldn't post {what} to <#{channel}>: {why} (`{error}`). Invite me with `/invite @Tamio` "
            "in that channel, or choose another with `/tamio digest here` where alerts and cards should go.")


async def note_lost_channel(db: AsyncSession, *, row: OutboxMessage, error: str, now: datetime) -> bool:
    """Queue the admins' DM and a Home refresh for a message dead for good because of its channel."""
    if error not in LOST_CHANNEL_ERRORS or row.kind == PROBLEM_KIND or row.user_id is None:
        return False
    account = await db.get(Account, row.user_id)
    channel = row.channel or (account.digest_channel_id if account is not None else None)
    if account is None or not channel:
        return False
    stored = await db.get(OutboxMessage, row.id)
    if stored is not None and stored.channel is None:
        stored.channel = channel  # where it was to go, so App Home can say which channel lost it
    day = now.date().isoformat()
    added = await enqueue(db, account_id=account.id, kind=PROBLEM_KIND, payload={"channel": channel, "error": error},
                          idempotency_key=f"{PROBLEM_KIND}:{account.id}:{channel}:{error}:{day}", now=now)
    await enqueue(db, account_id=account.id, kind="home_refresh", payload={},
                  idempotency_key=f"home_refresh:{PROBLEM_KIND}:{account.id}:{channel}:{day}", now=now)
    return added


async def admins_to_tell(db: AsyncSession, *, account_id: str) -> list[str]:
    rows = await db.execute(select(Member.slack_user_id).where(
        Member.user_id == account_id, Member.role == Role.ADMIN, Member.slack_user_id.is_not(None)))
    return [str(user) for user in rows.scalars()]


async def lost_channels(db: AsyncSession, *, account_id: str, since: datetime) -> list[LostChannel]:
    """Channels whose messages died for good since ``since``, unless a message got through there after."""
    dead = (await db.execute(
        select(OutboxMessage.channel, OutboxMessage.last_error, func.count(), func.max(OutboxMessage.created_at))
        .where(OutboxMessage.user_id == account_id, OutboxMessage.status == "dead",
               OutboxMessage.last_error.in_(LOST_CHANNEL_ERRORS), OutboxMessage.created_at >= since,
               OutboxMessage.channel.is_not(None))
        .group_by(OutboxMessage.channel, OutboxMessage.last_error)
    )).all()
    found: list[LostChannel] = []
    for channel, error, lost, last_at in dead:
        recovered = (await db.execute(select(OutboxMessage.id).where(
            OutboxMessage.user_id == account_id, OutboxMessage.channel == channel, OutboxMessage.status == "delivered",
            OutboxMessage.created_at > last_at).limit(1))).first()
        if recovered is None:
            found.append(LostChannel(str(channel), str(error), int(lost), last_at))
    return sorted(found, key=lambda p: p.last_at, reverse=True)

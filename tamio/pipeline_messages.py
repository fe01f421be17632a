"""What a pipeline run posts to Slack: a scheduled run's heading, and the alerts it announces.

Split from ``tamio.pipeline`` (running detection and preparation) because this is what the run
tells people, built as outbox rows (``Outgoing``) the delivery worker sends: the heading that
says where a scheduled run's cards come from, one message per new or escalated alert and an
update for a resolved one, written now or collected for a batch to write at its end.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account
from tamio.detection.models import DetectionAlert
from tamio.outbox.service import Outgoing, enqueue_many
from tamio.preparation.models import PreparedAction

# A scheduled run says where its cards come from (issue 19.6): one message heads what it posts.
SCHEDULED_RUNS = {"pipeline": "Hourly check", "critical": "Safety check"}
HEADING_LINES = 10


def headed(account: Account, trigger: str, actions: Sequence[PreparedAction], new_alerts: Sequence[DetectionAlert],
           now: datetime) -> list[Outgoing]:
    """``[run_heading]`` when a scheduled run posts new cards or alerts ("Hourly check: 3 new things need you"), else ``[]``.

    One line per new action card, then per new alert without a card of its own (its card says it).
    The delivery worker posts a channel's rows in (next attempt, creation) order: the heading is due
    a microsecond before what it heads, so it comes first.
    """
    run = SCHEDULED_RUNS.get(trigger.partition("@")[0])
    carded = {a.alert_id for a in actions}
    lines = [a.title for a in actions] + [a.title for a in new_alerts if a.id not in carded]
    if run is None or not lines:
        return []
    things = f"{len(lines)} new thing{'s' if len(lines) != 1 else ''} need{'s' if len(lines) == 1 else ''} you"
    payload = {"title": f"{run}: {things}", "lines": lines[:HEADING_LINES], "more": max(0, len(lines) - HEADING_LINES)}
    return [Outgoing("run_heading", payload, f"heading:{account.id}:{trigger}", account.digest_channel_id,
                     due=now - timedelta(microseconds=1))]


def announcements_of(account: Account, run: Any) -> list[Outgoing]:
    """New and escalated alerts are announced once per state; resolved ones update their card."""
    channel = account.digest_channel_id
    messages = [
        Outgoing("alert_new", {"alert_id": a.id}, f"alert:{a.id}:new", channel) for a in getattr(run, "new", [])
    ]
    messages += [
        Outgoing("alert_escalated", {"alert_id": a.id, "severity": a.severity.value}, f"alert:{a.id}:escalated:{a.escalation_count}", channel)
        for a in getattr(run, "escalated", [])
    ]
    messages += [
        Outgoing("alert_resolved", {"alert_id": a.id}, f"alert:{a.id}:resolved", channel) for a in getattr(run, "resolved", [])
    ]
    return messages


async def enqueue_messages(
    db: AsyncSession, account: Account, messages: list[Outgoing], *, now: datetime, outbox: list[tuple[str | None, Outgoing]] | None,
) -> None:
    """Into the outbox now, or onto ``outbox`` for the batch to write at its end (same transaction)."""
    if outbox is None:
        await enqueue_many(db, account_id=account.id, messages=messages, now=now)
    else:
        outbox.extend((account.id, m) for m in messages)

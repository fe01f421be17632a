"""Reading actions: the list, and which option an edited draft is for (one action's whole view is
``tamio.execution.views``). Always scoped to the account.

    actions = await list_actions(db, account_id=account.id, statuses=[ActionStatus.PENDING])
    await edited_options(db, account_id=account.id, actions=[action])   # {action_id: the option its edited draft is for}
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.detection.models import AlertSeverity
from tamio.execution.models import ExecutionRecord
from tamio.preparation.models import ActionOption, ActionStatus, PreparedAction

_PENDING = PreparedAction.status == ActionStatus.PENDING
_DEADLINE = case((_PENDING, PreparedAction.deadline), else_=None)
_AMOUNT = case((_PENDING, PreparedAction.amount), else_=None)
# The one order of the action queue (Slack's /tamio actions and App Home, the API, the CLI): what waits
# for a person first, the most urgent of it first (emergency, this week, upcoming; then the nearest
# deadline; then the most money at stake, in the base currency; then the oldest); everything already
# decided after it, the most recently changed first. The amount matters because a run writes its actions
# in one batch with one timestamp: forty late invoices due today would otherwise come in id order.
QUEUE_ORDER = (
    case((_PENDING, 0), else_=1),
    case((~_PENDING, 3), (PreparedAction.severity == AlertSeverity.EMERGENCY, 0),
         (PreparedAction.severity == AlertSeverity.THIS_WEEK, 1), else_=2),
    _DEADLINE.is_(None), _DEADLINE,
    _AMOUNT.is_(None), _AMOUNT.desc(),
    case((_PENDING, PreparedAction.created_at), else_=None),
    PreparedAction.updated_at.desc(), PreparedAction.id,
)


async def count_pending(db: AsyncSession, *, account_id: str) -> int:
    """How many actions wait for a person (App Home's "Waiting for you", the CLI's run report)."""
    stmt = select(func.count()).select_from(PreparedAction).where(
        PreparedAction.user_id == account_id, PreparedAction.status == ActionStatus.PENDING
    )
    return int((await db.execute(stmt)).scalar_one())


# Records written in one call share a timestamp; this is the order they happen in.
EVENT_ORDER = {
    "draft_edited": 0, "approval": 0, "approved": 1, "skipped": 1, "superseded": 1, "expired": 1, "retry_requested": 1,
    "executing": 2, "email": 3, "attempt_failed": 4, "failed": 4, "executed": 5,
}


# Records that set an action's edited subject/body: a saved draft (Slack's Edit draft), or an approval
# that came with an edit (the API's ``edited_subject``/``edited_body``, the CLI's ``--subject``/``--body``).
EDIT_EVENTS = ("draft_edited", "approval", "approved")


def _sets_edits(event: str, result: dict[str, Any] | None) -> bool:
    return event == "draft_edited" or "edited_draft" in (result or {})


async def edited_options(db: AsyncSession, *, account_id: str, actions: Sequence[PreparedAction]) -> dict[str, str | None]:
    """For each of these actions with an edited draft, the option it was edited for.

    An action keeps one edited subject/body, written for one option's message: the option of the
    latest record that set it. ``None`` when no record says (an edit from before options were
    recorded with it): it is then taken to be the chosen option's.
    """
    edited = [a for a in actions if a.edited_subject or a.edited_body]
    if not edited:
        return {}
    rows = await db.execute(
        select(ExecutionRecord.action_id, ExecutionRecord.option_id, ExecutionRecord.event, ExecutionRecord.result, ExecutionRecord.created_at)
        .where(ExecutionRecord.user_id == account_id, ExecutionRecord.event.in_(EDIT_EVENTS),
               ExecutionRecord.action_id.in_([a.id for a in edited]))
    )
    latest: dict[str, tuple[tuple[datetime, int], str | None]] = {}
    for action_id, option_id, event, result, created_at in rows.all():
        if not _sets_edits(event, result):
            continue
        found = result or {}
        version = int(found.get("version") or (found.get("edited_draft") or {}).get("version") or 0)
        key = (created_at, version)
        if action_id not in latest or key > latest[action_id][0]:
            latest[action_id] = (key, option_id)
    return {a.id: latest[a.id][1] if a.id in latest else None for a in edited}


def edits_for(action: PreparedAction, option: ActionOption, edited_for: str | None) -> tuple[str | None, str | None]:
    """The edited (subject, body) that apply to ``option``: none when the edit was made for another option."""
    if edited_for is not None and edited_for != option.id:
        return None, None
    return action.edited_subject, action.edited_body


async def list_actions(
    db: AsyncSession, *, account_id: str, statuses: Sequence[ActionStatus] | None = None, limit: int = 50
) -> list[PreparedAction]:
    """The account's actions in the queue's order (``QUEUE_ORDER``)."""
    stmt = select(PreparedAction).where(PreparedAction.user_id == account_id)
    if statuses:
        stmt = stmt.where(PreparedAction.status.in_(list(statuses)))
    stmt = stmt.order_by(*QUEUE_ORDER).limit(limit)
    return list((await db.execute(stmt)).scalars().all())

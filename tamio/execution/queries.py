"""Reading actions for people: the list, and one action with its options, approvals and history.

For the CLI, the Slack app and the REST API alike; always scoped to the account.

    actions = await list_actions(db, account_id=account.id, statuses=[ActionStatus.PENDING])
    view = await action_view(db, account_id=account.id, action_id=action_id)
    view.approvals   # [("@maria", "opt_...", datetime)]; view.history: ExecutionRecords, oldest first
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Member
from tamio.execution.models import ActionApproval, ExecutionRecord
from tamio.execution.transitions import load_action, load_options, member_label
from tamio.preparation.models import ActionOption, ActionStatus, PreparedAction

# Records written in one call share a timestamp; this is the order they happen in.
EVENT_ORDER = {
    "draft_edited": 0, "approval": 0, "approved": 1, "skipped": 1, "superseded": 1, "expired": 1, "retry_requested": 1,
    "executing": 2, "email": 3, "attempt_failed": 4, "failed": 4, "executed": 5,
}


@dataclass(frozen=True)
class ApprovalView:
    member: str
    member_id: str
    option_id: str
    at: datetime


@dataclass(frozen=True)
class ActionView:
    action: PreparedAction
    options: tuple[ActionOption, ...]
    approvals: tuple[ApprovalView, ...]
    history: tuple[ExecutionRecord, ...]
    decided_by: str | None  # "@maria", "automation", or None while undecided

    @property
    def chosen(self) -> ActionOption | None:
        return next((o for o in self.options if o.id == self.action.chosen_option_id), None)


async def list_actions(
    db: AsyncSession, *, account_id: str, statuses: Sequence[ActionStatus] | None = None, limit: int = 50
) -> list[PreparedAction]:
    """The account's actions, the most urgent first when pending, else the most recent first."""
    stmt = select(PreparedAction).where(PreparedAction.user_id == account_id)
    if statuses:
        stmt = stmt.where(PreparedAction.status.in_(list(statuses)))
    stmt = stmt.order_by(PreparedAction.updated_at.desc(), PreparedAction.priority.desc(), PreparedAction.id).limit(limit)
    return list((await db.execute(stmt)).scalars().all())


async def action_view(db: AsyncSession, *, account_id: str, action_id: str) -> ActionView:
    action = await load_action(db, account_id=account_id, action_id=action_id)
    options = await load_options(db, action_id=action.id)
    rows = (
        await db.execute(
            select(ActionApproval, Member)
            .join(Member, Member.id == ActionApproval.member_id)
            .where(ActionApproval.action_id == action.id)
            .order_by(ActionApproval.created_at, ActionApproval.id)
        )
    ).all()
    approvals = tuple(ApprovalView(member_label(m), m.id, a.option_id, a.created_at) for a, m in rows)
    records = (await db.execute(select(ExecutionRecord).where(ExecutionRecord.action_id == action.id))).scalars().all()
    history = tuple(sorted(records, key=lambda r: (r.created_at, r.attempt, EVENT_ORDER.get(r.event, 9), r.id)))
    decided_by: str | None = None
    if action.decided_by_member_id:
        decided_by = member_label(await db.get(Member, action.decided_by_member_id))
    elif action.auto_executed:
        decided_by = "automation"
    elif action.status in (ActionStatus.SUPERSEDED, ActionStatus.EXPIRED):
        decided_by = "Tamio"
    return ActionView(action, tuple(options), approvals, history, decided_by)

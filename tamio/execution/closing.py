"""Tamio closing pending actions no one decided: superseded by a newer one, or expired at their deadline.

Split from ``tamio.execution.lifecycle`` (the decisions people make) because these are the
system's own closings, always in batches: the pipeline supersedes what today's figures replace
or what a resolved alert made moot, and the hourly job expires what passed its deadline. One
query reads the actions, one statement closes those still pending (one a person decided first
keeps their decision), and their records, audit rows and card updates go in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account
from tamio.bulk import slices
from tamio.errors import NotFound
from tamio.execution.decided import Decision
from tamio.execution.transitions import Actor, Transition, close_pending, record_transitions
from tamio.preparation.models import ActionStatus, PreparedAction


async def _close(
    db: AsyncSession, *, account: Account, action_id: str, now: datetime, to: ActionStatus, reason: str | None, extra: dict[str, str]
) -> Decision | None:
    closed = await _close_many(db, account=account, now=now, to=to, closing={action_id: (reason, extra)})
    return closed.get(action_id)


async def _close_many(
    db: AsyncSession, *, account: Account, now: datetime, to: ActionStatus, closing: Mapping[str, tuple[str | None, Mapping[str, str]]],
) -> dict[str, Decision]:
    """Close these actions of the account (id -> reason, what to add to its result) that are still
    pending; an action a person decided first keeps their decision (no entry for it). One query reads
    them, one statement closes them, and their records, audit rows and card updates go in together."""
    found = {
        a.id: a for ids in slices(list(closing)) for a in (await db.execute(
            select(PreparedAction).where(PreparedAction.id.in_(ids), PreparedAction.user_id == account.id)
            .execution_options(populate_existing=True)
        )).scalars()
    }
    missing = [i for i in closing if i not in found]
    if missing:
        raise NotFound(f"There is no action `{missing[0]}` in this account.", hint="See them with `tamio actions list`.")
    pending = [found[i] for i in closing if found[i].status == ActionStatus.PENDING]
    done = await close_pending(db, pending, to=to, now=now, reason={i: r for i, (r, _) in closing.items()},
                               extra={i: e for i, (_, e) in closing.items()})
    await record_transitions(db, [Transition(a, to.value, ActionStatus.PENDING, result=a.execution_result) for a in done],
                             actor=Actor.system(), now=now)
    verb = "superseded" if to == ActionStatus.SUPERSEDED else "expired"
    return {
        a.id: Decision(
            outcome=verb, action_id=a.id, option_id=None, approvals_given=0, approvals_required=a.approvals_required,
            decided_by="Tamio", decided_at=now, message=f"This action was {verb}" + (f": {closing[a.id][0]}." if closing[a.id][0] else "."),
            status=a.status.value,
        )
        for a in done
    }


async def supersede(
    db: AsyncSession, *, account: Account, action_id: str, now: datetime, reason: str | None = None, superseded_by: str | None = None
) -> Decision | None:
    """A newer action (or a resolved alert) replaces this pending one; ``None`` if it was decided first."""
    return (await supersede_many(db, account=account, now=now, closing={action_id: (reason, superseded_by)})).get(action_id)


async def supersede_many(
    db: AsyncSession, *, account: Account, now: datetime, closing: Mapping[str, tuple[str | None, str | None]],
) -> dict[str, Decision]:
    """``supersede`` for many actions of the account at once (id -> reason, the action replacing it):
    the decisions of those superseded (one decided first has none)."""
    extra = {i: ({"superseded_by": by} if by else {}) for i, (_, by) in closing.items()}
    return await _close_many(db, account=account, now=now, to=ActionStatus.SUPERSEDED,
                             closing={i: (reason, extra[i]) for i, (reason, _) in closing.items()})


async def expire(db: AsyncSession, *, account: Account, action_id: str, now: datetime, reason: str | None = None) -> Decision | None:
    """A pending action past its deadline expires; ``None`` if it was decided first."""
    return await _close(db, account=account, action_id=action_id, now=now, to=ActionStatus.EXPIRED, reason=reason, extra={})


async def expire_due(db: AsyncSession, *, account: Account, now: datetime) -> list[Decision]:
    """Expire every pending action of the account whose ``expires_at`` has passed (a job)."""
    return (await expire_due_many(db, accounts=[account], now=now))[account.id]


async def expire_due_many(db: AsyncSession, *, accounts: Sequence[Account], now: datetime) -> dict[str, list[Decision]]:
    """``expire_due`` for each of ``accounts`` (the hourly pass's batch): one query finds what is due
    for all, and each account's are closed together."""
    by_id = {a.id: a for a in accounts}
    due = (
        await db.execute(
            select(PreparedAction.user_id, PreparedAction.id).where(
                PreparedAction.user_id.in_(list(by_id)),
                PreparedAction.status == ActionStatus.PENDING,
                PreparedAction.expires_at.is_not(None),
                PreparedAction.expires_at <= now,
            ).order_by(PreparedAction.user_id, PreparedAction.id)
        )
    ).all()
    ids: dict[str, list[str]] = {}
    for account_id, action_id in due:
        ids.setdefault(account_id, []).append(action_id)
    found: dict[str, list[Decision]] = {i: [] for i in by_id}
    for account_id, action_ids in ids.items():
        closed = await _close_many(db, account=by_id[account_id], now=now, to=ActionStatus.EXPIRED,
                                   closing={i: ("nobody decided before its deadline", {}) for i in action_ids})
        found[account_id] = [closed[i] for i in action_ids if i in closed]
    return found


async def supersede_replaced(
    db: AsyncSession, *, account: Account, now: datetime, replaced: list[tuple[PreparedAction, PreparedAction | None]],
) -> None:
    """The stale cards superseded together; where someone decided on one first, theirs stands and its
    fresh card goes instead (not a second card)."""
    if not replaced:
        return
    done = await supersede_many(db, account=account, now=now, closing={
        old.id: ("the figures changed; a fresh card replaces it" if new else "the figures changed and there is nothing left to propose",
                 new.id if new else None)
        for old, new in replaced
    })
    beaten = [new.id for old, new in replaced if new is not None and old.id not in done]
    if beaten:
        await supersede_many(db, account=account, now=now,
                                       closing={i: ("a decision on the earlier card came first", None) for i in beaten})


async def supersede_resolved(db: AsyncSession, *, account: Account, now: datetime, resolved: list[Any]) -> None:
    """The pending actions of resolved alerts, superseded together."""
    ids = [getattr(a, "id", a) for a in resolved]
    if not ids:
        return
    actions = [
        action_id for alert_ids in slices(ids) for action_id in (await db.execute(
            select(PreparedAction.id).where(
                PreparedAction.user_id == account.id, PreparedAction.alert_id.in_(alert_ids), PreparedAction.status == ActionStatus.PENDING
            )
        )).scalars()
    ]
    if actions:
        await supersede_many(db, account=account, now=now, closing={i: ("its alert resolved", None) for i in actions})

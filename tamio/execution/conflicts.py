"""No effect twice: two actions that touch the same payment, credit line or invoice never both take effect.

What an option touches is read from its params (``touches``), so it holds whether or not
preparation linked the actions: the schedules it moves, queues, pays or chases (``schedule_ids``,
``schedule_id``, ``moves[].schedule_id``, ``payroll_schedule_id``, and the same in a plan's
``steps``; an invoice is its schedule), and the credit line it draws on or repays. A plan's
``confirm_schedule_ids`` only records a confirmation and touches nothing; two transfers between
bank accounts are independent money moves.

When an action is carried out, every other open action (pending, approved, failed, or waiting to
retry) that touches a thing its chosen option touched, or that preparation linked to it as a
``conflicts``, is superseded in the same transaction, its card updated: it was prepared on a
picture that no longer holds (the pipeline prepares a fresh one while its alert is open). Locks
are taken in one order by every finisher (the things touched, then the actions in id order), so
two conflicting executions on PostgreSQL wait for each other instead of deadlocking, and the
second finds itself superseded.

    claimed = await lock_conflicts(db, account_id=account.id, action=action, option=option)
    ... apply the option's effects ...
    await supersede_conflicts(db, action=action, option=option, conflicts=claimed, now=now)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.data.models import CashAccount, CashAccountType
from tamio.execution.transitions import Actor, compare_and_set, record_transition
from tamio.obligations.models import ObligationSchedule
from tamio.preparation.models import ActionOption, ActionStatus, LinkedAction, LinkType, PreparedAction

# Open: not yet taken effect, and could still (a failed one can be retried).
OPEN = (ActionStatus.PENDING, ActionStatus.APPROVED, ActionStatus.EXECUTING, ActionStatus.FAILED)
SCHEDULE_KEYS = ("schedule_ids", "schedule_id", "payroll_schedule_id")
WHAT = {"schedule": "the same payment", "line": "the same credit line"}


def _ids(value: Any) -> list[str]:
    if isinstance(value, str) and value:
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str) and v]
    return []


def touches(kind: str, params: Mapping[str, Any] | None, *, credit_lines: Iterable[str] = ()) -> frozenset[str]:
    """What carrying out an option of ``kind`` with ``params`` changes: ``schedule:ID`` and ``line:ID`` keys."""
    params = params or {}
    lines = set(credit_lines)
    found: set[str] = set()
    for name in SCHEDULE_KEYS:
        found.update(f"schedule:{i}" for i in _ids(params.get(name)))
    for move in params.get("moves") or []:
        if isinstance(move, Mapping):
            found.update(f"schedule:{i}" for i in _ids(move.get("schedule_id")))
    if kind == "credit_draw":
        found.update(f"line:{i}" for i in _ids(params.get("cash_account_id")))
    if kind == "transfer":  # drawing on a credit line, or repaying one (moves between bank accounts are independent)
        found.update(f"line:{i}" for name in ("from_cash_account_id", "to_cash_account_id") for i in _ids(params.get(name)) if i in lines)
    for step in params.get("steps") or []:
        if isinstance(step, Mapping):
            found |= touches(str(step.get("kind") or ""), step, credit_lines=lines)
    return frozenset(found)


@dataclass(frozen=True)
class Conflict:
    """An open action that must not take effect once ``action`` has, and why."""

    action_id: str
    reason: str


async def credit_line_ids(db: AsyncSession, *, account_id: str) -> set[str]:
    stmt = select(CashAccount.id).where(CashAccount.user_id == account_id, CashAccount.account_type == CashAccountType.CREDIT_LINE)
    return set((await db.execute(stmt)).scalars().all())


def _moves_money_between_accounts(kind: str, params: Mapping[str, Any] | None) -> bool:
    """Whether a transfer is involved (only then do credit lines need looking up)."""
    return kind == "transfer" or any(
        isinstance(step, Mapping) and _moves_money_between_accounts(str(step.get("kind") or ""), step)
        for step in (params or {}).get("steps") or []
    )


async def _touched(db: AsyncSession, *, account_id: str, option: ActionOption) -> tuple[frozenset[str], set[str]]:
    lines = await credit_line_ids(db, account_id=account_id) if _moves_money_between_accounts(option.kind, option.params) else set()
    return touches(option.kind, option.params, credit_lines=lines), lines


async def find_conflicts(
    db: AsyncSession, *, account_id: str, action: PreparedAction, option: ActionOption, touched: tuple[frozenset[str], set[str]] | None = None,
) -> list[Conflict]:
    """The account's other open actions that touch what ``option`` touches, or are linked to ``action`` as conflicting."""
    mine, lines = touched or await _touched(db, account_id=account_id, option=option)
    found: dict[str, str] = {}
    if mine:
        others = (
            await db.execute(
                select(PreparedAction.id, ActionOption.kind, ActionOption.params)
                .join(ActionOption, ActionOption.action_id == PreparedAction.id)
                .where(PreparedAction.user_id == account_id, PreparedAction.id != action.id, PreparedAction.status.in_(OPEN))
            )
        ).all()
        if any(_moves_money_between_accounts(kind, params) for _, kind, params in others) and not lines:
            lines = await credit_line_ids(db, account_id=account_id)
        for other_id, kind, params in others:
            shared = mine & touches(kind, params, credit_lines=lines)
            if shared and other_id not in found:
                what = WHAT[sorted(shared)[0].split(":", 1)[0]]
                found[other_id] = f"“{option.title}” was carried out first and changed {what}"
    linked = (
        await db.execute(
            select(LinkedAction.source_action_id, LinkedAction.target_action_id).where(
                LinkedAction.user_id == account_id, LinkedAction.link_type == LinkType.CONFLICTS,
                or_(LinkedAction.source_action_id == action.id, LinkedAction.target_action_id == action.id),
            )
        )
    ).all()
    linked_ids = {t if s == action.id else s for s, t in linked} - set(found) - {action.id}
    if linked_ids:
        still_open = (
            await db.execute(select(PreparedAction.id).where(PreparedAction.id.in_(linked_ids), PreparedAction.status.in_(OPEN)))
        ).scalars().all()
        for other_id in still_open:
            found[other_id] = f"“{option.title}” was carried out first, and the two cannot both be done"
    return [Conflict(i, r) for i, r in sorted(found.items())]


async def lock_conflicts(db: AsyncSession, *, account_id: str, action: PreparedAction, option: ActionOption) -> list[Conflict]:
    """Lock what ``option`` touches, then this action and its conflicting ones (id order); returns the conflicts.

    Every finisher locks in this order, so two that touch the same payment queue up on it. SQLite
    needs no row locks (``BEGIN IMMEDIATE`` serialises writers); ``FOR UPDATE`` is a no-op there.
    An option that touches nothing and has no conflicting link costs one query.
    """
    touched = await _touched(db, account_id=account_id, option=option)
    keys = sorted(touched[0])
    schedule_ids = [k.split(":", 1)[1] for k in keys if k.startswith("schedule:")]
    line_ids = [k.split(":", 1)[1] for k in keys if k.startswith("line:")]
    if schedule_ids:
        await db.execute(select(ObligationSchedule.id).where(ObligationSchedule.user_id == account_id, ObligationSchedule.id.in_(schedule_ids))
                         .order_by(ObligationSchedule.id).with_for_update())
    if line_ids:
        await db.execute(select(CashAccount.id).where(CashAccount.user_id == account_id, CashAccount.id.in_(line_ids))
                         .order_by(CashAccount.id).with_for_update())
    conflicts = await find_conflicts(db, account_id=account_id, action=action, option=option, touched=touched)
    if conflicts:
        ids = sorted({action.id, *(c.action_id for c in conflicts)})
        await db.execute(select(PreparedAction.id).where(PreparedAction.id.in_(ids)).order_by(PreparedAction.id).with_for_update())
    return conflicts


async def supersede_conflicts(
    db: AsyncSession, *, action: PreparedAction, conflicts: Iterable[Conflict], now: datetime
) -> list[str]:
    """Supersede each conflicting action still open (its card is updated); returns their ids."""
    superseded = []
    for conflict in conflicts:
        other = (
            await db.execute(
                select(PreparedAction).where(PreparedAction.id == conflict.action_id, PreparedAction.user_id == action.user_id)
                .execution_options(populate_existing=True)
            )
        ).scalars().first()
        if other is None or other.status not in OPEN:
            continue
        before = other.status
        result = {**(other.execution_result or {}), "reason": conflict.reason, "superseded_by": action.id}
        if not await compare_and_set(db, other, to=ActionStatus.SUPERSEDED, now=now, next_attempt_at=None, execution_result=result):
            continue
        await record_transition(db, action=other, event="superseded", from_status=before, actor=Actor.system(), now=now,
                                result={"reason": conflict.reason, "superseded_by": action.id})
        superseded.append(other.id)
    return superseded

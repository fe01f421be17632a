"""The one way a PreparedAction changes status: a compare-and-set in the database, recorded twice.

Every transition is ``UPDATE prepared_actions SET status=:to, version=:v+1 ... WHERE id=:id AND
user_id=:account AND status=:expected AND version=:v``; a rowcount of 0 means someone else changed
the action first (on PostgreSQL the UPDATE waits for their row lock, then re-reads the row; on
SQLite ``BEGIN IMMEDIATE`` already serialises writers), so exactly one of two simultaneous clicks
wins. Each successful transition writes an ExecutionRecord (the action's own history), an audit
row (the account's tamper-evident trail) and the outbox rows of its Slack effects (the card is
updated in place, App Home refreshed), all in the caller's transaction: whichever edge made the
change (Slack, the REST API, the CLI, an automation rule, the scheduler), Slack shows it.

ExecutionRecord events: ``approval`` (one of two approvals given), ``approved``, ``skipped``,
``superseded``, ``expired``, ``executing`` (an attempt started), ``attempt_failed``, ``executed``,
``failed``, ``retry_requested``, and ``email`` (the idempotency ledger of one outgoing email).

    action = await load_action(db, account_id=account.id, action_id=action_id)
    if await compare_and_set(db, action, to=ActionStatus.SKIPPED, now=now, decided_at=now):
        await record_transition(db, action=action, event="skipped", from_status="pending", actor=Actor.member(m), now=now)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from tamio.accounts.models import Member
from tamio.audit.service import AuditEntry, AuditService, to_jsonable
from tamio.bulk import insert_objects, slices
from tamio.db import core_table, new_id
from tamio.errors import NotFound
from tamio.execution.models import ExecutionRecord
from tamio.outbox.service import Outgoing, enqueue_for_accounts, enqueue_many
from tamio.preparation.models import ActionOption, ActionStatus, PreparedAction


@dataclass(frozen=True)
class Actor:
    """Who caused a transition: a member, an automation rule, or Tamio itself (``system``)."""

    kind: str  # "member", "automation" or "system"
    member_id: str | None = None
    label: str = "Tamio"
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def member(cls, member: Member) -> Actor:
        return cls("member", member.id, member_label(member))

    @classmethod
    def automation(cls, rule_id: str, rule_name: str) -> Actor:
        return cls("automation", None, "automation", {"rule_id": rule_id, "rule": rule_name})

    @classmethod
    def system(cls) -> Actor:
        return cls("system", None, "Tamio")

    @property
    def audit_name(self) -> str:
        return self.member_id or self.kind


def member_label(member: Member | None) -> str:
    """How people are named in messages: ``@maria`` (or a Slack mention when there is no name)."""
    if member is None:
        return "someone"
    if member.display_name:
        return f"@{member.display_name.lstrip('@')}"
    if member.slack_user_id:
        return f"<@{member.slack_user_id}>"
    return "a member"


async def load_action(db: AsyncSession, *, account_id: str, action_id: str) -> PreparedAction:
    """The action as it is in the database now; an id of another account is ``NotFound``."""
    stmt = (
        select(PreparedAction)
        .where(PreparedAction.id == action_id, PreparedAction.user_id == account_id)
        .execution_options(populate_existing=True)
    )
    action = (await db.execute(stmt)).scalars().first()
    if action is None:
        raise NotFound(f"There is no action `{action_id}` in this account.", hint="See them with `tamio actions list`.")
    return action


async def load_options(db: AsyncSession, *, action_id: str) -> list[ActionOption]:
    stmt = select(ActionOption).where(ActionOption.action_id == action_id).order_by(ActionOption.rank)
    return list((await db.execute(stmt)).scalars().all())


async def load_option(db: AsyncSession, *, action: PreparedAction, option_id: str) -> ActionOption:
    """An option of this action (an option id of another action is ``NotFound``)."""
    stmt = select(ActionOption).where(ActionOption.id == option_id, ActionOption.action_id == action.id)
    option = (await db.execute(stmt)).scalars().first()
    if option is None:
        raise NotFound(f"`{option_id}` is not one of the options of this action.", hint="Choose one of the options shown on its card.")
    return option


async def compare_and_set(
    db: AsyncSession,
    action: PreparedAction,
    *,
    to: ActionStatus,
    now: datetime,
    expected_status: ActionStatus | None = None,
    expected_version: int | None = None,
    **values: Any,
) -> bool:
    """Move ``action`` to ``to`` if nobody changed it since it was read; refreshes it on success."""
    status = expected_status or action.status
    version = action.version if expected_version is None else expected_version
    stmt = (
        update(PreparedAction)
        .where(
            PreparedAction.id == action.id,
            PreparedAction.user_id == action.user_id,
            PreparedAction.status == status,
            PreparedAction.version == version,
        )
        .values(status=to, version=version + 1, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    result = cast(CursorResult[Any], await db.execute(stmt))
    if result.rowcount != 1:
        return False
    await db.refresh(action)
    return True


async def close_pending(
    db: AsyncSession, actions: Sequence[PreparedAction], *, to: ActionStatus, now: datetime, reason: Mapping[str, str | None],
    extra: Mapping[str, Mapping[str, str]],
) -> list[PreparedAction]:
    """Close many pending actions of one account at once (superseded, expired): the compare-and-set's
    many-row form, ``UPDATE ... WHERE id IN (...) AND status = 'pending'`` bumping each version,
    then each one's execution_result merged with its ``extra`` and ``reason`` as the row holds it
    (the first statement locked the rows on PostgreSQL; SQLite's writer holds the database). An
    action someone decided first is not pending and is left alone. Returns those closed, refreshed."""
    if not actions:
        return []
    table = core_table(PreparedAction)
    closed_rows = [row for ids in slices([a.id for a in actions]) for row in (await db.execute(
        update(table)
        .where(table.c.id.in_(ids), table.c.user_id == actions[0].user_id, table.c.status == ActionStatus.PENDING)
        .values(status=to, version=table.c.version + 1, updated_at=now, decided_at=now)
        .returning(table.c.id, table.c.version, table.c.execution_result)
    )).all()]
    closed = {row.id: row for row in closed_rows}
    results: dict[str, dict[str, Any]] = {}
    for action_id, row in closed.items():
        merged = {**(row.execution_result or {}), **extra.get(action_id, {})}
        if reason.get(action_id):
            merged["reason"] = reason[action_id]
        results[action_id] = merged
    if results:
        await db.execute(
            update(table).where(table.c.id == bindparam("closing_id")).values(execution_result=bindparam("closing_result")),
            [{"closing_id": i, "closing_result": r} for i, r in results.items()],
        )
    done = [a for a in actions if a.id in closed]
    for action in done:
        for name, value in (("status", to), ("version", closed[action.id].version), ("updated_at", now), ("decided_at", now),
                            ("execution_result", results[action.id])):
            set_committed_value(action, name, value)
    return done


@dataclass(frozen=True)
class Transition:
    """One transition that just happened, for ``record_transitions``."""

    action: PreparedAction
    event: str
    from_status: ActionStatus | str | None
    option_id: str | None = None
    attempt: int = 0
    result: dict[str, Any] | None = None
    error: str | None = None


async def record_transition(
    db: AsyncSession,
    *,
    action: PreparedAction,
    event: str,
    from_status: ActionStatus | str | None,
    actor: Actor,
    now: datetime,
    option_id: str | None = None,
    attempt: int = 0,
    result: dict[str, Any] | None = None,
    error: str | None = None,
    audit_action: str = "decide",
) -> ExecutionRecord:
    """The ExecutionRecord, the audit row and the Slack effects of a transition that just happened."""
    transition = Transition(action, event, from_status, option_id=option_id, attempt=attempt, result=result, error=error)
    [record] = await record_transitions(db, [transition], actor=actor, now=now, audit_action=audit_action)
    return record


async def record_transitions(
    db: AsyncSession, transitions: Sequence[Transition], *, actor: Actor, now: datetime, audit_action: str = "decide",
) -> list[ExecutionRecord]:
    """``record_transition`` for many transitions by one actor: the records in one statement, the
    audit rows chained in one pass per account (``AuditService.log_many``), the outbox rows in one."""
    await db.flush()  # what the caller changed goes first, as it did when each record was flushed
    rows: list[dict[str, Any]] = []
    entries: dict[str, list[AuditEntry]] = {}
    messages: list[tuple[str | None, Outgoing]] = []
    for t in transitions:
        before = t.from_status.value if isinstance(t.from_status, ActionStatus) else t.from_status
        details = {**actor.details, **(t.result or {})}
        row = {
            "id": new_id("exr"), "user_id": t.action.user_id, "action_id": t.action.id, "option_id": t.option_id, "event": t.event,
            "from_status": before, "to_status": t.action.status.value, "actor_member_id": actor.member_id, "actor_kind": actor.kind,
            "attempt": t.attempt, "result": to_jsonable(details), "error": t.error, "created_at": now,
        }
        rows.append(row)
        changes: dict[str, Any] = {"event": t.event, "from": before, "to": t.action.status.value, "record_id": row["id"]}
        if t.option_id:
            changes["option_id"] = t.option_id
        if t.error:
            changes["error"] = t.error[:500]
        if details:
            changes["details"] = details
        entries.setdefault(t.action.user_id, []).append(AuditEntry(audit_action, "prepared_action", t.action.id, changes))
        messages += [(t.action.user_id, m) for m in slack_effects(t.action)]
    records = await insert_objects(db, ExecutionRecord, rows)
    for account_id, logged in entries.items():
        await AuditService(db, account_id, actor=actor.audit_name, clock=lambda: now).log_many(logged)
    await enqueue_for_accounts(db, messages, now=now)
    return records


def slack_effects(action: PreparedAction) -> list[Outgoing]:
    """The outbox rows of a change to an action: the card updated in place, and App Home refreshed.

    Keyed by the action's version, so each change is shown once however often it is retried; the
    delivery worker renders a card as it is when sent, and App Home once per account for all the
    refreshes waiting (``bot.delivery``).
    """
    key = f"{action.id}:v{action.version}"
    return [Outgoing("card_update", {"action_id": action.id}, f"card_update:{key}"),
            Outgoing("home_refresh", {"action_id": action.id}, f"home_refresh:{key}")]


async def show_in_slack(db: AsyncSession, *, action: PreparedAction, now: datetime) -> None:
    """Outbox rows, in the change's transaction, for a change to ``action`` (``slack_effects``)."""
    await enqueue_many(db, account_id=action.user_id, messages=slack_effects(action), now=now)


async def decision_records(db: AsyncSession, *, action_id: str) -> list[ExecutionRecord]:
    stmt = (
        select(ExecutionRecord)
        .where(ExecutionRecord.action_id == action_id)
        .order_by(ExecutionRecord.created_at, ExecutionRecord.id)
    )
    return list((await db.execute(stmt)).scalars().all())

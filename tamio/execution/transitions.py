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

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Member
from tamio.audit.service import AuditService, to_jsonable
from tamio.errors import NotFound
from tamio.execution.models import ExecutionRecord
from tamio.outbox.service import enqueue
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
    """The ExecutionRecord and the audit row of a transition that just happened."""
    before = from_status.value if isinstance(from_status, ActionStatus) else from_status
    details = {**actor.details, **(result or {})}
    record = ExecutionRecord(
        user_id=action.user_id,
        action_id=action.id,
        option_id=option_id,
        event=event,
        from_status=before,
        to_status=action.status.value,
        actor_member_id=actor.member_id,
        actor_kind=actor.kind,
        attempt=attempt,
        result=to_jsonable(details),
        error=error,
        created_at=now,
    )
    db.add(record)
    await db.flush()
    changes: dict[str, Any] = {"event": event, "from": before, "to": action.status.value, "record_id": record.id}
    if option_id:
        changes["option_id"] = option_id
    if error:
        changes["error"] = error[:500]
    if details:
        changes["details"] = details
    await AuditService(db, action.user_id, actor=actor.audit_name, clock=lambda: now).log(
        audit_action, "prepared_action", action.id, changes
    )
    await show_in_slack(db, action=action, now=now)
    return record


async def show_in_slack(db: AsyncSession, *, action: PreparedAction, now: datetime) -> None:
    """Outbox rows, in the change's transaction: the card updated in place, and App Home refreshed.

    Keyed by the action's version, so each change is shown once however often it is retried; the
    delivery worker renders a card as it is when sent, and App Home once per account for all the
    refreshes waiting (``bot.delivery``).
    """
    key = f"{action.id}:v{action.version}"
    await enqueue(db, account_id=action.user_id, kind="card_update", payload={"action_id": action.id},
                  idempotency_key=f"card_update:{key}", now=now)
    await enqueue(db, account_id=action.user_id, kind="home_refresh", payload={"action_id": action.id},
                  idempotency_key=f"home_refresh:{key}", now=now)


async def decision_records(db: AsyncSession, *, action_id: str) -> list[ExecutionRecord]:
    stmt = (
        select(ExecutionRecord)
        .where(ExecutionRecord.action_id == action_id)
        .order_by(ExecutionRecord.created_at, ExecutionRecord.id)
    )
    return list((await db.execute(stmt)).scalars().all())

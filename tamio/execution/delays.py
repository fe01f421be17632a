"""A delay asked of a vendor becomes real when the vendor agrees: one function for the card, the API and the CLI.

An approved ``delay_payment`` that notifies the vendor only records the request on its schedules
(``delay_requested_to``): the forecast keeps each payment on its date, less certain. ``agree_delay``
moves them to the dates asked for, notes the delay in the vendor's history, records who marked it
agreed on the action, and updates its card and App Home, in the caller's transaction. Approvers and
admins; a second click finds nothing waiting (``Conflict``).

    moved = await agree_delay(db, account=account, member=maria, action_id="act_1", today=today, now=now)
    [(m["from"], m["to"]) for m in moved]   # [("2026-12-10", "2026-12-24")]
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account, Member
from tamio.accounts.permissions import Operation, check
from tamio.audit.service import AuditService, to_jsonable
from tamio.data.models import ExpenseBucket
from tamio.errors import Conflict
from tamio.execution.executors.schedules import move_schedule
from tamio.execution.transitions import load_action, show_in_slack
from tamio.obligations.models import ObligationAgreement, ObligationSchedule


async def requested_delays(db: AsyncSession, *, account_id: str, action_id: str) -> list[ObligationSchedule]:
    """The schedules whose delay this action asked for and nobody has marked agreed yet."""
    stmt = (
        select(ObligationSchedule)
        .where(ObligationSchedule.user_id == account_id, ObligationSchedule.delay_requested_by == action_id,
               ObligationSchedule.delay_requested_to.is_not(None))
        .order_by(ObligationSchedule.due_date, ObligationSchedule.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list((await db.execute(stmt)).scalars().all())


async def agree_delay(
    db: AsyncSession, *, account: Account, member: Member | None, action_id: str, today: date, now: datetime, token: bool = False,
) -> list[dict[str, Any]]:
    """Move the payments the action asked the vendor to delay; returns what moved (from, to, amount)."""
    check(member.role if member else None, Operation.APPROVE, doing="mark a delay agreed", token=token)
    assert member is not None
    action = await load_action(db, account_id=account.id, action_id=action_id)
    schedules = await requested_delays(db, account_id=account.id, action_id=action.id)
    if not schedules:
        agreed = (action.execution_result or {}).get("delay_agreed")
        raise Conflict("No delay of this action is waiting for the vendor's agreement" + (" (it was already marked agreed)." if agreed else "."),
                       hint="`tamio actions show ACTION_ID` says what it did.")
    audit = AuditService(db, account.id, actor=member.id, clock=lambda: now)
    moved = []
    for schedule in schedules:
        agreement = await db.get(ObligationAgreement, schedule.obligation_id)
        vendor = await db.get(ExpenseBucket, agreement.expense_bucket_id) if agreement and agreement.expense_bucket_id else None
        assert schedule.delay_requested_to is not None
        moved.append(await move_schedule(audit, schedule, vendor, schedule.delay_requested_to, action_id=action.id, today=today, now=now))
    result = dict(action.execution_result or {})
    effects = dict(result.get("effects") or {})
    effects["moved"] = [*(effects.get("moved") or []), *moved]
    agreed_ids = {m["schedule_id"] for m in moved}
    effects["requested"] = [r for r in effects.get("requested") or [] if r.get("schedule_id") not in agreed_ids]
    result.update(effects=effects, delay_agreed={"member_id": member.id, "at": now, "moved": len(moved)})
    action.execution_result = to_jsonable(result)
    action.version += 1
    action.updated_at = now
    await db.flush()
    await audit.log_update("prepared_action", action.id, {"delay_agreed": (None, now)})
    await show_in_slack(db, action=action, now=now)
    return moved

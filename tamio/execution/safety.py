"""Safety invariants no configuration can break: payroll and tax are decided by people and never moved.

- No option delays or moves a payroll or tax obligation, whatever its vendor's category:
  preparation never offers one (``PreparationContext.can_delay``) and the delay executor refuses
  one (``executors.schedules.refuse_protected``).
- Nothing touching payroll or tax is carried out by an automation rule (``touches_payroll_or_tax``,
  checked by ``automation.maybe_auto_execute`` before it approves anything): not a payroll or
  statutory action, not an option that pays, queues, delays or chases a payroll or tax schedule,
  not a plan with such a step, whichever rule is switched on.
- Dual control measures the money the chosen option moves (``lifecycle.amount_at_stake``).

    if await touches_payroll_or_tax(db, account_id=account.id, action=action, option=option):
        ...  # a person decides
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.data.models import ExpenseBucket
from tamio.execution.conflicts import touches
from tamio.obligations.models import NEVER_DELAYED, ObligationAgreement, ObligationSchedule
from tamio.preparation.models import ActionOption, ActionType, PreparedAction

PROTECTED_TYPES = NEVER_DELAYED
PROTECTED_CATEGORIES = frozenset({"payroll", "tax", "statutory"})
PROTECTED_ACTIONS = frozenset({ActionType.PAYROLL_CONTINGENCY, ActionType.PAYROLL_CONFIRMATION, ActionType.STATUTORY_PAYMENT})


def schedule_ids(option: ActionOption) -> list[str]:
    """Every schedule the option would change or chase, its plan's steps included."""
    found = touches(option.kind, option.params) | touches("", {"schedule_ids": (option.params or {}).get("confirm_schedule_ids")})
    return sorted(k.split(":", 1)[1] for k in found if k.startswith("schedule:"))


async def touches_payroll_or_tax(db: AsyncSession, *, account_id: str, action: PreparedAction, option: ActionOption) -> bool:
    """Whether carrying out ``option`` would touch payroll or tax (so no automation rule may)."""
    if action.action_type in PROTECTED_ACTIONS or "payroll" in (action.tags or []):
        return True
    if option.counterparty_type == "expense_bucket" and option.counterparty_id:
        vendor = await db.get(ExpenseBucket, option.counterparty_id)
        if vendor is not None and vendor.user_id == account_id and vendor.category.value in PROTECTED_CATEGORIES:
            return True
    ids = schedule_ids(option)
    if not ids:
        return False
    rows = (
        await db.execute(
            select(ObligationAgreement.obligation_type, ExpenseBucket.category)
            .join(ObligationSchedule, ObligationSchedule.obligation_id == ObligationAgreement.id)
            .outerjoin(ExpenseBucket, ExpenseBucket.id == ObligationAgreement.expense_bucket_id)
            .where(ObligationSchedule.user_id == account_id, ObligationSchedule.id.in_(ids))
        )
    ).all()
    return any(kind in PROTECTED_TYPES or (category is not None and category.value in PROTECTED_CATEGORIES) for kind, category in rows)

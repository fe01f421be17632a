"""Automation rules: which prepared actions may execute without waiting for a person.

The defaults are the design document's table, created with every account. Payroll is locked to
manual approval by an admin; no setting can make it automatic.

    rule = await find_matching_rule(db, account_id=..., action_type="payment_batch", amount=Decimal("900"), tags=[])
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account
from tamio.execution.models import ExecutionAutomationRule


@dataclass(frozen=True)
class DefaultRule:
    action_type: str
    threshold: Decimal | None = None
    excluded_tags: tuple[str, ...] = ()
    included_tags: tuple[str, ...] = ()
    is_locked: bool = False
    notes: str = ""


DEFAULT_RULES = (
    DefaultRule("invoice_follow_up", excluded_tags=("strategic",), notes="Exclude strategic clients"),
    DefaultRule("payment_batch", threshold=Decimal("10000"), notes="Below threshold only"),
    DefaultRule("vendor_delay", included_tags=("flexible",), notes='Only "flexible" vendors'),
    DefaultRule("statutory_payment", notes="Always manual"),
    DefaultRule("payroll", is_locked=True, notes="LOCKED - never auto"),
    DefaultRule("excess_allocation", notes="Always manual"),
)


async def create_default_rules(db: AsyncSession, *, account: Account) -> list[ExecutionAutomationRule]:
    existing = set(
        (await db.execute(select(ExecutionAutomationRule.action_type).where(ExecutionAutomationRule.user_id == account.id))).scalars()
    )
    rules = []
    for default in DEFAULT_RULES:
        if default.action_type in existing:
            continue
        rule = ExecutionAutomationRule(
            user_id=account.id,
            action_type=default.action_type,
            auto_execute=False,
            threshold_amount=default.threshold,
            threshold_currency=account.base_currency if default.threshold is not None else None,
            excluded_tags=list(default.excluded_tags),
            included_tags=list(default.included_tags),
            require_approval=True,
            is_locked=default.is_locked,
            notes=default.notes,
        )
        db.add(rule)
        rules.append(rule)
    await db.flush()
    return rules

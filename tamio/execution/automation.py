"""Automation rules: which prepared actions may execute without waiting for a person.

The defaults are the design document's table, created with every account. Payroll is locked to
manual approval by an admin; no setting can make it automatic, and no rule carries out anything
that touches a payroll or tax payment (``safety.touches_payroll_or_tax``). Action types map to rules by
``policy.RULE_FOR_ACTION`` (payment_reminder -> invoice_follow_up, payroll_* -> payroll, ...).
A rule acts alone when ``auto_execute`` is on, the amount is below its threshold (compared in
the rule's currency), its tags allow it, the action needs no dual control, and the option it
would carry out is the work the rule is named for (a payment-batch rule never draws credit;
``policy.rule_verdict``); it then approves as "automation" and says so.

    rule = await update_rule(db, account=account, member=admin, action_type="payment_batch", now=now, auto_execute=True)
    decision = await maybe_auto_execute(db, account=account, action=action, now=now, settings=settings)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account, Member
from tamio.audit.service import AuditService
from tamio.config import Settings
from tamio.currency.service import RateBook
from tamio.errors import LockedRule, MissingExchangeRate, NotFound, PermissionDenied, ValidationError
from tamio.execution import policy
from tamio.execution.lifecycle import Decision, amount_at_stake
from tamio.execution.models import ExecutionAutomationRule
from tamio.execution.safety import touches_payroll_or_tax
from tamio.execution.service import execute_in_session
from tamio.execution.transitions import Actor, compare_and_set, load_options, record_transition
from tamio.money import format_money, normalize_currency, parse_amount
from tamio.preparation.models import ActionStatus, PreparedAction


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


# -- matching, updating and acting on rules ------------------------------------------------------

RULE_FIELDS = frozenset(
    {"auto_execute", "require_approval", "threshold_amount", "threshold_currency", "excluded_tags", "included_tags", "notes"}
)


def rule_terms(rule: ExecutionAutomationRule) -> policy.RuleTerms:
    return policy.RuleTerms(
        action_type=rule.action_type,
        auto_execute=rule.auto_execute,
        require_approval=rule.require_approval,
        threshold_amount=rule.threshold_amount,
        threshold_currency=rule.threshold_currency,
        included_tags=tuple(rule.included_tags or ()),
        excluded_tags=tuple(rule.excluded_tags or ()),
        is_locked=rule.is_locked,
    )


async def list_rules(db: AsyncSession, *, account_id: str) -> list[ExecutionAutomationRule]:
    stmt = select(ExecutionAutomationRule).where(ExecutionAutomationRule.user_id == account_id).order_by(ExecutionAutomationRule.action_type)
    return list((await db.execute(stmt)).scalars().all())


async def get_rule(db: AsyncSession, *, account_id: str, action_type: str) -> ExecutionAutomationRule | None:
    """The rule that governs ``action_type`` (an action type or a rule name), if the account has one."""
    name = policy.rule_name_for(action_type)
    if name is None:
        return None
    stmt = select(ExecutionAutomationRule).where(
        ExecutionAutomationRule.user_id == account_id, ExecutionAutomationRule.action_type == name
    )
    return (await db.execute(stmt)).scalars().first()


async def find_matching_rule(
    db: AsyncSession,
    *,
    account: Account,
    action_type: str,
    amount: Decimal | None,
    currency: str | None,
    tags: list[str],
    on_date: date,
) -> ExecutionAutomationRule | None:
    """The enabled rule that lets an action of this type, amount and tags run without a person."""
    rule = await get_rule(db, account_id=account.id, action_type=action_type)
    if rule is None:
        return None
    verdict = await _verdict(db, account=account, rule=rule, amount=amount, currency=currency, tags=tags, on_date=on_date)
    return rule if verdict.allowed else None


async def _verdict(
    db: AsyncSession, *, account: Account, rule: ExecutionAutomationRule, amount: Decimal | None, currency: str | None,
    tags: list[str], on_date: date, option_kind: str | None = None,
) -> policy.RuleVerdict:
    currency = currency or account.base_currency
    in_base = in_rule = amount
    try:
        book = await RateBook.load(db, {currency, account.base_currency, rule.threshold_currency or currency}, on_date,
                                   account_id=account.id)
        if amount is not None:
            in_base = book.convert(amount, currency, account.base_currency, on_date).amount
            in_rule = book.convert(amount, currency, rule.threshold_currency or currency, on_date).amount
    except MissingExchangeRate:
        return policy.RuleVerdict(False, f"there is no rate to compare {currency} with the rule's {rule.threshold_currency}")
    except ValidationError:  # past the amount limit once converted: never automatic
        return policy.RuleVerdict(False, "the amount is past what Tamio takes once converted")
    dual = policy.approvals_required(in_base, threshold=account.dual_approval_threshold) > 1
    return policy.rule_verdict(rule_terms(rule), amount=in_rule, tags=tags, needs_dual_control=dual, option_kind=option_kind)


async def update_rule(
    db: AsyncSession, *, account: Account, member: Member, action_type: str, now: datetime, **changes: Any
) -> ExecutionAutomationRule:
    """Change a rule (admins only). The payroll rule is locked: ``LockedRule``, whoever asks."""
    rule = await get_rule(db, account_id=account.id, action_type=action_type)
    if rule is None:
        raise NotFound(f"There is no automation rule for `{action_type}`.", hint=f"Rules: {', '.join(sorted(policy.RULE_NAMES))}.")
    if rule.is_locked or policy.is_payroll(rule.action_type):
        raise LockedRule(policy.LOCKED_RULE_MESSAGE)
    if member.user_id != account.id:
        raise PermissionDenied("You are not a member of this account.")
    policy.check_can_change_rules(member.role)
    unknown = set(changes) - RULE_FIELDS
    if unknown:
        raise ValidationError(
            f"A rule has no {', '.join(sorted(unknown))}; you can change {', '.join(sorted(RULE_FIELDS))}.",
            field_errors={name: "unknown field" for name in unknown},
        )
    values = _clean(rule, changes)
    diff = {name: (getattr(rule, name), value) for name, value in values.items() if getattr(rule, name) != value}
    for name, (_, value) in diff.items():
        setattr(rule, name, value)
    if diff:
        rule.updated_at = now
        await db.flush()
        await AuditService(db, account.id, actor=member.id, clock=lambda: now).log_update("automation_rule", rule.id, diff)
    return rule


def describe_rule(rule: ExecutionAutomationRule, *, base_currency: str) -> str:
    """How a rule reads for people (the CLI and Slack): "automatic · below $10,000.00 · only flexible"."""
    if rule.is_locked:
        state = "LOCKED: an admin approves"
    else:
        state = "automatic" if rule.auto_execute else "asks a person"
    limit = (f"below {format_money(rule.threshold_amount, rule.threshold_currency or base_currency)}"
             if rule.threshold_amount is not None else "any amount")
    tags = [f"only {', '.join(rule.included_tags)}" if rule.included_tags else "", f"not {', '.join(rule.excluded_tags)}" if rule.excluded_tags else ""]
    return " · ".join(p for p in (state, limit, *tags) if p)


def _clean(rule: ExecutionAutomationRule, changes: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in ("auto_execute", "require_approval"):
        if name in changes:
            if not isinstance(changes[name], bool):
                raise ValidationError(f"`{name}` is true or false.", field_errors={name: "true or false"})
            values[name] = changes[name]
    # The two flags say one thing: turning automation on stops requiring approval, and back.
    if "auto_execute" in values and "require_approval" not in values:
        values["require_approval"] = not values["auto_execute"]
    elif "require_approval" in values and "auto_execute" not in values:
        values["auto_execute"] = not values["require_approval"] and rule.auto_execute
    if values.get("auto_execute") and values.get("require_approval"):
        raise ValidationError("A rule cannot both run actions by itself and require approval; choose one.")
    if "threshold_amount" in changes:
        raw = changes["threshold_amount"]
        values["threshold_amount"] = None if raw in (None, "") else _amount(raw)
    if "threshold_currency" in changes:
        values["threshold_currency"] = normalize_currency(str(changes["threshold_currency"])) if changes["threshold_currency"] else None
    if values.get("threshold_amount") is not None and not (values.get("threshold_currency") or rule.threshold_currency):
        raise ValidationError("A threshold needs a currency.", field_errors={"threshold_currency": "e.g. USD"})
    for name in ("excluded_tags", "included_tags"):
        if name in changes:
            tags = changes[name] or []
            if isinstance(tags, str):
                tags = [t for t in tags.split(",")]
            values[name] = sorted({str(t).strip().lower() for t in tags if str(t).strip()})
    if "notes" in changes:
        values["notes"] = str(changes["notes"] or "")[:300]
    return values


def _amount(raw: Any) -> Decimal:
    text = format(raw, "f") if isinstance(raw, Decimal) else str(raw)
    return parse_amount(text, allow_zero=True, field="threshold_amount").quantize(Decimal("0.001"))


async def maybe_auto_execute(
    db: AsyncSession, *, account: Account, action: PreparedAction, now: datetime, settings: Settings | None = None
) -> Decision | None:
    """Approve a fresh action on behalf of a matching rule, and carry it out when it can be done here.

    Called by the pipeline after preparing an action, in its transaction. Payroll never matches.
    With ``settings``, an option with only database effects is carried out in the same
    transaction; one that sends email stays approved and goes out through ``execute_action``
    after the commit (the resume job), so no email leaves from inside a transaction.
    """
    if action.user_id != account.id or action.status != ActionStatus.PENDING:
        return None
    if not account.is_active:  # its workspace removed Tamio: nothing is carried out on its behalf
        return None
    if policy.needs_admin(action.action_type.value, requires_admin=action.requires_admin):
        return None
    rule = await get_rule(db, account_id=account.id, action_type=action.action_type.value)
    options = await load_options(db, action_id=action.id)
    if rule is None or not options:
        return None
    option = options[0]
    if await touches_payroll_or_tax(db, account_id=account.id, action=action, option=option):
        return None  # whichever rule is on: payroll and tax are decided by a person (``safety``)
    today = now.astimezone(ZoneInfo(account.timezone)).date()
    at_stake = await amount_at_stake(db, account=account, action=action, option=option, now=now)
    verdict = await _verdict(db, account=account, rule=rule, amount=at_stake, currency=account.base_currency, tags=list(action.tags or []),
                             on_date=today, option_kind=option.kind)
    if at_stake is None or not verdict.allowed:
        return None
    if not await compare_and_set(db, action, to=ActionStatus.APPROVED, now=now, chosen_option_id=option.id, decided_at=now, auto_executed=True):
        return None
    await record_transition(
        db, action=action, event="approved", from_status=ActionStatus.PENDING, actor=Actor.automation(rule.id, rule.action_type),
        now=now, option_id=option.id, result={"reason": verdict.reason},
    )
    rule_name = rule.action_type.replace("_", " ")
    done = await execute_in_session(db, account=account, action=action, now=now, settings=settings) if settings is not None else None
    if done is not None and done.status == ActionStatus.EXECUTED.value:
        message = f"Done automatically under your {rule_name} rule: {option.title}."
    else:
        message = f"Approved automatically under your {rule_name} rule: {option.title}. Tamio is carrying it out now."
    return Decision(
        outcome="auto_executed", action_id=action.id, option_id=option.id, approvals_given=0, approvals_required=0,
        decided_by="automation", decided_at=now, message=message, status=(done.status if done else action.status.value),
    )

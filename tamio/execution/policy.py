"""Who may decide what, how many approvals an action needs, and when a rule may act alone.

Pure functions over plain values, so the approval policy reads (and is tested) as the business
states it:

- viewers see; approvers approve and skip; admins also change configuration and automation rules;
- dual control: an action whose amount in the base currency is at or above the account's
  ``dual_approval_threshold`` needs two *different* approvers before it executes;
- payroll actions (``payroll_contingency``, ``payroll_confirmation``) are decided by an admin, by
  hand, always: no rule, setting or role below admin can change that (when one also needs dual
  control, an approver may give the second approval after an admin's first);
- an automation rule acts alone only when it is switched on, the amount is below its threshold
  (in the rule's currency), the tags allow it, the action does not need dual control, and the
  option it would carry out is the kind of work the rule is named for.

    approvals_required(Decimal("12000"), threshold=Decimal("10000"))   # 2
    rule_verdict(RuleTerms(auto_execute=True, threshold_amount=Decimal("10000"), ...),
                 amount=Decimal("900"), tags=["routine"], needs_dual_control=False).allowed   # True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from tamio.accounts.models import Role
from tamio.accounts.permissions import Operation, a_role, allows
from tamio.errors import PermissionDenied

PAYROLL_ACTION_TYPES = frozenset({"payroll_contingency", "payroll_confirmation"})
PAYROLL_RULE = "payroll"

# Which automation rule governs each action type (design: "V4 Execution Automation Rules").
# ``None``: no rule, always decided by a person.
RULE_FOR_ACTION: Mapping[str, str | None] = MappingProxyType(
    {
        "invoice_follow_up": "invoice_follow_up",
        "payment_reminder": "invoice_follow_up",
        "collection_escalation": "invoice_follow_up",
        "payment_batch": "payment_batch",
        "payment_prioritization": "payment_batch",
        "vendor_delay": "vendor_delay",
        "statutory_payment": "statutory_payment",
        "payroll_contingency": PAYROLL_RULE,
        "payroll_confirmation": PAYROLL_RULE,
        "excess_cash_allocation": "excess_allocation",
        "credit_line_draw": None,
        "invoice_generation": None,
    }
)
RULE_NAMES = frozenset(
    {"invoice_follow_up", "payment_batch", "vendor_delay", "statutory_payment", PAYROLL_RULE, "excess_allocation"}
)
# What each rule may carry out by itself: the work it is named for. An action offers options of
# several kinds (a buffer response: delay vendors, chase a client, or draw on the credit line); a
# rule for payment batches must not draw credit because a draw ranked first.
RULE_OPTION_KINDS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "invoice_follow_up": frozenset({"send_email"}),
        "payment_batch": frozenset({"queue_payments", "delay_payment"}),
        "vendor_delay": frozenset({"delay_payment"}),
        "statutory_payment": frozenset({"record_statutory_payment"}),
        "excess_allocation": frozenset({"transfer"}),
        PAYROLL_RULE: frozenset(),
    }
)
OPTION_KIND_WORDS: Mapping[str, str] = MappingProxyType(
    {
        "send_email": "send an email", "queue_payments": "queue payments", "delay_payment": "delay a payment",
        "record_statutory_payment": "pay a statutory payment", "transfer": "move money", "credit_draw": "draw on a credit line",
        "confirm_plan": "carry out a plan", "adjust_forecast": "change the forecast",
    }
)

PAYROLL_NEEDS_ADMIN = "Payroll actions need an admin's approval, always."
LOCKED_RULE_MESSAGE = "Payroll actions always need an admin's approval; this rule is locked."


def rule_name_for(action_type: str) -> str | None:
    """The rule that governs an action type (``payroll_contingency`` -> ``payroll``), or ``None``."""
    if action_type in RULE_NAMES:
        return action_type
    return RULE_FOR_ACTION.get(action_type)


def is_payroll(action_type: str) -> bool:
    return action_type in PAYROLL_ACTION_TYPES or action_type == PAYROLL_RULE


def needs_admin(action_type: str, *, requires_admin: bool = False) -> bool:
    return requires_admin or is_payroll(action_type)


def check_can_decide(
    role: Role | None, *, action_type: str, requires_admin: bool = False, doing: str = "approve", admin_approved: bool = False
) -> None:
    """Approvers and admins decide; payroll (or anything marked ``requires_admin``) is for admins only.

    ``admin_approved``: an admin has already given the first of two approvals (dual control), so an
    approver may give the second; a team with one admin would otherwise be stuck.
    """
    if needs_admin(action_type, requires_admin=requires_admin) and not (admin_approved and doing == "approve"):
        if not allows(role, Operation.DECIDE_PAYROLL):
            what = PAYROLL_NEEDS_ADMIN if is_payroll(action_type) else "This action needs an admin's approval."
            raise PermissionDenied(
                f"{what} You can't {doing} it as {_a(role)}.",
                hint="Ask an admin of this account to decide on it.",
            )
        return
    if not allows(role, Operation.APPROVE):
        raise PermissionDenied(
            f"Only approvers and admins can {doing} actions; you are {_a(role)}.",
            hint="An admin can give you the role with `/tamio role @you approver`.",
        )


def check_can_change_rules(role: Role | None) -> None:
    if not allows(role, Operation.CHANGE_SETTINGS):
        raise PermissionDenied(
            f"Only admins can change automation rules; you are {_a(role)}.",
            hint="Ask an admin of this account to change it.",
        )


def _a(role: Role | None) -> str:
    return a_role(role)


def approvals_required(amount_in_base: Decimal | None, *, threshold: Decimal) -> int:
    """Two approvals at or above the dual-approval threshold, one below (no amount: one)."""
    if amount_in_base is None:
        return 1
    return 2 if abs(amount_in_base) >= threshold else 1


@dataclass(frozen=True)
class RuleTerms:
    """An automation rule's conditions, as plain values."""

    action_type: str
    auto_execute: bool
    require_approval: bool = True
    threshold_amount: Decimal | None = None
    threshold_currency: str | None = None
    included_tags: tuple[str, ...] = ()
    excluded_tags: tuple[str, ...] = ()
    is_locked: bool = False


@dataclass(frozen=True)
class RuleVerdict:
    allowed: bool
    reason: str


def _tags(values: Iterable[str]) -> set[str]:
    return {str(v).strip().lower() for v in values if str(v).strip()}


def rule_verdict(
    rule: RuleTerms, *, amount: Decimal | None, tags: Iterable[str], needs_dual_control: bool, option_kind: str | None = None
) -> RuleVerdict:
    """Whether ``rule`` lets an action run without a person; ``amount`` is in the rule's currency.

    ``option_kind``: what the option it would carry out does; a rule only does the work it is named
    for (``RULE_OPTION_KINDS``). The reasons are written for the person reading why an action
    waited for them.
    """
    if is_payroll(rule.action_type) or rule.is_locked:
        return RuleVerdict(False, "payroll always waits for an admin")
    if not rule.auto_execute or rule.require_approval:
        return RuleVerdict(False, f"automation is off for {rule.action_type.replace('_', ' ')}")
    if option_kind is not None and option_kind not in RULE_OPTION_KINDS.get(rule.action_type, frozenset()):
        doing = OPTION_KIND_WORDS.get(option_kind, option_kind.replace("_", " "))
        return RuleVerdict(False, f"its first option would {doing}, which the {rule.action_type.replace('_', ' ')} rule does not do alone")
    if needs_dual_control:
        return RuleVerdict(False, "it is above the dual-approval threshold, so two people must approve it")
    if rule.threshold_amount is not None:
        if amount is None:
            return RuleVerdict(False, "it has no amount to compare with the rule's threshold")
        if abs(amount) >= rule.threshold_amount:
            return RuleVerdict(False, f"it is not below the rule's threshold of {rule.threshold_amount} {rule.threshold_currency or ''}".rstrip())
    have = _tags(tags)
    excluded = have & _tags(rule.excluded_tags)
    if excluded:
        return RuleVerdict(False, f"it is tagged {', '.join(sorted(excluded))}, which the rule excludes")
    included = _tags(rule.included_tags)
    if included and not have & included:
        return RuleVerdict(False, f"the rule only covers {', '.join(sorted(included))}")
    return RuleVerdict(True, "the rule allows it")

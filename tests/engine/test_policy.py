"""The approval policy as the business states it: roles, dual control, payroll, automation rules."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tamio.accounts.models import Role
from tamio.errors import PermissionDenied
from tamio.execution.policy import (
    RULE_FOR_ACTION,
    RuleTerms,
    approvals_required,
    check_can_change_rules,
    check_can_decide,
    rule_name_for,
    rule_verdict,
)
from tamio.preparation.models import ActionType

TEN_K = Decimal("10000")


def test_every_action_type_maps_to_its_rule_or_to_people() -> None:
    assert set(RULE_FOR_ACTION) == {t.value for t in ActionType}
    assert rule_name_for("payment_reminder") == "invoice_follow_up"
    assert rule_name_for("collection_escalation") == "invoice_follow_up"
    assert rule_name_for("payment_prioritization") == "payment_batch"
    assert rule_name_for("payroll_contingency") == rule_name_for("payroll_confirmation") == "payroll"
    assert rule_name_for("excess_cash_allocation") == "excess_allocation"
    assert rule_name_for("credit_line_draw") is None and rule_name_for("invoice_generation") is None
    assert rule_name_for("payment_batch") == "payment_batch"  # a rule name is its own rule


@pytest.mark.parametrize(("amount", "needed"), [("9999.99", 1), ("10000", 2), ("250000", 2), ("0", 1), (None, 1), ("-12000", 2)])
def test_dual_control_starts_at_the_threshold(amount: str | None, needed: int) -> None:
    assert approvals_required(Decimal(amount) if amount is not None else None, threshold=TEN_K) == needed


def test_viewers_see_approvers_decide() -> None:
    with pytest.raises(PermissionDenied, match="Only approvers and admins can approve actions; you are a viewer"):
        check_can_decide(Role.VIEWER, action_type="invoice_follow_up")
    with pytest.raises(PermissionDenied, match="not a member"):
        check_can_decide(None, action_type="invoice_follow_up", doing="skip")
    check_can_decide(Role.APPROVER, action_type="invoice_follow_up")
    check_can_decide(Role.ADMIN, action_type="vendor_delay", doing="skip")


@pytest.mark.parametrize("action_type", ["payroll_contingency", "payroll_confirmation"])
def test_payroll_is_for_admins_only(action_type: str) -> None:
    with pytest.raises(PermissionDenied, match="Payroll actions need an admin's approval, always. You can't approve it as an approver."):
        check_can_decide(Role.APPROVER, action_type=action_type)
    check_can_decide(Role.ADMIN, action_type=action_type)


def test_after_an_admins_first_approval_an_approver_may_give_the_second() -> None:
    check_can_decide(Role.APPROVER, action_type="payroll_contingency", admin_approved=True)
    with pytest.raises(PermissionDenied, match="you are a viewer"):
        check_can_decide(Role.VIEWER, action_type="payroll_contingency", admin_approved=True)
    with pytest.raises(PermissionDenied, match="Payroll actions need an admin's approval"):
        check_can_decide(Role.APPROVER, action_type="payroll_contingency", doing="skip", admin_approved=True)


def test_an_action_marked_for_admins_needs_an_admin() -> None:
    with pytest.raises(PermissionDenied, match="needs an admin's approval"):
        check_can_decide(Role.APPROVER, action_type="credit_line_draw", requires_admin=True)


def test_only_admins_change_rules() -> None:
    for role in (Role.VIEWER, Role.APPROVER, None):
        with pytest.raises(PermissionDenied, match="Only admins can change automation rules"):
            check_can_change_rules(role)
    check_can_change_rules(Role.ADMIN)


BATCH = RuleTerms("payment_batch", auto_execute=True, require_approval=False, threshold_amount=TEN_K, threshold_currency="USD")


def test_a_rule_acts_below_its_threshold_only() -> None:
    assert rule_verdict(BATCH, amount=Decimal("9999.99"), tags=[], needs_dual_control=False).allowed
    above = rule_verdict(BATCH, amount=TEN_K, tags=[], needs_dual_control=False)
    assert not above.allowed and "not below the rule's threshold of 10000 USD" in above.reason
    assert not rule_verdict(BATCH, amount=None, tags=[], needs_dual_control=False).allowed


def test_a_rule_that_is_off_or_asks_for_approval_never_acts() -> None:
    off = RuleTerms("payment_batch", auto_execute=False)
    assert not rule_verdict(off, amount=Decimal("1"), tags=[], needs_dual_control=False).allowed
    asks = RuleTerms("payment_batch", auto_execute=True, require_approval=True)
    assert not rule_verdict(asks, amount=Decimal("1"), tags=[], needs_dual_control=False).allowed


def test_tags_include_and_exclude() -> None:
    follow_up = RuleTerms("invoice_follow_up", auto_execute=True, require_approval=False, excluded_tags=("strategic",))
    assert rule_verdict(follow_up, amount=Decimal("500"), tags=["Routine"], needs_dual_control=False).allowed
    excluded = rule_verdict(follow_up, amount=Decimal("500"), tags=["Strategic"], needs_dual_control=False)
    assert not excluded.allowed and "tagged strategic" in excluded.reason
    vendors = RuleTerms("vendor_delay", auto_execute=True, require_approval=False, included_tags=("flexible",))
    assert rule_verdict(vendors, amount=Decimal("500"), tags=["flexible", "software"], needs_dual_control=False).allowed
    assert not rule_verdict(vendors, amount=Decimal("500"), tags=["critical"], needs_dual_control=False).allowed
    assert not rule_verdict(vendors, amount=Decimal("500"), tags=[], needs_dual_control=False).allowed


def test_a_rule_carries_out_only_the_kind_of_work_it_is_named_for() -> None:
    batch = RuleTerms("payment_batch", auto_execute=True, require_approval=False)
    for kind in ("queue_payments", "delay_payment"):
        assert rule_verdict(batch, amount=Decimal("500"), tags=[], needs_dual_control=False, option_kind=kind).allowed
    draw = rule_verdict(batch, amount=Decimal("500"), tags=[], needs_dual_control=False, option_kind="credit_draw")
    assert not draw.allowed and draw.reason == "its first option would draw on a credit line, which the payment batch rule does not do alone"
    follow_up = RuleTerms("invoice_follow_up", auto_execute=True, require_approval=False)
    assert rule_verdict(follow_up, amount=Decimal("500"), tags=[], needs_dual_control=False, option_kind="send_email").allowed
    assert not rule_verdict(follow_up, amount=Decimal("500"), tags=[], needs_dual_control=False, option_kind="delay_payment").allowed


def test_no_rule_bypasses_dual_control_or_payroll() -> None:
    generous = RuleTerms("payment_batch", auto_execute=True, require_approval=False)
    assert not rule_verdict(generous, amount=Decimal("50000"), tags=[], needs_dual_control=True).allowed
    payroll = RuleTerms("payroll", auto_execute=True, require_approval=False, is_locked=False)
    verdict = rule_verdict(payroll, amount=Decimal("1"), tags=[], needs_dual_control=False)
    assert not verdict.allowed and "payroll" in verdict.reason

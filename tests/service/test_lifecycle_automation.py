"""Automation rules: the default table, who may change them, and actions that run without waiting."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.audit.models import AuditLog
from tamio.errors import LockedRule, PermissionDenied, ValidationError
from tamio.execution.automation import get_rule, list_rules, maybe_auto_execute, update_rule
from tamio.execution.models import ExecutionAutomationRule, ExecutionRecord
from tamio.execution.service import execute_action
from tamio.obligations.models import ObligationAgreement, ObligationSchedule, ScheduleStatus
from tamio.preparation.models import ActionStatus
from tests.service.execution_factories import (
    NOW,
    Mailbox,
    Team,
    count_records,
    email_option,
    make_action,
    option,
    settings_for,
)

LOCKED = "Payroll actions always need an admin's approval; this rule is locked."


async def test_every_account_starts_with_the_design_documents_rules(session: AsyncSession) -> None:
    team = await Team.open(session)
    rules = {r.action_type: r for r in await list_rules(session, account_id=team.account.id)}
    assert set(rules) == {"invoice_follow_up", "payment_batch", "vendor_delay", "statutory_payment", "payroll", "excess_allocation"}
    assert not any(r.auto_execute for r in rules.values())
    assert (rules["payment_batch"].threshold_amount, rules["payment_batch"].threshold_currency) == (Decimal("10000"), "USD")
    assert rules["invoice_follow_up"].excluded_tags == ["strategic"] and rules["vendor_delay"].included_tags == ["flexible"]
    assert [r.action_type for r in rules.values() if r.is_locked] == ["payroll"]


@pytest.mark.parametrize("name", ["payroll", "payroll_contingency", "payroll_confirmation"])
async def test_the_payroll_rule_is_locked_for_everyone(session: AsyncSession, name: str) -> None:
    team = await Team.open(session)
    for member in (team.ada, team.maria):
        with pytest.raises(LockedRule) as refused:
            await update_rule(session, account=team.account, member=member, action_type=name, auto_execute=True, now=NOW)
        assert str(refused.value) == LOCKED and refused.value.status == 409
    rule = await get_rule(session, account_id=team.account.id, action_type="payroll")
    assert rule is not None and not rule.auto_execute


async def test_only_admins_change_rules_and_each_change_is_audited(session: AsyncSession) -> None:
    team = await Team.open(session)
    with pytest.raises(PermissionDenied, match="Only admins can change automation rules; you are an approver"):
        await update_rule(session, account=team.account, member=team.maria, action_type="payment_batch", auto_execute=True, now=NOW)
    rule = await update_rule(
        session, account=team.account, member=team.ada, action_type="payment_reminder", auto_execute=True,
        excluded_tags="Strategic, key-account", now=NOW,
    )
    assert (rule.action_type, rule.auto_execute, rule.require_approval, rule.excluded_tags) == (
        "invoice_follow_up", True, False, ["key-account", "strategic"],
    )
    audit = (await session.execute(select(AuditLog).where(AuditLog.entity_id == rule.id))).scalars().all()
    assert len(audit) == 1 and audit[0].actor == team.ada.id and set(audit[0].changes["changes"]) >= {"auto_execute", "require_approval"}
    with pytest.raises(ValidationError, match="A rule has no is_locked"):
        await update_rule(session, account=team.account, member=team.ada, action_type="payment_batch", is_locked=True, now=NOW)
    with pytest.raises(ValidationError, match="couldn.t read the amount `lots`"):
        await update_rule(session, account=team.account, member=team.ada, action_type="payment_batch", threshold_amount="lots", now=NOW)


async def _batch(session: AsyncSession, team: Team, amount: str, **fields: object) -> tuple[str, str]:
    vendor = await team.books.expense(f"Vendor {amount}", amount, team.books.every("once", date(2026, 12, 18)))
    schedule = (
        await session.execute(
            select(ObligationSchedule).join(ObligationAgreement, ObligationAgreement.id == ObligationSchedule.obligation_id)
            .where(ObligationAgreement.expense_bucket_id == vendor.id)
        )
    ).scalar_one()
    action = await make_action(session, team.account, "payment_batch", amount=amount, options=[option("queue_payments", {"schedule_ids": [schedule.id]}, amount=amount)], **fields)  # type: ignore[arg-type]
    return action.id, schedule.id


async def test_a_payment_batch_below_the_threshold_runs_by_itself_and_says_so(session: AsyncSession) -> None:
    team = await Team.open(session)
    await update_rule(session, account=team.account, member=team.ada, action_type="payment_batch", auto_execute=True, now=NOW)
    small_id, small_schedule = await _batch(session, team, "900")
    large_id, large_schedule = await _batch(session, team, "10000")
    settings = settings_for()

    from tamio.execution.transitions import load_action

    small = await load_action(session, account_id=team.account.id, action_id=small_id)
    decision = await maybe_auto_execute(session, account=team.account, action=small, now=NOW, settings=settings)
    assert decision is not None and (decision.outcome, decision.decided_by, decision.status) == ("auto_executed", "automation", "executed")
    assert decision.message == "Done automatically under your payment batch rule: queue payments."
    large = await load_action(session, account_id=team.account.id, action_id=large_id)
    assert await maybe_auto_execute(session, account=team.account, action=large, now=NOW, settings=settings) is None
    await session.commit()

    statuses = {s.id: s.status for s in (await session.execute(select(ObligationSchedule).where(ObligationSchedule.id.in_([small_schedule, large_schedule])))).scalars()}
    assert statuses == {small_schedule: ScheduleStatus.QUEUED, large_schedule: ScheduleStatus.SCHEDULED}
    assert large.status == ActionStatus.PENDING and small.status == ActionStatus.EXECUTED and small.auto_executed
    approved = (await session.execute(select(ExecutionRecord).where(ExecutionRecord.action_id == small_id, ExecutionRecord.event == "approved"))).scalar_one()
    assert (approved.actor_kind, approved.actor_member_id, approved.result["rule"]) == ("automation", None, "payment_batch")
    assert await count_records(session, small_id, "executed") == 1


async def test_a_rule_only_does_the_work_it_is_named_for(session: AsyncSession) -> None:
    # A buffer response (payment_prioritization, under the payment batch rule) whose first option draws credit waits for a person.
    team = await Team.open(session)
    await update_rule(session, account=team.account, member=team.ada, action_type="payment_batch", auto_execute=True, now=NOW)
    line = {"cash_account_id": "cash_x", "amount": "900"}
    action = await make_action(session, team.account, "payment_prioritization", amount="900",
                               options=[option("credit_draw", line, amount="900"), option("delay_payment", {"schedule_ids": ["s"]}, amount="900")])
    assert await maybe_auto_execute(session, account=team.account, action=action, now=NOW, settings=settings_for()) is None
    assert action.status == ActionStatus.PENDING and await count_records(session, action.id, "approved") == 0


async def test_no_rule_bypasses_dual_control(session: AsyncSession) -> None:
    team = await Team.open(session)
    await update_rule(session, account=team.account, member=team.ada, action_type="payment_batch", auto_execute=True, threshold_amount="50000", now=NOW)
    action_id, _ = await _batch(session, team, "12000")
    from tamio.execution.transitions import load_action

    action = await load_action(session, account_id=team.account.id, action_id=action_id)
    assert await maybe_auto_execute(session, account=team.account, action=action, now=NOW, settings=settings_for()) is None


async def test_the_threshold_is_compared_in_the_rules_currency(session: AsyncSession) -> None:
    team = await Team.open(session)
    await team.books.rate("EUR", "USD", "1.10")
    await update_rule(
        session, account=team.account, member=team.ada, action_type="payment_batch", auto_execute=True,
        threshold_amount=Decimal("5000"), threshold_currency="EUR", now=NOW,
    )
    below, _ = await _batch(session, team, "5400")  # EUR 4,909.09
    above, _ = await _batch(session, team, "5600")  # EUR 5,090.91
    from tamio.execution.transitions import load_action

    results = {}
    for action_id in (below, above):
        action = await load_action(session, account_id=team.account.id, action_id=action_id)
        results[action_id] = await maybe_auto_execute(session, account=team.account, action=action, now=NOW, settings=settings_for())
    assert results[below] is not None and results[above] is None


async def test_strategic_clients_are_never_chased_automatically(session_factory: async_sessionmaker[AsyncSession]) -> None:
    with Mailbox() as mailbox:
        settings = settings_for(mailbox.port)
        async with session_factory() as session, session.begin():
            team = await Team.open(session)
            await update_rule(session, account=team.account, member=team.ada, action_type="invoice_follow_up", auto_execute=True, now=NOW)
            routine = await make_action(session, team.account, "payment_reminder", options=[email_option(to="ap@routine.test")], tags=("transactional",))
            strategic = await make_action(session, team.account, "payment_reminder", options=[email_option(to="ap@key.test")], tags=("strategic",))
            auto = await maybe_auto_execute(session, account=team.account, action=routine, now=NOW, settings=settings)
            manual = await maybe_auto_execute(session, account=team.account, action=strategic, now=NOW, settings=settings)
        assert manual is None and auto is not None and auto.outcome == "auto_executed"
        assert auto.status == "approved" and auto.message.endswith("Tamio is carrying it out now.")  # no email from inside a transaction
        assert mailbox.messages == []
        outcome = await execute_action(session_factory, account_id=team.account.id, action_id=routine.id, now=NOW, settings=settings)
        assert outcome.status == "executed" and outcome.message.startswith("Done automatically")
        assert [m["To"] for m in mailbox.messages] == ["ap@routine.test"]


async def test_payroll_never_runs_by_itself_even_if_the_row_is_tampered_with(session: AsyncSession) -> None:
    team = await Team.open(session)
    await session.execute(
        update(ExecutionAutomationRule).where(ExecutionAutomationRule.user_id == team.account.id).values(
            auto_execute=True, require_approval=False, is_locked=False, threshold_amount=None, included_tags=[], excluded_tags=[]
        )
    )
    payroll = await make_action(session, team.account, "payroll_confirmation", amount="100", options=[option("confirm_plan", {"steps": []})])
    draw = await make_action(session, team.account, "credit_line_draw", amount="100", options=[option("credit_draw", {})])
    for action in (payroll, draw):
        assert await maybe_auto_execute(session, account=team.account, action=action, now=NOW, settings=settings_for()) is None
        assert action.status == ActionStatus.PENDING


async def test_rules_are_off_by_default(session: AsyncSession) -> None:
    team = await Team.open(session)
    action_id, _ = await _batch(session, team, "100")
    from tamio.execution.transitions import load_action

    action = await load_action(session, account_id=team.account.id, action_id=action_id)
    assert await maybe_auto_execute(session, account=team.account, action=action, now=NOW, settings=settings_for()) is None


async def test_an_automatic_action_that_cannot_be_done_inline_is_left_approved_and_then_fails_visibly(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session, session.begin():
        team = await Team.open(session)
        await update_rule(session, account=team.account, member=team.ada, action_type="payment_batch", auto_execute=True, now=NOW)
        action_id, schedule_id = await _batch(session, team, "700")
        await session.execute(update(ObligationSchedule).where(ObligationSchedule.id == schedule_id).values(status=ScheduleStatus.PAID))
        from tamio.execution.transitions import load_action

        action = await load_action(session, account_id=team.account.id, action_id=action_id)
        decision = await maybe_auto_execute(session, account=team.account, action=action, now=NOW, settings=settings_for())
        assert decision is not None and decision.status == "approved" and action.status == ActionStatus.APPROVED
        assert await count_records(session, action_id, "executing", "executed") == 0  # the savepoint undid the attempt
    outcome = await execute_action(session_factory, account_id=team.account.id, action_id=action_id, now=NOW, settings=settings_for())
    assert outcome.status == "failed" and outcome.error and re.fullmatch(r"The payment of \$700\.00 due [A-Z][a-z]{2} \d{2} [A-Z][a-z]{2} is already paid, so it was not queued\.", outcome.error)

"""Approving and skipping prepared actions: one decision wins, and the others are told who, what and when."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.accounts.service import get_member_by_id
from tamio.audit.models import AuditLog
from tamio.audit.verify import verify_chain
from tamio.errors import Conflict, NotFound, PermissionDenied, ValidationError
from tamio.execution.closing import expire_due, supersede, supersede_many
from tamio.execution.lifecycle import AlreadyDecided, approve, skip
from tamio.execution.models import ActionApproval, ExecutionRecord
from tamio.outbox.models import OutboxMessage
from tamio.preparation.models import ActionStatus, PreparedAction
from tests.service.execution_factories import (
    NOW,
    Team,
    count_records,
    email_option,
    first_option,
    later,
    make_action,
    option,
    options_of,
    settings_for,
)


async def test_an_approval_records_who_when_which_option_and_an_audit_row(session: AsyncSession) -> None:
    team = await Team.open(session)
    action = await make_action(session, team.account, options=[email_option(), email_option(to="boss@client.test")])
    second = (await options_of(session, action))[1]
    await session.commit()

    decision = await approve(session, account=team.account, member=team.maria, action_id=action.id, option_id=second.id, now=NOW, settings=settings_for())
    await session.commit()

    assert (decision.outcome, decision.approvals_given, decision.approvals_required) == ("approved", 1, 1)
    assert decision.decided_by == "@maria" and decision.decided_at == NOW and decision.option_id == second.id
    assert "Tamio will carry it out now" in decision.message
    await session.refresh(action)
    assert (action.status, action.chosen_option_id, action.decided_by_member_id, action.decided_at) == (
        ActionStatus.APPROVED, second.id, team.maria.id, NOW,
    )
    record = (await session.execute(select(ExecutionRecord).where(ExecutionRecord.action_id == action.id))).scalar_one()
    assert (record.event, record.from_status, record.to_status, record.actor_member_id, record.option_id) == (
        "approved", "pending", "approved", team.maria.id, second.id,
    )
    audit = (await session.execute(select(AuditLog).where(AuditLog.entity_id == action.id))).scalar_one()
    assert (audit.action, audit.actor, audit.changes["event"]) == ("decide", team.maria.id, "approved")
    assert (await verify_chain(session, account_id=team.account.id)).ok


async def test_the_second_click_is_told_who_decided_and_when(session: AsyncSession) -> None:
    team = await Team.open(session, timezone="America/New_York")
    action = await make_action(session, team.account)
    opt = await first_option(session, action)
    await session.commit()
    await approve(session, account=team.account, member=team.maria, action_id=action.id, option_id=opt.id, now=NOW, settings=settings_for())
    await session.commit()

    with pytest.raises(AlreadyDecided) as lost:
        await skip(session, account=team.account, member=team.li, action_id=action.id, now=later(3))
    assert str(lost.value) == "@maria already approved this at 05:42."  # 10:42 UTC in New York
    assert (lost.value.outcome, lost.value.decided_at, lost.value.decided_by_member_id) == ("approved", NOW, team.maria.id)
    assert lost.value.decided_by_slack_user_id == team.maria.slack_user_id and lost.value.status == 409
    with pytest.raises(AlreadyDecided, match=r"^You already approved this at 05:42\.$"):
        await approve(session, account=team.account, member=team.maria, action_id=action.id, option_id=opt.id, now=later(1), settings=settings_for())
    with pytest.raises(AlreadyDecided, match=r"@maria already approved this at 05:42 on 7 Dec\."):
        await approve(session, account=team.account, member=team.li, action_id=action.id, option_id=opt.id, now=later(60 * 24), settings=settings_for())
    assert await count_records(session, action.id, "approved", "skipped") == 1


async def test_a_skip_wins_the_same_way(session: AsyncSession) -> None:
    team = await Team.open(session)
    action = await make_action(session, team.account)
    opt = await first_option(session, action)
    await session.commit()
    decision = await skip(session, account=team.account, member=team.li, action_id=action.id, now=NOW, reason="we spoke to them by phone")
    await session.commit()
    assert decision.outcome == "skipped" and decision.message == "@li skipped this: we spoke to them by phone"
    with pytest.raises(AlreadyDecided, match=r"^@li already skipped this at 10:42\.$"):
        await approve(session, account=team.account, member=team.maria, action_id=action.id, option_id=opt.id, now=later(5), settings=settings_for())
    await session.refresh(action)
    assert action.status == ActionStatus.SKIPPED and action.execution_result["reason"] == "we spoke to them by phone"


async def test_simultaneous_clicks_one_wins(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with session_factory() as session, session.begin():
        team = await Team.open(session)
        action = await make_action(session, team.account)
        opt = await first_option(session, action)
    clicks = (("approve", team.maria.id), ("skip", team.li.id), ("approve", team.ada.id), ("approve", team.maria.id))
    everyone_ready = asyncio.Barrier(len(clicks))

    async def click(kind: str, member_id: str) -> object:
        async with session_factory() as session:
            async with session.begin():
                member = await get_member_by_id(session, account_id=team.account.id, member_id=member_id)
            await everyone_ready.wait()  # all four click at once
            try:
                async with session.begin():
                    if kind == "approve":
                        return await approve(session, account=team.account, member=member, action_id=action.id, option_id=opt.id, now=NOW, settings=settings_for())
                    return await skip(session, account=team.account, member=member, action_id=action.id, now=NOW)
            except AlreadyDecided as exc:
                return exc

    results = await asyncio.gather(*(click(k, m) for k, m in clicks))
    winners = [r for r in results if not isinstance(r, AlreadyDecided)]
    losers = [r for r in results if isinstance(r, AlreadyDecided)]
    assert len(winners) == 1 and len(losers) == 3
    assert {loser.outcome for loser in losers} == {winners[0].outcome}  # type: ignore[attr-defined]
    async with session_factory() as session:
        assert await count_records(session, action.id, "approved", "skipped") == 1


async def test_an_edited_draft_is_kept_with_the_decision(session: AsyncSession) -> None:
    team = await Team.open(session)
    action = await make_action(session, team.account)
    opt = await first_option(session, action)
    await session.commit()
    await approve(
        session, account=team.account, member=team.maria, action_id=action.id, option_id=opt.id, now=NOW,
        edited_subject=opt.draft_subject, edited_body="Hi Jo, a friendly nudge about INV-1. Thanks!", settings=settings_for()
    )
    await session.commit()
    await session.refresh(action)
    assert action.edited_subject is None  # unchanged, so not an edit
    assert action.edited_body == "Hi Jo, a friendly nudge about INV-1. Thanks!"
    record = (await session.execute(select(ExecutionRecord).where(ExecutionRecord.action_id == action.id))).scalar_one()
    assert record.result["edited_draft"]["body"] == "Hi Jo, a friendly nudge about INV-1. Thanks!"


async def test_a_draft_can_only_be_edited_where_there_is_one(session: AsyncSession) -> None:
    team = await Team.open(session)
    action = await make_action(session, team.account, "payment_batch", options=[option("queue_payments", {"schedule_ids": ["sch_x"]})])
    opt = await first_option(session, action)
    with pytest.raises(ValidationError, match="sends no message"):
        await approve(session, account=team.account, member=team.maria, action_id=action.id, option_id=opt.id, now=NOW, edited_body="hello", settings=settings_for())


async def test_an_option_of_another_action_is_refused(session: AsyncSession) -> None:
    team = await Team.open(session)
    mine = await make_action(session, team.account)
    other = await make_action(session, team.account)
    foreign = await first_option(session, other)
    with pytest.raises(NotFound, match="not one of the options"):
        await approve(session, account=team.account, member=team.maria, action_id=mine.id, option_id=foreign.id, now=NOW, settings=settings_for())


async def test_dual_control_needs_two_different_approvers(session: AsyncSession) -> None:
    team = await Team.open(session)
    action = await make_action(session, team.account, "payment_batch", amount="12000", options=[option("queue_payments", {"schedule_ids": ["s"]}), option("queue_payments", {"schedule_ids": ["t"]})])
    first, second = await options_of(session, action)
    await session.commit()

    one = await approve(session, account=team.account, member=team.maria, action_id=action.id, option_id=first.id, now=NOW, settings=settings_for())
    await session.commit()
    assert (one.outcome, one.approvals_given, one.approvals_required, one.status) == ("awaiting_second_approval", 1, 2, "pending")
    assert "1 of 2 approvals" in one.message and "$10,000.00 or more need a second approver" in one.message

    with pytest.raises(Conflict, match=r"You already approved this; it needs a different approver \(1 of 2 approvals\)"):
        await approve(session, account=team.account, member=team.maria, action_id=action.id, option_id=first.id, now=later(1), settings=settings_for())
    with pytest.raises(Conflict, match="@maria approved option 1, .* the second approval must be for the same option"):
        await approve(session, account=team.account, member=team.li, action_id=action.id, option_id=second.id, now=later(1), settings=settings_for())

    two = await approve(session, account=team.account, member=team.li, action_id=action.id, option_id=first.id, now=later(2), settings=settings_for())
    await session.commit()
    assert (two.outcome, two.approvals_given, two.approvals_required) == ("approved", 2, 2)
    assert two.message.startswith("@maria and @li approved option 1") and "(2 of 2 approvals)" in two.message
    assert await count_records(session, action.id, "approval") == 1
    assert await count_records(session, action.id, "approved") == 1
    count = (await session.execute(select(func.count()).select_from(ActionApproval).where(ActionApproval.action_id == action.id))).scalar_one()
    assert count == 2


async def test_dual_control_converts_to_the_base_currency(session: AsyncSession) -> None:
    team = await Team.open(session)
    await team.books.rate("EUR", "USD", "1.10")
    small = await make_action(session, team.account, amount="9000", currency="EUR")  # $9,900
    large = await make_action(session, team.account, amount="9500", currency="EUR")  # $10,450
    for action, needed in ((small, 1), (large, 2)):
        opt = await first_option(session, action)
        decision = await approve(session, account=team.account, member=team.maria, action_id=action.id, option_id=opt.id, now=NOW, settings=settings_for())
        assert decision.approvals_required == needed


async def test_the_option_amount_counts_too(session: AsyncSession) -> None:
    team = await Team.open(session)
    action = await make_action(session, team.account, "credit_line_draw", amount="3000", options=[option("credit_draw", {}, amount="15000")])
    opt = await first_option(session, action)
    decision = await approve(session, account=team.account, member=team.maria, action_id=action.id, option_id=opt.id, now=NOW, settings=settings_for())
    assert decision.outcome == "awaiting_second_approval"


async def test_a_viewer_sees_but_cannot_decide(session: AsyncSession) -> None:
    team = await Team.open(session)
    action = await make_action(session, team.account)
    opt = await first_option(session, action)
    with pytest.raises(PermissionDenied, match="Only approvers and admins can approve actions; you are a viewer"):
        await approve(session, account=team.account, member=team.vic, action_id=action.id, option_id=opt.id, now=NOW, settings=settings_for())
    with pytest.raises(PermissionDenied, match="can skip actions"):
        await skip(session, account=team.account, member=team.vic, action_id=action.id, now=NOW)
    assert await count_records(session, action.id, "approved", "skipped", "approval") == 0


@pytest.mark.parametrize("action_type", ["payroll_contingency", "payroll_confirmation"])
async def test_payroll_needs_an_admin(session: AsyncSession, action_type: str) -> None:
    team = await Team.open(session)
    action = await make_action(session, team.account, action_type, amount="800", options=[option("confirm_plan", {"steps": []})])
    opt = await first_option(session, action)
    with pytest.raises(PermissionDenied, match="Payroll actions need an admin's approval, always"):
        await approve(session, account=team.account, member=team.maria, action_id=action.id, option_id=opt.id, now=NOW, settings=settings_for())
    with pytest.raises(PermissionDenied, match="Payroll actions need an admin's approval"):
        await skip(session, account=team.account, member=team.li, action_id=action.id, now=NOW)
    decision = await approve(session, account=team.account, member=team.ada, action_id=action.id, option_id=opt.id, now=NOW, settings=settings_for())
    assert decision.outcome == "approved" and decision.decided_by == "@ada"


async def test_an_action_of_another_account_is_not_found(session: AsyncSession) -> None:
    acme = await Team.open(session)
    other = await Team.open(session, name="Other Ltd")
    theirs = await make_action(session, other.account)
    opt = await first_option(session, theirs)
    with pytest.raises(NotFound, match=f"There is no action `{theirs.id}` in this account"):
        await approve(session, account=acme.account, member=acme.maria, action_id=theirs.id, option_id=opt.id, now=NOW, settings=settings_for())
    with pytest.raises(NotFound):
        await skip(session, account=acme.account, member=acme.ada, action_id=theirs.id, now=NOW)
    with pytest.raises(PermissionDenied, match="not a member of this account"):  # their member, our account
        await approve(session, account=acme.account, member=other.maria, action_id=theirs.id, option_id=opt.id, now=NOW, settings=settings_for())
    await session.refresh(theirs)
    assert theirs.status == ActionStatus.PENDING


async def test_superseded_and_expired_actions_are_closed_by_tamio(session: AsyncSession) -> None:
    team = await Team.open(session)
    old = await make_action(session, team.account)
    decided = await make_action(session, team.account)
    stale = await make_action(session, team.account, expires_at=later(30))
    fresh = await make_action(session, team.account, expires_at=later(60 * 48))
    await approve(session, account=team.account, member=team.maria, action_id=decided.id, option_id=(await first_option(session, decided)).id, now=NOW, settings=settings_for())

    closed = await supersede(session, account=team.account, action_id=old.id, now=NOW, reason="its alert resolved")
    assert closed is not None and closed.outcome == "superseded" and closed.message == "This action was superseded: its alert resolved."
    assert await supersede(session, account=team.account, action_id=decided.id, now=NOW) is None  # a person decided first

    with pytest.raises(AlreadyDecided, match="expired"):  # past its deadline, nobody can approve it
        await approve(session, account=team.account, member=team.li, action_id=stale.id, option_id=(await first_option(session, stale)).id, now=later(31), settings=settings_for())
    expired = await expire_due(session, account=team.account, now=later(31))
    assert [d.action_id for d in expired] == [stale.id]
    statuses = {a.id: a.status for a in (await session.execute(select(PreparedAction).where(PreparedAction.user_id == team.account.id))).scalars()}
    assert statuses == {old.id: ActionStatus.SUPERSEDED, decided.id: ActionStatus.APPROVED, stale.id: ActionStatus.EXPIRED, fresh.id: ActionStatus.PENDING}
    with pytest.raises(AlreadyDecided, match=r"^This action was superseded at 10:42 \(its alert resolved\)\.$"):
        await skip(session, account=team.account, member=team.li, action_id=old.id, now=later(1))
    assert await count_records(session, old.id, "superseded") == 1 and await count_records(session, stale.id, "expired") == 1


async def test_without_an_exchange_rate_dual_control_applies(session: AsyncSession) -> None:
    team = await Team.open(session)
    action = await make_action(session, team.account, amount="50", currency="GBP")  # no GBP rate: the amount cannot be checked
    decision = await approve(session, account=team.account, member=team.maria, action_id=action.id, option_id=(await first_option(session, action)).id, now=NOW, settings=settings_for())
    assert (decision.outcome, decision.approvals_required) == ("awaiting_second_approval", 2)
    assert "no exchange rate to compare it with the $10,000.00 limit" in decision.message


async def test_a_large_payroll_takes_an_admin_first_then_an_approver(session: AsyncSession) -> None:
    """Payroll above the dual-control threshold: a team with one admin is not stuck. The admin
    approves first; an approver then gives the second approval. An approver never goes first."""
    team = await Team.open(session)
    action = await make_action(session, team.account, "payroll_contingency", amount="42000", options=[option("confirm_plan", {"steps": []})])
    opt = await first_option(session, action)
    with pytest.raises(PermissionDenied, match="Payroll actions need an admin's approval, always"):
        await approve(session, account=team.account, member=team.maria, action_id=action.id, option_id=opt.id, now=NOW, settings=settings_for())
    first = await approve(session, account=team.account, member=team.ada, action_id=action.id, option_id=opt.id, now=NOW, settings=settings_for())
    assert (first.outcome, first.approvals_given, first.approvals_required) == ("awaiting_second_approval", 1, 2)
    with pytest.raises(PermissionDenied, match="Payroll actions need an admin's approval"):
        await skip(session, account=team.account, member=team.li, action_id=action.id, now=NOW)
    second = await approve(session, account=team.account, member=team.maria, action_id=action.id, option_id=opt.id, now=NOW, settings=settings_for())
    assert second.outcome == "approved" and second.approvals_given == 2
    assert await count_records(session, action.id, "approved") == 1


async def test_many_actions_superseded_at_once_are_each_closed_recorded_audited_and_shown(session: AsyncSession) -> None:
    """A run that resolves many alerts closes their cards together (one statement, one chain pass):
    each gets what closing it alone gives it, and one a person decided first keeps their decision."""
    team = await Team.open(session)
    actions = [await make_action(session, team.account) for _ in range(5)]
    decided, replacement = actions[2], actions[4]
    await approve(session, account=team.account, member=team.maria, action_id=decided.id, option_id=(await first_option(session, decided)).id,
                  now=NOW, settings=settings_for())
    closing = {a.id: ("its alert resolved", replacement.id if a is actions[0] else None) for a in actions[:4]}

    closed = await supersede_many(session, account=team.account, now=later(5), closing=closing)
    await session.commit()

    assert sorted(closed) == sorted(a.id for a in actions[:4] if a is not decided)
    assert {d.message for d in closed.values()} == {"This action was superseded: its alert resolved."}
    rows = {a.id: a for a in (await session.execute(select(PreparedAction).execution_options(populate_existing=True))).scalars()}
    assert [rows[a.id].status for a in actions] == [ActionStatus.SUPERSEDED, ActionStatus.SUPERSEDED, ActionStatus.APPROVED,
                                                     ActionStatus.SUPERSEDED, ActionStatus.PENDING]
    first = rows[actions[0].id]
    assert first.execution_result == {"superseded_by": replacement.id, "reason": "its alert resolved"} and first.decided_at == later(5)
    for action_id in closed:
        assert await count_records(session, action_id, "superseded") == 1
        audit = (await session.execute(select(AuditLog).where(AuditLog.entity_id == action_id, AuditLog.changes["event"].as_string() == "superseded"))).scalar_one()
        assert (audit.actor, audit.changes["to"]) == ("system", "superseded")
        keys = set((await session.execute(select(OutboxMessage.idempotency_key).where(OutboxMessage.payload["action_id"].as_string() == action_id))).scalars())
        assert {f"card_update:{action_id}:v{rows[action_id].version}", f"home_refresh:{action_id}:v{rows[action_id].version}"} <= keys
    assert (await verify_chain(session, account_id=team.account.id)).ok

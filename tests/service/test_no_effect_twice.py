"""No effect twice (issue 15, item 4, the execution side): two actions that touch the same payment,
the same credit line or the same invoice never both take effect.

The demo company's first run prepares a buffer breach, a runway action, a payroll contingency and
a payment batch for Cloud Host; several of them offer to delay Cloud Host's $2,400 and several to
draw $26,000 on the credit line. Seen before the fix: after one "Delay Cloud Host" was carried
out, the other stayed pending and, approved, moved the payment again (1 Dec -> 31 Dec -> 30 Jan)
and sent the vendor a second email; after a draw, the payroll card still offered the same draw.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.accounts.models import Account, Member
from tamio.accounts.service import get_user_configuration
from tamio.data.models import CashAccount
from tamio.demo import PEOPLE, seed_demo
from tamio.execution import lifecycle
from tamio.execution.conflicts import touches
from tamio.execution.service import execute_action
from tamio.execution.transitions import load_action
from tamio.obligations.models import ObligationSchedule
from tamio.outbox.models import OutboxMessage
from tamio.pipeline import run_detection_preparation_cycle
from tamio.preparation.models import ActionOption, ActionStatus, LinkedAction, LinkType, PreparedAction
from tests.service.execution_factories import Mailbox, Team, make_action, option, settings_for

TODAY = date(2026, 11, 28)
NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


@dataclass
class Demo:
    account_id: str
    members: dict[str, str]  # slack user id -> member id

    async def member(self, session: AsyncSession, slack_user_id: str) -> Member:
        found = await session.get(Member, self.members[slack_user_id])
        assert found is not None
        return found


async def open_demo(sessions: async_sessionmaker[AsyncSession], mailbox_port: int) -> Demo:
    settings = settings_for(mailbox_port)
    async with sessions() as session, session.begin():
        account = await seed_demo(session, settings=settings, today=TODAY, now=NOW)
        result = await run_detection_preparation_cycle(session, account.id, today=TODAY, now=NOW, settings=settings)
        assert result.errors == []
        members = {m.slack_user_id or "": m.id for m in (await session.execute(select(Member).where(Member.user_id == account.id))).scalars()}
        return Demo(account.id, members)


async def actions_with(session: AsyncSession, account_id: str, *, kind: str, title_has: str) -> list[tuple[PreparedAction, ActionOption]]:
    """Pending actions with an option of ``kind`` whose title contains ``title_has`` (a plan's step counts)."""
    rows = (await session.execute(
        select(PreparedAction, ActionOption).join(ActionOption, ActionOption.action_id == PreparedAction.id)
        .where(PreparedAction.user_id == account_id, PreparedAction.status == ActionStatus.PENDING)
        .order_by(PreparedAction.created_at, PreparedAction.id, ActionOption.rank)
    )).all()
    found = []
    for action, opt in rows:
        kinds = {opt.kind} | {str(s.get("kind")) for s in (opt.params or {}).get("steps") or []}
        if kind in kinds and title_has in opt.title:
            found.append((action, opt))
    return found


async def decide(sessions: async_sessionmaker[AsyncSession], demo: Demo, action_id: str, option_id: str, *who: str) -> lifecycle.Decision:
    decision = None
    for slack_user_id in who:
        async with sessions() as session, session.begin():
            account = await session.get(Account, demo.account_id)
            assert account is not None
            decision = await lifecycle.approve(session, account=account, member=await demo.member(session, slack_user_id),
                                               action_id=action_id, option_id=option_id, now=NOW,
                                               settings=settings_for())  # the forecast path the cards were prepared on
    assert decision is not None
    return decision


async def test_two_cards_delaying_the_same_payment_move_it_once_and_email_the_vendor_once(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    with Mailbox() as mailbox:
        demo = await open_demo(session_factory, mailbox.port)
        async with session_factory() as session:
            delays = await actions_with(session, demo.account_id, kind="delay_payment", title_has="Cloud Host")
        assert len({a.id for a, _ in delays}) >= 3  # the payment batch, the buffer breach and the runway action all offer it
        # The payment batch's delay is carried out first (any of them would do: the others must not follow).
        delays.sort(key=lambda found: found[0].action_type.value != "payment_batch")
        (first, first_option), *others = delays
        schedule_id = str((first_option.params or {})["moves"][0]["schedule_id"])
        async with session_factory() as session:
            before = (await session.get(ObligationSchedule, schedule_id))
            assert before is not None
            original = before.due_date

        assert (await decide(session_factory, demo, first.id, first_option.id, PEOPLE.admin)).outcome == "approved"
        done = await execute_action(session_factory, account_id=demo.account_id, action_id=first.id, now=NOW, settings=settings_for(mailbox.port))
        assert done.status == "executed", done.message

        async with session_factory() as session:
            moved = await session.get(ObligationSchedule, schedule_id, populate_existing=True)
            # The vendor is asked: the request is recorded, the payment moves once they agree (issue 19.6).
            assert moved is not None and moved.due_date == original and moved.delay_requested_to is not None
            assert moved.delay_requested_to > original and moved.delay_requested_by == first.id
            for other, _ in others:
                action = await load_action(session, account_id=demo.account_id, action_id=other.id)
                assert action.status == ActionStatus.SUPERSEDED, action.title
                assert action.execution_result["superseded_by"] == first.id
                assert "was carried out first and changed the same payment" in action.execution_result["reason"]
                updates = (await session.execute(select(OutboxMessage.idempotency_key).where(
                    OutboxMessage.idempotency_key == f"card_update:{other.id}:v{action.version}"))).scalars().all()
                assert updates, "the superseded card is updated in Slack in the same transaction"
        # The other card, clicked now, refuses: nothing moves again and no second email goes out.
        for other, other_option in others:
            with pytest.raises(lifecycle.AlreadyDecided, match="superseded"):
                await decide(session_factory, demo, other.id, other_option.id, PEOPLE.admin)
        async with session_factory() as session:
            again = await session.get(ObligationSchedule, schedule_id, populate_existing=True)
            assert again is not None and (again.due_date, again.delay_requested_to) == (moved.due_date, moved.delay_requested_to)
        assert len(mailbox.to("billing@cloudhost.example")) == 1


async def test_after_a_draw_the_other_draws_on_the_line_are_superseded_and_a_new_one_fits_what_is_left(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    with Mailbox() as mailbox:
        settings = settings_for(mailbox.port)
        demo = await open_demo(session_factory, mailbox.port)
        async with session_factory() as session:
            draws = await actions_with(session, demo.account_id, kind="credit_draw", title_has="Draw $26,000.00")
        payroll = [(a, o) for a, o in draws if a.action_type.value == "payroll_contingency"]
        assert payroll and len({a.id for a, _ in draws}) >= 2
        buffer, buffer_option = next((a, o) for a, o in draws if a.action_type.value != "payroll_contingency")

        # Two approvers ($26,000 is above the $10,000 dual-approval threshold), then it is carried out.
        assert (await decide(session_factory, demo, buffer.id, buffer_option.id, PEOPLE.approver, PEOPLE.approver_two)).outcome == "approved"
        assert (await execute_action(session_factory, account_id=demo.account_id, action_id=buffer.id, now=NOW, settings=settings)).status == "executed"

        async with session_factory() as session:
            line = (await session.execute(select(CashAccount).where(CashAccount.user_id == demo.account_id,
                                                                    CashAccount.name == "Credit line"))).scalar_one()
            assert (line.credit_limit, line.drawn_amount) == (Decimal("40000"), Decimal("26000"))
            for action, _ in draws:
                if action.id != buffer.id:
                    assert (await load_action(session, account_id=demo.account_id, action_id=action.id)).status == ActionStatus.SUPERSEDED

        # The team then asks for a far larger buffer, and preparation runs again: cash is short once
        # more, and the draw it offers is what is left on the line ($14,000), not another $26,000.
        async with session_factory() as session, session.begin():
            config = await get_user_configuration(session, account_id=demo.account_id)
            config.obligations_buffer_amount = Decimal("60000")
            await run_detection_preparation_cycle(session, demo.account_id, today=TODAY, now=NOW + timedelta(minutes=5), settings=settings)
        async with session_factory() as session:
            fresh = await actions_with(session, demo.account_id, kind="credit_draw", title_has="Draw")
            amounts = {Decimal(str(_draw_params(o)["amount"])) for _, o in fresh}
            # (cards restated from the new figures may draw less, for what they need; none draws past what is left)
            assert Decimal("14000") in amounts and max(amounts) <= Decimal("14000"), amounts


def _draw_params(opt: ActionOption) -> dict[str, object]:
    params = dict(opt.params or {})
    step = next((s for s in params.get("steps") or [] if s.get("kind") == "credit_draw"), None)
    return dict(step) if step else params


async def test_two_approved_actions_on_the_same_payment_only_the_first_takes_effect(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with session_factory() as session, session.begin():
        team = await Team.open(session)
        vendor = await team.books.expense("Cloud Host", "2500", team.books.every("once", date(2026, 12, 20)), flexibility_level="can_delay")
        schedule = (await session.execute(select(ObligationSchedule).where(ObligationSchedule.user_id == team.account.id))).scalars().one()
        first = await make_action(session, team.account, "vendor_delay", amount="2500", options=[
            option("delay_payment", {"schedule_ids": [schedule.id], "new_date": "2027-01-19", "notify_vendor": False}, amount="2500",
                   counterparty_type="expense_bucket", counterparty_id=vendor.id)])
        second = await make_action(session, team.account, "payment_prioritization", amount="2500", options=[
            option("delay_payment", {"schedule_ids": [schedule.id], "new_date": "2027-03-01", "notify_vendor": False}, amount="2500")])
        for action in (first, second):
            opt = (await session.execute(select(ActionOption).where(ActionOption.action_id == action.id))).scalar_one()
            await lifecycle.approve(session, account=team.account, member=team.maria, action_id=action.id, option_id=opt.id, now=NOW)
        account_id = team.account.id
    settings = settings_for()
    assert (await execute_action(session_factory, account_id=account_id, action_id=first.id, now=NOW, settings=settings)).status == "executed"
    outcome = await execute_action(session_factory, account_id=account_id, action_id=second.id, now=NOW, settings=settings)
    assert outcome.status == "superseded" and not outcome.ran
    async with session_factory() as session:
        moved = await session.get(ObligationSchedule, schedule.id)
        assert moved is not None and (moved.delayed_from, moved.due_date) == (date(2026, 12, 20), date(2027, 1, 19))


async def test_a_conflicts_link_supersedes_the_other_action_too(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with session_factory() as session, session.begin():
        team = await Team.open(session)
        await team.books.cash("Operating", "5000")
        await team.books.cash("Savings", "1000", account_type="savings")
        cash = {c.name: c.id for c in (await session.execute(select(CashAccount).where(CashAccount.user_id == team.account.id))).scalars()}
        params = {"from_cash_account_id": cash["Savings"], "to_cash_account_id": cash["Operating"], "amount": "100"}
        mine, theirs, unrelated = [
            await make_action(session, team.account, "excess_cash_allocation", amount="100", options=[option("transfer", params, amount="100")])
            for _ in range(3)
        ]
        session.add(LinkedAction(user_id=team.account.id, source_action_id=theirs.id, target_action_id=mine.id,
                                 link_type=LinkType.CONFLICTS, group_id=mine.id, reason="one delays a payment the other makes"))
        opt = (await session.execute(select(ActionOption).where(ActionOption.action_id == mine.id))).scalar_one()
        await lifecycle.approve(session, account=team.account, member=team.maria, action_id=mine.id, option_id=opt.id, now=NOW)
        account_id = team.account.id
    await execute_action(session_factory, account_id=account_id, action_id=mine.id, now=NOW, settings=settings_for())
    async with session_factory() as session:
        statuses = {a.id: a.status for a in (await session.execute(select(PreparedAction))).scalars()}
    # Transfers between bank accounts are independent; the link alone makes these two exclusive.
    assert (statuses[mine.id], statuses[theirs.id], statuses[unrelated.id]) == (
        ActionStatus.EXECUTED, ActionStatus.SUPERSEDED, ActionStatus.PENDING)


@pytest.mark.parametrize(
    ("kind", "params", "expected"),
    [
        ("delay_payment", {"moves": [{"schedule_id": "sch_1", "new_date": "2027-01-01"}], "schedule_ids": ["sch_1"]}, {"schedule:sch_1"}),
        ("send_email", {"schedule_id": "sch_inv", "client_id": "cli_1"}, {"schedule:sch_inv"}),
        ("credit_draw", {"cash_account_id": "cash_line", "target_cash_account_id": "cash_op", "amount": "26000"}, {"line:cash_line"}),
        ("transfer", {"from_cash_account_id": "cash_sav", "to_cash_account_id": "cash_op"}, set()),
        ("transfer", {"from_cash_account_id": "cash_op", "to_cash_account_id": "cash_line"}, {"line:cash_line"}),
        ("confirm_plan", {"payroll_schedule_id": "sch_pay", "confirm_schedule_ids": ["sch_conf"],
                          "steps": [{"kind": "credit_draw", "cash_account_id": "cash_line"}, {"kind": "send_email", "schedule_id": "sch_inv"}]},
         {"schedule:sch_pay", "line:cash_line", "schedule:sch_inv"}),
    ],
)
def test_what_an_option_touches_is_read_from_its_params(kind: str, params: dict[str, object], expected: set[str]) -> None:
    assert touches(kind, params, credit_lines={"cash_line"}) == expected

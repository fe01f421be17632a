"""Each executor changes the world, and the forecast computed afterwards shows it.

The business: $40,000 in Operating, $20,000 in Savings, a $30,000 credit line; Acme owes $6,000
(overdue), Globex pays $5,000 on the 15th, Northwind (a flexible vendor) is paid $8,000 on the
16th, $5,000 of tax is due on 21 Dec and $30,000 of payroll on 31 Dec. Week 1 starts Mon 7 Dec.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.accounts.models import Member, Role
from tamio.accounts.service import ensure_member
from tamio.data.models import CashAccount, Client, ExpenseBucket
from tamio.errors import Conflict
from tamio.execution.delays import agree_delay
from tamio.execution.lifecycle import approve
from tamio.execution.service import ExecutionOutcome, execute_action
from tamio.forecast.engine import Forecast
from tamio.forecast.service import calculate_forecast
from tamio.obligations.models import ObligationAgreement, ObligationSchedule, ObligationType, ScheduleStatus
from tamio.obligations.payments import record_payment
from tamio.obligations.service import ObligationService
from tamio.preparation.context import load_context
from tamio.preparation.models import ActionOption
from tests.service.books import LEGACY_PATH, SCHEDULE_PATH
from tests.service.execution_factories import (
    MONDAY,
    NOW,
    Mailbox,
    Team,
    email_option,
    make_action,
    option,
    settings_for,
)

D = Decimal


@dataclass
class World:
    team: Team
    ids: dict[str, str]

    @property
    def account_id(self) -> str:
        return self.team.account.id


async def _schedules(session: AsyncSession, *, client_id: str | None = None, bucket_id: str | None = None) -> list[ObligationSchedule]:
    column = ObligationAgreement.client_id if client_id else ObligationAgreement.expense_bucket_id
    stmt = (
        select(ObligationSchedule).join(ObligationAgreement, ObligationAgreement.id == ObligationSchedule.obligation_id)
        .where(column == (client_id or bucket_id)).order_by(ObligationSchedule.due_date)
        .execution_options(populate_existing=True)
    )
    return list((await session.execute(stmt)).scalars().all())


async def build(sessions: async_sessionmaker[AsyncSession]) -> World:
    async with sessions() as session, session.begin():
        team = await Team.open(session)
        books = team.books
        await books.cash("Operating", "40000")
        await books.cash("Savings", "20000", account_type="savings")
        await books.cash("Credit line", "0", account_type="credit_line", credit_limit=D("30000"))
        acme = await books.client("Acme Corp", "6000", books.every("once", date(2026, 12, 1)), contact_email="ap@acme.test")
        globex = await books.client("Globex", "5000", books.every("monthly", date(2026, 12, 15), day=15), contact_email="ar@globex.test")
        northwind = await books.expense(
            "Northwind", "8000", books.every("monthly", date(2026, 12, 16), day=16), flexibility_level="can_delay",
            contact_email="billing@northwind.test", contact_name="Sam",
        )
        tax = await books.expense("Sales tax", "5000", books.every("once", date(2026, 12, 21)), category="tax")
        payroll = await books.expense("Payroll", "30000", books.every("once", date(2026, 12, 31)), category="payroll")
        cash = {c.name: c.id for c in (await session.execute(select(CashAccount).where(CashAccount.user_id == team.account.id))).scalars()}
        ids = {
            "acme": acme.id, "globex": globex.id, "northwind": northwind.id, "tax": tax.id, "payroll": payroll.id,
            "operating": cash["Operating"], "savings": cash["Savings"], "line": cash["Credit line"],
            "acme_due": (await _schedules(session, client_id=acme.id))[0].id,
            "northwind_dec": (await _schedules(session, bucket_id=northwind.id))[0].id,
            "northwind_jan": (await _schedules(session, bucket_id=northwind.id))[1].id,
            "tax_due": (await _schedules(session, bucket_id=tax.id))[0].id,
            "payroll_due": (await _schedules(session, bucket_id=payroll.id))[0].id,
        }
    return World(team, ids)


async def forecast(sessions: async_sessionmaker[AsyncSession], world: World, settings: Any = SCHEDULE_PATH) -> Forecast:
    async with sessions() as session:
        return await calculate_forecast(session, world.account_id, as_of=MONDAY, settings=settings)


def flows(f: Forecast) -> list[tuple[Decimal, Decimal]]:
    return [(w.inflows, w.outflows) for w in f.weeks]


async def carry_out(
    sessions: async_sessionmaker[AsyncSession], world: World, action_type: str, options: list[dict[str, Any]], *,
    amount: str = "1000", approvers: list[Member] | None = None, mailbox: Mailbox | None = None, **fields: Any,
) -> ExecutionOutcome:
    async with sessions() as session, session.begin():
        action = await make_action(session, world.team.account, action_type, amount=amount, options=options, **fields)
        chosen = (await session.execute(select(ActionOption).where(ActionOption.action_id == action.id, ActionOption.rank == 1))).scalar_one()
        for member in approvers or [world.team.maria]:
            await approve(session, account=world.team.account, member=member, action_id=action.id, option_id=chosen.id, now=NOW, settings=settings_for())
    return await execute_action(sessions, account_id=world.account_id, action_id=action.id, now=NOW, settings=settings_for(mailbox.port if mailbox else 1))


async def test_a_reminder_is_emailed_to_the_client_and_counts_no_money_before_it_arrives(session_factory: async_sessionmaker[AsyncSession]) -> None:
    world = await build(session_factory)
    before = await forecast(session_factory, world)
    with Mailbox() as mailbox:
        outcome = await carry_out(
            session_factory, world, "invoice_follow_up",
            [email_option(to=None, counterparty_type="client", counterparty_id=world.ids["acme"], params={"schedule_id": world.ids["acme_due"]})],
            mailbox=mailbox,
        )
    assert outcome.status == "executed", outcome.message
    [message] = mailbox.messages
    assert (message["To"], message["From"], message["Subject"]) == ("ap@acme.test", "tamio@acme.test", "Invoice INV-1 is 12 days late")
    assert message["Message-ID"] == outcome.result["emails"][0]["message_id"] and message["Message-ID"].endswith("@acme.test>")
    assert flows(await forecast(session_factory, world)) == flows(before)  # money is counted when it arrives


async def test_a_vendor_delay_tells_the_vendor_and_moves_the_payment_once_agreed(session_factory: async_sessionmaker[AsyncSession]) -> None:
    # Issue 19.6: the card says the vendor is asked first, so the forecast keeps the payment on its
    # date (less certain) until someone marks the delay agreed; then the schedule moves.
    world = await build(session_factory)
    before = await forecast(session_factory, world)
    params = {
        "moves": [{"schedule_id": world.ids["northwind_dec"], "new_date": "2026-12-30", "vendor_id": world.ids["northwind"]}],
        "schedule_ids": [world.ids["northwind_dec"]], "new_date": "2026-12-30", "notify_vendor": True,
        "emails": [{"vendor_id": world.ids["northwind"], "to": None, "subject": "Paying on 30 Dec", "body": "Hi Sam, may we pay on 30 Dec?"}],
    }
    with Mailbox() as mailbox:
        outcome = await carry_out(
            session_factory, world, "vendor_delay",
            [option("delay_payment", params, draft_subject="Paying on 30 Dec", draft_body="Hi Sam, may we pay on 30 Dec?")],
            mailbox=mailbox, amount="8000",
        )
    assert outcome.status == "executed", outcome.message
    assert [(m["To"], m["Subject"]) for m in mailbox.messages] == [("billing@northwind.test", "Paying on 30 Dec")]
    asked = await forecast(session_factory, world)
    assert flows(asked) == flows(before)  # requested, not agreed: still on 16 Dec
    assert asked.weeks[1].confidence_score < before.weeks[1].confidence_score  # less certain
    assert outcome.result["effects"]["requested"][0]["to"] == "2026-12-30" and outcome.result["effects"]["moved"] == []
    async with session_factory() as session, session.begin():
        dec = await session.get(ObligationSchedule, world.ids["northwind_dec"])
        vendor = await session.get(ExpenseBucket, world.ids["northwind"])
        assert dec is not None and vendor is not None
        assert (dec.due_date, dec.delay_requested_to, vendor.delay_history) == (date(2026, 12, 16), date(2026, 12, 30), [])
        context = await load_context(session, account_id=world.account_id, today=MONDAY, settings=SCHEDULE_PATH)
        waiting = context.schedule(dec.id)
        assert waiting is not None and not context.can_delay(waiting)  # asked once: not offered again while it waits
        moved = await agree_delay(session, account=world.team.account, member=world.team.maria, action_id=outcome.action_id,
                                  today=MONDAY, now=NOW)
        assert [(m["from"], m["to"]) for m in moved] == [("2026-12-16", "2026-12-30")]
    async with session_factory() as session, session.begin():
        with pytest.raises(Conflict, match="already marked agreed"):
            await agree_delay(session, account=world.team.account, member=world.team.maria, action_id=outcome.action_id,
                              today=MONDAY, now=NOW)
    after = await forecast(session_factory, world)
    assert (before.weeks[1].outflows - after.weeks[1].outflows, after.weeks[3].outflows - before.weeks[3].outflows) == (D("8000"), D("8000"))
    assert after.weeks[5].outflows == before.weeks[5].outflows  # January's payment stays where it was

    async with session_factory() as session, session.begin():
        vendor = await session.get(ExpenseBucket, world.ids["northwind"])
        assert vendor is not None and [(h["from"], h["to"], h["amount"]) for h in vendor.delay_history] == [("2026-12-16", "2026-12-30", "8000.00")]
        agreement = (await session.execute(select(ObligationAgreement).where(ObligationAgreement.expense_bucket_id == vendor.id))).scalar_one()
        service = ObligationService(session, account=world.team.account, settings=SCHEDULE_PATH, today=MONDAY, now=NOW)
        await service.generate_schedules(agreement)  # regeneration keeps the agreed date
        dec, jan = (await _schedules(session, bucket_id=vendor.id))[:2]
        assert (dec.due_date, dec.delayed_from, jan.due_date) == (date(2026, 12, 30), date(2026, 12, 16), date(2027, 1, 16))


async def test_queued_payments_are_counted_once_until_a_payment_settles_them(session_factory: async_sessionmaker[AsyncSession]) -> None:
    world = await build(session_factory)
    before = await forecast(session_factory, world)
    outcome = await carry_out(session_factory, world, "payment_batch", [option("queue_payments", {"schedule_ids": [world.ids["northwind_dec"]]})], amount="8000")
    assert outcome.status == "executed" and outcome.result["effects"]["queued"] == [world.ids["northwind_dec"]]
    queued = await forecast(session_factory, world)
    assert flows(queued) == flows(before) and queued.opening_balance == before.opening_balance

    async with session_factory() as session, session.begin():
        schedule = await session.get(ObligationSchedule, world.ids["northwind_dec"])
        assert schedule is not None and (schedule.status, schedule.queued_at) == (ScheduleStatus.QUEUED, NOW)
        await record_payment(session, account=world.team.account, amount=D("8000"), currency="USD", payment_date=date(2026, 12, 8), schedule=schedule, now=NOW)
    paid = await forecast(session_factory, world)
    assert paid.opening_balance == before.opening_balance - 8000 and paid.weeks[1].outflows == before.weeks[1].outflows - 8000
    assert [w.closing_balance for w in paid.weeks[1:]] == [w.closing_balance for w in before.weeks[1:]]


async def test_a_statutory_payment_is_queued(session_factory: async_sessionmaker[AsyncSession]) -> None:
    world = await build(session_factory)
    outcome = await carry_out(session_factory, world, "statutory_payment", [option("record_statutory_payment", {"schedule_ids": [world.ids["tax_due"]]})], amount="5000")
    assert outcome.status == "executed"
    async with session_factory() as session:
        schedule = await session.get(ObligationSchedule, world.ids["tax_due"])
        assert schedule is not None and schedule.status == ScheduleStatus.QUEUED
    assert (await forecast(session_factory, world)).weeks[2].outflows == D("5000")  # still expected, once


async def test_a_credit_draw_brings_cash_in_and_books_its_repayment(session_factory: async_sessionmaker[AsyncSession]) -> None:
    world = await build(session_factory)
    before = await forecast(session_factory, world)
    params = {"cash_account_id": world.ids["line"], "target_cash_account_id": world.ids["operating"], "amount": "9000", "repayment_date": "2027-02-05", "interest": "90"}
    outcome = await carry_out(session_factory, world, "credit_line_draw", [option("credit_draw", params, amount="9000")], amount="9000")
    assert outcome.status == "executed", outcome.message
    after = await forecast(session_factory, world)
    assert after.opening_balance == before.opening_balance + 9000
    assert after.weeks[8].outflows == before.weeks[8].outflows + D("9090")  # repaid in the week of 1 Feb
    async with session_factory() as session:
        line = await session.get(CashAccount, world.ids["line"])
        assert line is not None and (line.drawn_amount, line.balance) == (D("9000"), D("-9000"))
        repayment = await session.get(ObligationAgreement, outcome.result["effects"]["repayment_obligation_id"])
        assert repayment is not None and (repayment.obligation_type, repayment.cash_account_id) == (ObligationType.CREDIT_REPAYMENT, line.id)

    # Surplus repays part of it early: less cash now, a smaller repayment later.
    repay = {"from_cash_account_id": world.ids["operating"], "to_cash_account_id": world.ids["line"], "amount": "4000"}
    outcome = await carry_out(session_factory, world, "excess_cash_allocation", [option("transfer", repay)], amount="4000")
    assert outcome.status == "executed", outcome.message
    repaid = await forecast(session_factory, world)
    assert repaid.opening_balance == after.opening_balance - 4000 and repaid.weeks[8].outflows == after.weeks[8].outflows - 4000
    async with session_factory() as session:
        line = await session.get(CashAccount, world.ids["line"])
        assert line is not None and line.drawn_amount == D("5000")


async def test_a_transfer_to_savings_moves_money_between_own_accounts(session_factory: async_sessionmaker[AsyncSession]) -> None:
    world = await build(session_factory)
    before = await forecast(session_factory, world)
    move = {"from_cash_account_id": world.ids["operating"], "to_cash_account_id": world.ids["savings"], "amount": "7500"}
    outcome = await carry_out(session_factory, world, "excess_cash_allocation", [option("transfer", move)], amount="7500")
    assert outcome.status == "executed"
    assert (await forecast(session_factory, world)).weeks == before.weeks  # still the business's cash
    async with session_factory() as session:
        balances = {c.name: c.balance for c in (await session.execute(select(CashAccount).where(CashAccount.user_id == world.account_id))).scalars()}
    assert (balances["Operating"], balances["Savings"]) == (D("32500"), D("27500"))

    too_much = {**move, "amount": "99000"}
    failed = await carry_out(session_factory, world, "excess_cash_allocation", [option("transfer", too_much)], amount="900")
    assert (failed.status, failed.attempts) == ("failed", 1)  # retrying would not help
    assert failed.error == "Operating has $32,500.00, less than the $99,000.00 to move."


async def test_a_payroll_plan_runs_its_steps_and_queues_the_payroll(session_factory: async_sessionmaker[AsyncSession]) -> None:
    world = await build(session_factory)
    async with session_factory() as session, session.begin():
        bo = await ensure_member(session, account_id=world.account_id, slack_user_id="UBO", display_name="bo", role=Role.ADMIN, now=NOW)
    before = await forecast(session_factory, world)
    draw = {"cash_account_id": world.ids["line"], "amount": "6000", "repayment_date": "2027-02-05"}
    delay = {"moves": [{"schedule_id": world.ids["northwind_dec"], "new_date": "2027-01-05"}], "schedule_ids": [world.ids["northwind_dec"]], "notify_vendor": False}
    # As the preparation engine writes it: the step's params are also spread at the top level.
    plan = {**delay, "payroll_schedule_id": world.ids["payroll_due"], "steps": [{"kind": "credit_draw", **draw}, {"kind": "delay_payment", **delay}]}
    outcome = await carry_out(
        session_factory, world, "payroll_contingency", [option("confirm_plan", plan, draft_subject="Payroll plan", draft_body="Internal summary")],
        amount="30000", approvers=[world.team.ada, bo],
    )
    assert outcome.status == "executed", outcome.message
    assert outcome.result["effects"]["queued"] == [world.ids["payroll_due"]]
    after = await forecast(session_factory, world)
    assert after.opening_balance == before.opening_balance + 6000
    assert after.weeks[1].outflows == before.weeks[1].outflows - 8000 and after.weeks[4].outflows == before.weeks[4].outflows + 8000
    async with session_factory() as session:
        payroll = await session.get(ObligationSchedule, world.ids["payroll_due"])
        northwind = await session.get(ObligationSchedule, world.ids["northwind_dec"])
        assert payroll is not None and northwind is not None
        assert (payroll.status, northwind.status, northwind.due_date) == (ScheduleStatus.QUEUED, ScheduleStatus.SCHEDULED, date(2027, 1, 5))


async def test_adjusting_the_forecast_changes_what_is_expected_on_both_paths(session_factory: async_sessionmaker[AsyncSession]) -> None:
    world = await build(session_factory)
    before, legacy_before = await forecast(session_factory, world), await forecast(session_factory, world, LEGACY_PATH)
    async with session_factory() as session:
        agreement = (await session.execute(select(ObligationAgreement).where(ObligationAgreement.client_id == world.ids["globex"]))).scalar_one()
    outcome = await carry_out(session_factory, world, "invoice_generation", [option("adjust_forecast", {"agreement_id": agreement.id, "new_amount": "4000"})], amount="4000")
    assert outcome.status == "executed", outcome.message
    after, legacy_after = await forecast(session_factory, world), await forecast(session_factory, world, LEGACY_PATH)
    for old, new in ((before, after), (legacy_before, legacy_after)):
        assert [b.inflows - a.inflows for b, a in zip(old.weeks, new.weeks, strict=True) if b.inflows != a.inflows] == [D("1000")] * 3
    async with session_factory() as session:
        globex = await session.get(Client, world.ids["globex"])
        assert globex is not None and globex.billing_config["lines"][0]["amount"] == "4000.00"

"""Safety invariants no configuration can break (issue 15, item 5).

- No option ever delays or moves a payroll or tax obligation, whatever its vendor's category.
- Nothing touching payroll or tax is carried out by an automation rule.
- Dual control is measured on the money the chosen option moves.

Seen before the fix: a vendor of category operating with ``can_delay`` that carries a payroll
obligation (what ``/tamio add payroll`` or a CSV payroll row does for an existing vendor), with the
payment_batch rule on auto, had its payroll moved from 14 Dec to 13 Jan with no person deciding;
and a $2,500 delay needed two approvers because dual control measured the shortfall.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import tamio.models  # noqa: F401  (every table)
from tamio.accounts.service import ensure_member, get_user_configuration
from tamio.data.models import ExpenseBucket
from tamio.db import create_engine, make_session_factory
from tamio.execution import lifecycle
from tamio.execution.automation import update_rule
from tamio.execution.models import ExecutionRecord
from tamio.execution.safety import schedule_ids
from tamio.execution.service import execute_action, resume_pending_executions
from tamio.obligations.counterparties import BillingLine, CounterpartyService
from tamio.obligations.models import NEVER_DELAYED, ObligationAgreement, ObligationSchedule, ObligationType
from tamio.obligations.recurrence import Frequency
from tamio.obligations.schemas import RecurrenceSpec
from tamio.opening import open_account
from tamio.pipeline import run_detection_preparation_cycle
from tamio.preparation.models import ActionOption, ActionStatus, PreparedAction
from tests.conftest import secret_for_tests
from tests.service.execution_factories import (
    NOW,
    Mailbox,
    Team,
    first_option,
    make_action,
    option,
    settings_for,
)

MONDAY = date(2026, 12, 7)
AT = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


async def _payroll_on_an_operating_vendor(session: AsyncSession, team: Team) -> tuple[ExpenseBucket, ObligationSchedule]:
    """Crew Co, category operating and happy to wait, also carries the $8,000 payroll of 14 Dec."""
    books = team.books
    await books.cash("Operating", "10000")
    config = await get_user_configuration(session, account_id=team.account.id)
    config.obligations_buffer_amount = Decimal("5000")
    crew = await books.expense("Crew Co", "300", books.every("once", date(2027, 2, 26)), flexibility_level="can_delay",
                               criticality="flexible", contact_email="pay@crew.test")
    line = BillingLine(Decimal("8000"), "USD", RecurrenceSpec(Frequency.ONCE, start_date=date(2026, 12, 14)), ObligationType.PAYROLL)
    agreement = await books.service.add_billing_line(crew, line)
    assert agreement is not None
    payroll = (await session.execute(select(ObligationSchedule).where(ObligationSchedule.obligation_id == agreement.id))).scalar_one()
    return crew, payroll


async def test_payroll_of_an_operating_vendor_is_never_moved_by_a_rule_on_auto(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with session_factory() as session, session.begin():
        team = await Team.open(session)
        crew, payroll = await _payroll_on_an_operating_vendor(session, team)
        for rule in ("payment_batch", "vendor_delay"):
            await update_rule(session, account=team.account, member=team.ada, action_type=rule, auto_execute=True, included_tags=[], now=AT)
        account_id = team.account.id
    with Mailbox() as mailbox:
        settings = settings_for(mailbox.port)
        async with session_factory() as session, session.begin():
            result = await run_detection_preparation_cycle(session, account_id, today=MONDAY, now=AT, settings=settings)
        assert "buffer_breach" in result.alerts_by_type  # the $8,000 payroll takes cash under the $5,000 buffer
        await resume_pending_executions(session_factory, AT + timedelta(minutes=1), settings=settings)  # what automation approved
    async with session_factory() as session:
        kept = await session.get(ObligationSchedule, payroll.id)
        assert kept is not None and (kept.due_date, kept.delayed_from) == (date(2026, 12, 14), None)
        options = (await session.execute(select(ActionOption).join(PreparedAction, PreparedAction.id == ActionOption.action_id)
                                         .where(PreparedAction.user_id == account_id))).scalars().all()
        assert not [o.title for o in options if payroll.id in schedule_ids(o)]  # not even offered
    # Crew Co may be asked to wait for its $300 invoice, never for the payroll.
    assert not [m for m in mailbox.to("pay@crew.test") if "8,000" in str(m.get_payload())]


async def test_the_delay_executor_refuses_payroll_and_tax_whatever_the_option_says(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with session_factory() as session, session.begin():
        team = await Team.open(session)
        crew, payroll = await _payroll_on_an_operating_vendor(session, team)
        forged = await make_action(session, team.account, "vendor_delay", amount="8000", options=[option(
            "delay_payment", {"moves": [{"schedule_id": payroll.id, "new_date": "2027-01-13", "vendor_id": crew.id}],
                              "notify_vendor": True, "emails": [{"vendor_id": crew.id, "subject": "Later?", "body": "Could we pay later?"}]},
            amount="8000", counterparty_type="expense_bucket", counterparty_id=crew.id)])
        opt = await first_option(session, forged)
        await lifecycle.approve(session, account=team.account, member=team.ada, action_id=forged.id, option_id=opt.id, now=NOW, settings=settings_for())
        account_id = team.account.id
    outcome = await execute_action(session_factory, account_id=account_id, action_id=forged.id, now=NOW, settings=settings_for(1))
    assert outcome.status == "failed"
    assert "is payroll; Tamio never delays payroll or tax, so nothing was moved." in (outcome.error or "")
    async with session_factory() as session:
        kept = await session.get(ObligationSchedule, payroll.id)
        assert kept is not None and kept.due_date == date(2026, 12, 14)
        # Refused before any vendor was told: no email was even attempted.
        assert not (await session.execute(select(ExecutionRecord).where(ExecutionRecord.event == "email"))).scalars().all()


async def test_no_rule_carries_out_an_option_that_touches_tax(session: AsyncSession) -> None:
    team = await Team.open(session)
    tax = await team.books.expense("VAT", "900", team.books.every("once", date(2026, 12, 20)), category="operating")
    schedule = (await session.execute(select(ObligationSchedule).where(ObligationSchedule.user_id == team.account.id))).scalar_one()
    agreement = await session.get(ObligationAgreement, schedule.obligation_id)
    assert agreement is not None
    agreement.obligation_type = ObligationType.TAX  # tax, booked on a vendor of category operating
    await update_rule(session, account=team.account, member=team.ada, action_type="payment_batch", auto_execute=True, now=NOW)
    batch = await make_action(session, team.account, "payment_batch", amount="900", options=[
        option("queue_payments", {"schedule_ids": [schedule.id]}, amount="900", counterparty_type="expense_bucket", counterparty_id=tax.id)])
    from tamio.execution.automation import maybe_auto_execute

    assert await maybe_auto_execute(session, account=team.account, action=batch, now=NOW, settings=settings_for()) is None
    assert (await session.get(PreparedAction, batch.id)).status == ActionStatus.PENDING  # type: ignore[union-attr]


async def test_dual_control_measures_the_money_the_chosen_option_moves(session: AsyncSession) -> None:
    team = await Team.open(session)
    shortfall = await make_action(session, team.account, "payment_prioritization", amount="103000", options=[
        option("delay_payment", {"schedule_ids": ["sch_x"], "new_date": "2027-01-19"}, title="Delay $2,500 to Cloud Host", amount="2500"),
        option("credit_draw", {"cash_account_id": "cash_x", "amount": "26000"}, title="Draw $26,000", amount="26000"),
    ])
    delay, draw = (await session.execute(select(ActionOption).where(ActionOption.action_id == shortfall.id)
                                         .order_by(ActionOption.rank))).scalars().all()
    one = await lifecycle.approve(session, account=team.account, member=team.maria, action_id=shortfall.id, option_id=delay.id, now=NOW, settings=settings_for())
    assert (one.outcome, one.approvals_required) == ("approved", 1)

    other = await make_action(session, team.account, "payment_prioritization", amount="2500", options=[
        option("credit_draw", {"cash_account_id": "cash_x", "amount": "26000"}, title="Draw $26,000", amount="26000")])
    first = await lifecycle.approve(session, account=team.account, member=team.maria, action_id=other.id,
                                    option_id=(await first_option(session, other)).id, now=NOW, settings=settings_for())
    assert (first.outcome, first.approvals_given, first.approvals_required) == ("awaiting_second_approval", 1, 2)
    assert draw.amount == Decimal("26000")


# -- the property ---------------------------------------------------------------------------------

CATEGORIES = ("operating", "software", "contractor", "rent", "payroll", "tax", "other")
RULES = ("invoice_follow_up", "payment_batch", "vendor_delay", "statutory_payment", "excess_allocation")
_names = itertools.count()

vendors = st.lists(st.fixed_dictionaries({
    "category": st.sampled_from(CATEGORIES),
    "flexibility": st.sampled_from(["can_delay", "negotiable", "cannot_delay", None]),
    "criticality": st.sampled_from(["flexible", "important", "critical", None]),
    "lines": st.lists(st.tuples(st.sampled_from(["expense", "payroll", "tax"]), st.integers(2, 60), st.integers(1, 40)),
                      min_size=1, max_size=2),  # (type, due in N days, thousands)
}), min_size=1, max_size=4)
business = st.fixed_dictionaries({
    "cash": st.integers(0, 60),  # thousands
    "buffer": st.integers(0, 30),
    "credit": st.one_of(st.none(), st.integers(5, 50)),
    "late": st.lists(st.tuples(st.integers(5, 40), st.integers(1, 20)), max_size=2),  # overdue invoices: days late, thousands
    "vendors": vendors,
    "rules": st.fixed_dictionaries({r: st.tuples(st.booleans(), st.sampled_from([None, 1000, 10000, 1_000_000])) for r in RULES}),
    "dual": st.sampled_from([1000, 10000, 1_000_000]),
})


async def _business(url: str, spec: dict[str, object]) -> None:
    engine = create_engine(url)
    try:
        sessions = make_session_factory(engine, secret_for_tests())
        settings = settings_for(1)  # no mail server: emails fail and wait for a retry, nothing else does
        async with sessions() as session, session.begin():
            account = await open_account(session, name=f"Safety {next(_names)}", base_currency="USD", now=NOW)
            account.dual_approval_threshold = Decimal(spec["dual"])  # type: ignore[call-overload]
            admin = await ensure_member(session, account_id=account.id, slack_user_id=f"UA{account.id[-6:]}", display_name="ada", role="admin", now=NOW)  # type: ignore[arg-type]
            service = CounterpartyService(session, account=account, settings=settings, today=MONDAY, now=AT)
            from tamio.data.service import set_balance

            await set_balance(session, account=account, name="Operating", amount=Decimal(spec["cash"]) * 1000, currency="USD",  # type: ignore[operator]
                              on_date=MONDAY, now=AT, account_type="bank")
            if spec["credit"] is not None:
                await set_balance(session, account=account, name="Credit line", amount=Decimal(0), currency="USD", on_date=MONDAY, now=AT,
                                  account_type="credit_line", credit_limit=Decimal(spec["credit"]) * 1000)  # type: ignore[operator]
            config = await get_user_configuration(session, account_id=account.id)
            config.obligations_buffer_amount = Decimal(spec["buffer"]) * 1000  # type: ignore[operator]
            for index, (days, thousands) in enumerate(spec["late"]):  # type: ignore[arg-type]
                await service.create_client(name=f"Client {index}", contact_email=f"ap{index}@client.test", billing=BillingLine(
                    Decimal(thousands) * 1000, "USD", RecurrenceSpec(Frequency.ONCE, start_date=MONDAY - timedelta(days=days)), ObligationType.REVENUE))
            for index, vendor in enumerate(spec["vendors"]):  # type: ignore[arg-type]
                (kind, due, thousands), *more = vendor["lines"]
                bucket = await service.create_expense(
                    name=f"Vendor {index}", category=vendor["category"], flexibility_level=vendor["flexibility"],
                    criticality=vendor["criticality"], contact_email=f"v{index}@vendor.test",
                    billing=BillingLine(Decimal(thousands) * 1000, "USD", RecurrenceSpec(Frequency.ONCE, start_date=MONDAY + timedelta(days=due)),
                                        ObligationType(kind)))
                for kind, due, thousands in more:
                    await service.add_billing_line(bucket, BillingLine(
                        Decimal(thousands) * 1000, "USD", RecurrenceSpec(Frequency.ONCE, start_date=MONDAY + timedelta(days=due)), ObligationType(kind)))
            for rule, (auto, threshold) in spec["rules"].items():  # type: ignore[attr-defined]
                await update_rule(session, account=account, member=admin, action_type=rule, auto_execute=auto, included_tags=[], excluded_tags=[],
                                  threshold_amount=threshold, threshold_currency="USD", now=AT)
            protected = {s.id: (s.due_date, s.status) for s in (await session.execute(
                select(ObligationSchedule).join(ObligationAgreement, ObligationAgreement.id == ObligationSchedule.obligation_id)
                .where(ObligationSchedule.user_id == account.id, ObligationAgreement.obligation_type.in_(list(NEVER_DELAYED)))
            )).scalars()}
            account_id = account.id
        for step in range(2):  # the pipeline and its automation, then the resume job, twice
            async with sessions() as session, session.begin():
                await run_detection_preparation_cycle(session, account_id, today=MONDAY, now=AT + timedelta(hours=step), settings=settings)
            await resume_pending_executions(sessions, AT + timedelta(hours=step, minutes=30), settings=settings, account_id=account_id)
        async with sessions() as session:
            after = {s.id: (s.due_date, s.status, s.delayed_from) for s in (await session.execute(
                select(ObligationSchedule).where(ObligationSchedule.id.in_(list(protected))))).scalars()}
            assert {i: v[0] for i, v in after.items()} == {i: v[0] for i, v in protected.items()}, "a payroll or tax payment moved"
            assert all(v[2] is None for v in after.values())
            executed = Counter((await session.execute(select(ExecutionRecord.action_id).where(
                ExecutionRecord.user_id == account_id, ExecutionRecord.event == "executed"))).scalars())
            assert all(n == 1 for n in executed.values()), "an action was carried out twice"
            automatic = (await session.execute(select(PreparedAction, ActionOption).join(
                ActionOption, ActionOption.id == PreparedAction.chosen_option_id).where(
                PreparedAction.user_id == account_id, PreparedAction.auto_executed.is_(True)))).all()
            touched = {i for _, o in automatic for i in schedule_ids(o)}
            assert not touched & set(protected), "an automation rule touched payroll or tax"
            assert not [a.action_type for a, _ in automatic if a.action_type.value.startswith(("payroll", "statutory"))]
            moved = Counter(str(m.get("schedule_id")) for a in (await session.execute(select(PreparedAction).where(
                PreparedAction.user_id == account_id, PreparedAction.status == ActionStatus.EXECUTED))).scalars()
                for m in ((a.execution_result or {}).get("effects") or {}).get("moved") or [])
            assert all(n == 1 for n in moved.values()), "a payment was moved twice"
            # A delay asked of a vendor waits for the vendor (issue 19.6): its payment keeps its date until agreed.
            asked = [r for a in (await session.execute(select(PreparedAction).where(
                PreparedAction.user_id == account_id, PreparedAction.status == ActionStatus.EXECUTED))).scalars()
                for r in ((a.execution_result or {}).get("effects") or {}).get("requested") or []]
            for request in asked:
                waiting = await session.get(ObligationSchedule, request["schedule_id"])
                assert waiting is not None and str(waiting.due_date) == request["from"], "a requested delay moved before agreement"
                assert str(waiting.delay_requested_to) == request["to"] and waiting.delayed_from is None
    finally:
        await engine.dispose()


@pytest.mark.slow
def test_no_configuration_moves_payroll_or_tax_or_acts_twice(db_url: str) -> None:
    @settings(max_examples=30 if db_url.startswith("sqlite") else 10, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(business)
    def check(spec: dict[str, object]) -> None:
        asyncio.run(_business(db_url, spec))

    check()

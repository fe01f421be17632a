"""From alert to prepared action: agents, ranked options with risk and forecast effect, drafts, links."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tamio.accounts.models import Role, SafetyMode, UserConfiguration
from tamio.accounts.service import ensure_member
from tamio.config import Settings
from tamio.data.models import Client, ExpenseCategory
from tamio.detection.models import AlertSeverity, AlertStatus, DetectionAlert, DetectionRule, DetectionType
from tamio.execution.lifecycle import approve
from tamio.execution.service import execute_action
from tamio.forecast.service import extend_schedules
from tamio.money import format_money
from tamio.obligations.models import ObligationSchedule, ScheduleStatus
from tamio.pipeline import PipelineConfig, PipelineMode, run_detection_preparation_cycle
from tamio.preparation import engine as prep_engine
from tamio.preparation.context import load_context
from tamio.preparation.engine import prepare_actions
from tamio.preparation.models import ActionOption, LinkedAction, PreparedAction
from tests.service.books import SCHEDULE_PATH, Books
from tests.service.execution_factories import Mailbox, settings_for
from tests.service.test_detection_snapshot import MONDAY as SNAPSHOT_DAY
from tests.service.test_detection_snapshot import large_business, small_business

TODAY = date(2026, 12, 7)
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


async def alert(session: AsyncSession, books: Books, kind: DetectionType, *, entity_type: str = "system", entity_id: str | None = None,
                amount: str | None = None, severity: AlertSeverity = AlertSeverity.EMERGENCY, **context: str) -> DetectionAlert:
    row = DetectionAlert(
        user_id=books.account.id, detection_type=kind, severity=severity, fingerprint=f"{kind.value}:{entity_id or 'x'}",
        entity_type=entity_type, entity_id=entity_id, entity_name="", title=f"{kind.value} alert", explanation="Because.",
        amount=Decimal(amount) if amount else None, currency="USD", context=context, first_detected_at=NOW, last_detected_at=NOW,
    )
    session.add(row)
    await session.flush()
    return row


async def options_of(session: AsyncSession, action: PreparedAction) -> list[ActionOption]:
    rows = await session.execute(select(ActionOption).where(ActionOption.action_id == action.id).order_by(ActionOption.rank))
    return list(rows.scalars().all())


async def tight_books(session: AsyncSession) -> Books:
    """Payroll of 42,000 on the 15th, 30,000 in the bank, a 4,000 buffer, a credit line, vendors of each kind."""
    books = await Books.open(session, today=TODAY)
    config = await session.get(UserConfiguration, books.account.id)
    assert config is not None
    config.obligations_buffer_amount = Decimal("4000")
    await books.cash("Operating", "30000")
    await books.cash("Savings", "8000", account_type="savings")
    await books.cash("Credit line", "0", account_type="credit_line", credit_limit=Decimal("25000"))
    await books.expense("Payroll", "42000", books.every("once", date(2026, 12, 15)), category="payroll")
    await books.expense("Cloud Host", "2500", books.every("once", date(2026, 12, 10)), flexibility_level="can_delay", criticality="flexible", contact_email="billing@cloudhost.test")
    await books.expense("Landlord", "6000", books.every("once", date(2026, 12, 11)), flexibility_level="can_delay", criticality="critical")
    await books.client("Acme Corp", "8000", books.every("once", date(2026, 11, 20)), contact_email="ap@acme.test", relationship_type="transactional")
    return books


async def test_buffer_breach_offers_flexible_vendors_credit_and_chasing(session: AsyncSession) -> None:
    books = await tight_books(session)
    breach = await alert(session, books, DetectionType.BUFFER_BREACH, amount="14000")
    run = await prepare_actions(session, account=books.account, alerts=[breach], today=TODAY, now=NOW, settings=SCHEDULE_PATH)
    assert not run.errors and len(run.actions) == 1
    options = await options_of(session, run.actions[0])
    kinds = [o.kind for o in options]
    assert set(kinds) == {"delay_payment", "credit_draw", "send_email"}
    delay = next(o for o in options if o.kind == "delay_payment")
    assert "Cloud Host" in (delay.counterparty_name or "") and "Landlord" not in (delay.counterparty_name or "")  # never a critical vendor
    assert delay.draft_body and "Cloud Host" in delay.draft_body
    draw = next(o for o in options if o.kind == "credit_draw")
    assert draw.forecast_lowest_balance is not None and draw.forecast_lowest_balance > run.actions[0].amount * 0  # re-run forecast
    assert all(Decimal(0) <= o.composite_risk <= 1 for o in options)
    assert [o.rank for o in options] == [1, 2, 3]


async def test_payroll_at_risk_gets_a_contingency_plan_that_names_the_money(session: AsyncSession) -> None:
    books = await tight_books(session)
    payroll = (await session.execute(select(ObligationSchedule).where(ObligationSchedule.estimated_amount == Decimal("42000")))).scalar_one()
    risk = await alert(session, books, DetectionType.PAYROLL_SAFETY, entity_type="schedule", entity_id=payroll.id, amount="42000")
    run = await prepare_actions(session, account=books.account, alerts=[risk], today=TODAY, now=NOW, settings=SCHEDULE_PATH)
    action = run.actions[0]
    assert action.action_type.value == "payroll_contingency" and action.requires_admin
    options = await options_of(session, action)
    assert options and all(o.kind == "confirm_plan" for o in options)
    assert any("Savings" in o.title or "Credit line" in o.title for o in options)
    assert all("Payroll" in (o.draft_subject or "") or "payroll" in (o.draft_body or "").lower() for o in options)


async def test_late_payment_is_drafted_as_a_collection_email(session: AsyncSession) -> None:
    books = await tight_books(session)
    acme = (await session.execute(select(Client).where(Client.name == "Acme Corp"))).scalar_one()
    late = await alert(session, books, DetectionType.LATE_PAYMENT, entity_type="client", entity_id=acme.id, severity=AlertSeverity.THIS_WEEK)
    run = await prepare_actions(session, account=books.account, alerts=[late], today=TODAY, now=NOW, settings=SCHEDULE_PATH)
    options = await options_of(session, run.actions[0])
    email = options[0]
    assert email.kind == "send_email" and email.recipient_email == "ap@acme.test"
    assert "Acme Corp" in (email.draft_body or "") and "$8,000.00" in (email.draft_body or "")
    assert email.draft_tone in ("soft", "professional", "firm")


async def test_reruns_do_not_duplicate_and_a_failing_agent_is_an_error(session: AsyncSession, monkeypatch: pytest.MonkeyPatch) -> None:
    books = await tight_books(session)
    breach = await alert(session, books, DetectionType.BUFFER_BREACH, amount="14000")
    first = await prepare_actions(session, account=books.account, alerts=[breach], today=TODAY, now=NOW, settings=SCHEDULE_PATH)
    again = await prepare_actions(session, account=books.account, alerts=[breach], today=TODAY, now=NOW, settings=SCHEDULE_PATH)
    assert len(first.actions) == 1 and again.actions == []

    def broken(alert_view: object, ctx: object) -> None:
        raise RuntimeError("agent blew up")

    monkeypatch.setitem(prep_engine.AGENTS, "runway_threshold", broken)
    runway = await alert(session, books, DetectionType.RUNWAY_THRESHOLD, amount="1")
    late = await alert(session, books, DetectionType.LATE_PAYMENT, entity_type="client", severity=AlertSeverity.THIS_WEEK)
    run = await prepare_actions(session, account=books.account, alerts=[runway, late], today=TODAY, now=NOW, settings=SCHEDULE_PATH)
    assert [e.detection_type for e in run.errors] == ["runway_threshold"] and len(run.actions) == 1


async def test_links_resolve_conflict_and_sequence(session: AsyncSession) -> None:
    books = await tight_books(session)
    cloud = (await session.execute(select(ObligationSchedule).where(ObligationSchedule.estimated_amount == Decimal("2500")))).scalar_one()
    payroll = (await session.execute(select(ObligationSchedule).where(ObligationSchedule.estimated_amount == Decimal("42000")))).scalar_one()
    alerts = [
        await alert(session, books, DetectionType.BUFFER_BREACH, amount="14000"),
        await alert(session, books, DetectionType.PAYROLL_SAFETY, entity_type="schedule", entity_id=payroll.id, amount="42000"),
        await alert(session, books, DetectionType.VENDOR_TERMS_EXPIRING, entity_type="schedule", entity_id=cloud.id, severity=AlertSeverity.THIS_WEEK),
        await alert(session, books, DetectionType.HEADCOUNT_CHANGE, severity=AlertSeverity.THIS_WEEK),
    ]
    run = await prepare_actions(session, account=books.account, alerts=alerts, today=TODAY, now=NOW, settings=SCHEDULE_PATH)
    assert not run.errors
    links = (await session.execute(select(LinkedAction))).scalars().all()
    kinds = {link.link_type.value for link in links}
    assert kinds == {"resolves", "conflicts", "sequence"}
    assert run.linked_action_groups >= 1


PAYROLL_WEEK = date(2026, 12, 10)  # payroll on Tue 15 Dec is within the 7 days payroll safety checks


async def targeted(
    session: AsyncSession, books: Books, kind: DetectionType, today: date = TODAY
) -> tuple[DetectionAlert, PreparedAction, list[ActionOption]]:
    config = PipelineConfig(mode=PipelineMode.TARGETED, detection_types=(kind,))
    now = datetime.combine(today, NOW.timetz())
    result = await run_detection_preparation_cycle(session, books.account.id, config, today=today, now=now, settings=SCHEDULE_PATH)
    assert result.errors == [] and result.actions_prepared == 1, result
    found = await session.execute(
        select(DetectionAlert, PreparedAction).join(PreparedAction, PreparedAction.alert_id == DetectionAlert.id)
        .where(DetectionAlert.detection_type == kind, DetectionAlert.status == AlertStatus.ACTIVE)
    )
    row, action = found.one()
    return row, action, await options_of(session, action)


async def test_a_payroll_plan_uses_the_cash_left_at_the_end_of_payroll_day_as_the_alert_does(session: AsyncSession) -> None:
    # A 5,000 bill the day after payroll, in the same forecast week (10-16 Dec), is not payroll's problem:
    # the plan's numbers are the alert's (cash at the end of payroll day), not the week's close.
    books = await tight_books(session)
    await books.expense("Printer lease", "5000", books.every("once", date(2026, 12, 16)), criticality="critical")
    await session.commit()
    alert_row, action, options = await targeted(session, books, DetectionType.PAYROLL_SAFETY, PAYROLL_WEEK)
    cash_after, required = Decimal(alert_row.context["cash_after"]), Decimal(alert_row.context["required_buffer"])
    # 38,000 in the bank, Acme's overdue 8,000 expected now, 2,500 and 6,000 of bills, 42,000 of payroll
    assert cash_after == Decimal("-4500") and required == Decimal("4200")
    assert action.action_type.value == "payroll_contingency"
    for option in options:
        body = option.draft_body or ""
        assert f"Cash after payroll: {format_money(cash_after, 'USD')}" in body, body
        assert f"Shortfall against the buffer: {format_money(required - cash_after, 'USD')}" in body, body


async def test_actions_restore_the_buffer_their_alert_was_raised_against(session: AsyncSession) -> None:
    # Conservative mode raises the 4,000 buffer to 5,000; an override puts 20% of payroll as its buffer.
    books = await tight_books(session)
    config = await session.get(UserConfiguration, books.account.id)
    assert config is not None
    config.safety_mode = SafetyMode.CONSERVATIVE
    session.add(DetectionRule(user_id=books.account.id, detection_type=DetectionType.PAYROLL_SAFETY, threshold_override=Decimal("20")))
    await session.commit()
    breach, action, _ = await targeted(session, books, DetectionType.BUFFER_BREACH)
    assert Decimal(breach.context["buffer"]) == Decimal("5000.00")
    assert action.amount == breach.amount  # the shortfall below the same 5,000
    payroll, plan, options = await targeted(session, books, DetectionType.PAYROLL_SAFETY, PAYROLL_WEEK)
    assert Decimal(payroll.context["required_buffer"]) == Decimal("8400.00")
    assert all("Minimum buffer: $8,400.00" in (o.draft_body or "") for o in options)
    context = await load_context(session, account_id=books.account.id, today=TODAY, settings=SCHEDULE_PATH)
    assert (context.buffer, context.payroll_buffer_percent) == (Decimal("5000.00"), Decimal("20"))


async def test_the_context_takes_the_same_number_of_queries_whatever_the_size(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with session_factory() as session:
        small = await small_business(session)
        large = await large_business(session)

    async def count(account_id: str) -> tuple[int, Any]:
        statements: list[str] = []

        def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            statements.append(statement)

        event.listen(engine.sync_engine, "before_cursor_execute", record)
        try:
            async with session_factory() as session:
                ctx = await load_context(session, account_id=account_id, today=SNAPSHOT_DAY, settings=SCHEDULE_PATH)
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", record)
        return len(statements), ctx

    for business in (small, large):  # its schedules generated through the forecast's end, as the 6 AM job does
        async with session_factory() as session, session.begin():
            await extend_schedules(session, account_id=business.account.id, through=SNAPSHOT_DAY + timedelta(weeks=13),
                                   settings=SCHEDULE_PATH, today=SNAPSHOT_DAY, now=datetime.combine(SNAPSHOT_DAY, time(6), UTC))
    small_count, small_ctx = await count(small.account.id)
    large_count, large_ctx = await count(large.account.id)
    assert len(large_ctx.schedules) > 10 * len(small_ctx.schedules) and len(large_ctx.clients) == 80
    # the detection snapshot's seven and its forecast's five, + the configuration and its overrides, + two for the
    # clients' standing, + what earlier decisions committed (a pipeline run builds it on its own snapshot: five)
    assert small_count == large_count and small_count <= 17


# -- every payroll at risk gets a plan; a buffer breach gets one buffer response --------------

PAYDAY = date(2026, 12, 10)


async def short_of_payroll(session: AsyncSession, settings: Settings = SCHEDULE_PATH, *, payroll_category: str = "payroll",
                           late_clients: bool = True, flexible_vendor: bool = True, usual_delay: int = 0) -> Books:
    """60,000 of payroll on Thu 10 Dec, 10,000 in the bank, the credit line drawn to its limit, no savings,
    the one vendor that can wait due after payroll, and (``late_clients``) Acme and Globex late with 42,000.
    With a ``usual_delay`` of 40 days the forecast expects their money only after payroll."""
    books = await Books.open(session, today=TODAY, settings=settings)
    await books.cash("Operating", "10000")
    await books.cash("Credit line", "-25000", account_type="credit_line", credit_limit=Decimal("25000"))
    if payroll_category == "payroll":
        await books.expense("Payroll", "60000", books.every("once", PAYDAY), category="payroll")
    else:  # a payroll provider's bill filed as an expense, its vendor later put in the payroll category
        gusto = await books.expense("Gusto", "60000", books.every("once", PAYDAY))
        gusto.category = ExpenseCategory.PAYROLL
    await books.expense("Cloud Host", "2500", books.every("once", date(2026, 12, 18)), flexibility_level="can_delay" if flexible_vendor else "cannot_delay",
                        criticality="flexible", contact_email="billing@cloudhost.test")
    if late_clients:
        await books.client("Acme Corp", "30000", books.every("once", date(2026, 11, 20)), contact_email="ap@acme.test", relationship_type="transactional",
                           avg_payment_delay_days=usual_delay)
        await books.client("Globex", "12000", books.every("once", date(2026, 11, 25)), contact_email="ar@globex.test", relationship_type="transactional",
                           avg_payment_delay_days=usual_delay)
    await session.commit()
    return books


async def payroll_plan(session: AsyncSession, books: Books) -> tuple[DetectionAlert, PreparedAction, list[ActionOption]]:
    config = PipelineConfig(mode=PipelineMode.TARGETED, detection_types=(DetectionType.PAYROLL_SAFETY,))
    result = await run_detection_preparation_cycle(session, books.account.id, config, today=TODAY, now=NOW, settings=books.settings)
    assert result.errors == [] and result.alerts_by_type == {"payroll_safety": 1}, result
    assert result.actions_by_type == {"payroll_contingency": 1}, result  # the alert has its plan
    alert_row, action = (await session.execute(select(DetectionAlert, PreparedAction).join(PreparedAction, PreparedAction.alert_id == DetectionAlert.id))).one()
    return alert_row, action, await options_of(session, action)


async def test_payroll_with_nothing_to_move_gets_a_plan_naming_the_sum_to_put_in(session: AsyncSession) -> None:
    # The forecast counts Acme's and Globex's 42,000 as paid today, so chasing them closes none of the gap.
    books = await short_of_payroll(session)
    alert_row, action, [option] = await payroll_plan(session, books)
    assert (Decimal(alert_row.context["cash_after"]), alert_row.amount) == (Decimal("-8000"), Decimal("14000.00"))
    assert option.kind == "confirm_plan" and option.title == "Put $14,000.00 into Operating before Thu 10 Dec"
    assert option.params == {"payroll_schedule_id": alert_row.entity_id, "steps": []} and option.amount == Decimal("14000")
    assert "- Put $14,000.00 into Operating before Thu 10 Dec" in (option.draft_body or "")
    assert "already counts $42,000.00 of overdue invoices" in (option.description or "")


async def test_payroll_with_late_clients_not_in_the_forecast_is_a_plan_to_collect_them(session: AsyncSession) -> None:
    books = await short_of_payroll(session, usual_delay=40)  # they usually pay 40 days late: expected after payroll
    alert_row, action, [option] = await payroll_plan(session, books)
    assert Decimal(alert_row.context["cash_after"]) == Decimal("-50000") and action.requires_admin
    assert option.kind == "confirm_plan" and option.amount == Decimal("42000")
    assert option.title == "Collect $42,000.00 before payroll: Acme Corp's $30,000.00 (17 days late), Globex's $12,000.00 (12 days late)"
    steps = option.params["steps"]
    assert [(s["kind"], s["to"]) for s in steps] == [("send_email", "ap@acme.test"), ("send_email", "ar@globex.test")]
    assert all("$30,000.00" in steps[0][k] or k == "subject" for k in ("subject", "body")) and "Acme Corp" in steps[0]["body"]
    body = option.draft_body or ""
    assert "- Ask Acme Corp to pay $30,000.00 now (17 days late)" in body and "- Ask Globex to pay $12,000.00 now (12 days late)" in body
    assert option.forecast_lowest_balance is not None and option.forecast_lowest_balance > Decimal("-50000")  # the money arrives in the re-run forecast


async def test_payroll_paid_to_a_payroll_vendor_as_an_expense_gets_its_plan(session: AsyncSession) -> None:
    books = await short_of_payroll(session, payroll_category="operating", late_clients=False)
    alert_row, action, [option] = await payroll_plan(session, books)
    assert action.counterparty_name == "Gusto" and action.amount == Decimal("60000")
    assert option.params["payroll_schedule_id"] == alert_row.entity_id and option.title == "Put $56,000.00 into Operating before Thu 10 Dec"


async def test_a_plan_to_collect_before_payroll_emails_each_client_and_queues_payroll(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with session_factory() as session:
        books = await short_of_payroll(session, usual_delay=40)
        _, action, [option] = await payroll_plan(session, books)
        admin = await ensure_member(session, account_id=books.account.id, slack_user_id="UADA", display_name="ada", role=Role.ADMIN, now=NOW)
        await approve(session, account=books.account, member=admin, action_id=action.id, option_id=option.id, now=NOW, settings=settings_for())
        second = await ensure_member(session, account_id=books.account.id, slack_user_id="UBEA", display_name="bea", role=Role.ADMIN, now=NOW)
        decision = await approve(session, account=books.account, member=second, action_id=action.id, option_id=option.id, now=NOW, settings=settings_for())
        assert decision.outcome == "approved"  # 60,000 of payroll: two admins
        await session.commit()
        account_id, payroll_id = books.account.id, option.params["payroll_schedule_id"]
    with Mailbox() as mailbox:
        outcome = await execute_action(session_factory, account_id=account_id, action_id=action.id, now=NOW, settings=settings_for(mailbox.port))
    assert outcome.status == "executed", outcome.error
    assert sorted(str(m["To"]) for m in mailbox.messages) == ["ap@acme.test", "ar@globex.test"]
    async with session_factory() as session:
        payroll = await session.get(ObligationSchedule, payroll_id)
        assert payroll is not None and payroll.status == ScheduleStatus.QUEUED


async def test_a_buffer_breach_is_one_buffer_response_whatever_ranks_first(session: AsyncSession) -> None:
    books = await tight_books(session)
    breach = await alert(session, books, DetectionType.BUFFER_BREACH, amount="14000")
    [action] = (await prepare_actions(session, account=books.account, alerts=[breach], today=TODAY, now=NOW, settings=SCHEDULE_PATH)).actions
    assert action.action_type.value == "payment_prioritization" and "below your buffer" in action.title
    assert {o.kind for o in await options_of(session, action)} == {"delay_payment", "credit_draw", "send_email"}


async def test_with_no_buffer_set_the_plan_speaks_of_zero(session: AsyncSession) -> None:
    # The old card said "Cash dips ... below your buffer" while settings said "No buffer set".
    books = await tight_books(session)
    config = await session.get(UserConfiguration, books.account.id)
    assert config is not None
    config.obligations_buffer_amount = Decimal("0")
    breach = await alert(session, books, DetectionType.BUFFER_BREACH, amount="10000")
    [action] = (await prepare_actions(session, account=books.account, alerts=[breach], today=TODAY, now=NOW, settings=SCHEDULE_PATH)).actions
    assert action.title.startswith("Cash goes $") and " below zero in the week of " in action.title and "buffer" not in action.title
    credit = next(o for o in await options_of(session, action) if o.kind == "credit_draw")
    assert credit.description and "Keeps cash above zero" in credit.description and "buffer" not in credit.description


async def test_a_buffer_breach_with_only_late_clients_to_turn_to_offers_to_chase_the_largest_of_them(session: AsyncSession) -> None:
    books = await short_of_payroll(session, flexible_vendor=False, usual_delay=40)
    await books.client("Initech", "5000", books.every("once", date(2026, 11, 30)), contact_email="ap@initech.test")
    await books.client("Hooli", "900", books.every("once", date(2026, 12, 1)), contact_email="ap@hooli.test")
    await session.commit()
    config = PipelineConfig(mode=PipelineMode.TARGETED, detection_types=(DetectionType.BUFFER_BREACH,))
    result = await run_detection_preparation_cycle(session, books.account.id, config, today=TODAY, now=NOW, settings=SCHEDULE_PATH)
    assert result.actions_by_type == {"payment_prioritization": 1}, result  # not an invoice follow-up for a buffer breach
    action = (await session.execute(select(PreparedAction))).scalar_one()
    options = await options_of(session, action)
    assert sorted((o.kind, o.counterparty_name, o.amount) for o in options) == [
        ("send_email", "Acme Corp", Decimal("30000")), ("send_email", "Globex", Decimal("12000")), ("send_email", "Initech", Decimal("5000")),
    ]  # no credit left, no vendor that can wait: the three largest of four late clients, each its own option
    assert all(o.recipient_email and o.draft_body for o in options)

"""Detection on a real database: alerts deduplicate on rerun, resolve, escalate, respect dismissals and
rule settings, survive a crashing rule, and never duplicate when two runs race."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tamio.detection.engine import DetectionEngine, DetectionRun
from tamio.detection.models import AlertSeverity, AlertStatus, DetectionAlert, DetectionRule, DetectionType
from tamio.obligations.models import ObligationSchedule
from tamio.obligations.payments import record_payment
from tests.service.books import SCHEDULE_PATH, Books
from tests.waiting import until

MONDAY = date(2026, 12, 7)
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


async def tight_books(session: AsyncSession) -> Books:
    """30,000 in the bank, payroll of 42,000 on Thu 10 Dec, VAT on Wed 9 Dec, Acme 17 days late with 8,000."""
    books = await Books.open(session, today=MONDAY)
    await books.cash("Operating", "30000")
    await books.expense("Payroll", "42000", books.every("once", date(2026, 12, 10)), category="payroll")
    await books.expense("HMRC VAT", "4200", books.every("once", date(2026, 12, 9)), category="tax")
    await books.client("Acme Corp", "8000", books.every("once", date(2026, 11, 20)), contact_email="ap@acme.test")
    await session.commit()
    return books


async def run(session: AsyncSession, books: Books, *, today: date = MONDAY, now: datetime = NOW, critical: bool = False) -> DetectionRun:
    engine = DetectionEngine(session, books.account.id, today=today, now=now, settings=SCHEDULE_PATH)
    result = await (engine.run_critical_detections() if critical else engine.run_all_detections())
    await session.commit()
    return result


async def stored(session: AsyncSession, books: Books, **where: object) -> list[DetectionAlert]:
    stmt = select(DetectionAlert).where(DetectionAlert.user_id == books.account.id).filter_by(**where).order_by(DetectionAlert.created_at)
    return list((await session.execute(stmt.execution_options(populate_existing=True))).scalars().all())


def by_type(result: DetectionRun, detection_type: DetectionType) -> DetectionAlert:
    return next(a for a in result.alerts if a.detection_type == detection_type)


async def acme_invoice(session: AsyncSession) -> ObligationSchedule:
    return (await session.execute(select(ObligationSchedule).where(ObligationSchedule.estimated_amount == Decimal("8000")))).scalar_one()


async def test_the_first_run_raises_alerts_most_urgent_first(session: AsyncSession) -> None:
    books = await tight_books(session)
    result = await run(session, books)
    types = {a.detection_type for a in result.alerts}
    assert {DetectionType.BUFFER_BREACH, DetectionType.PAYROLL_SAFETY, DetectionType.STATUTORY_DEADLINE, DetectionType.LATE_PAYMENT} <= types
    assert result.errors == [] and len(result.ran) == 12
    assert {a.id for a in result.new} == {a.id for a in result.alerts}
    assert result.alerts[0].severity == AlertSeverity.EMERGENCY and list(result) == result.alerts
    late = by_type(result, DetectionType.LATE_PAYMENT)
    assert (late.severity, late.title, late.amount, late.status) == (AlertSeverity.THIS_WEEK, "Acme Corp is 17 days late", Decimal("8000"), AlertStatus.ACTIVE)
    assert late.context["schedule_id"] == (await acme_invoice(session)).id and late.first_detected_at == NOW
    assert len(await stored(session, books)) == len(result.alerts)


async def test_a_rerun_updates_the_open_alerts_instead_of_adding_more(session: AsyncSession) -> None:
    books = await tight_books(session)
    first = await run(session, books)
    later = NOW + timedelta(hours=1)
    again = await run(session, books, now=later)
    assert again.new == [] and again.resolved == [] and again.escalated == []
    assert {a.id for a in again.alerts} == {a.id for a in first.alerts}
    rows = await stored(session, books)
    assert len(rows) == len(first.alerts) and all(r.last_detected_at == later and r.first_detected_at == NOW for r in rows)


async def test_an_alert_whose_problem_is_gone_is_resolved_with_the_time(session: AsyncSession) -> None:
    books = await tight_books(session)
    first = await run(session, books)
    late = by_type(first, DetectionType.LATE_PAYMENT)
    await record_payment(session, account=books.account, amount=Decimal("8000"), currency="USD", payment_date=MONDAY,
                         schedule=await acme_invoice(session), adjust_balance=False, now=NOW)
    later = NOW + timedelta(minutes=5)
    again = await run(session, books, now=later)
    assert late.id in {a.id for a in again.resolved} and all(a.detection_type != DetectionType.LATE_PAYMENT for a in again.alerts)
    [row] = await stored(session, books, id=late.id)
    assert (row.status, row.resolved_at) == (AlertStatus.RESOLVED, later)
    assert late.id not in {a.id for a in again.alerts}


async def test_a_late_invoice_that_crosses_30_days_is_escalated_once(session: AsyncSession) -> None:
    books = await tight_books(session)
    first = await run(session, books)
    late = by_type(first, DetectionType.LATE_PAYMENT)
    assert late.severity == AlertSeverity.THIS_WEEK
    day_30 = MONDAY + timedelta(days=13)
    raised = await run(session, books, today=day_30, now=NOW + timedelta(days=13))
    [row] = await stored(session, books, id=late.id)
    assert [a.id for a in raised.escalated] == [late.id]
    assert (row.severity, row.previous_severity, row.escalated, row.escalation_count) == (AlertSeverity.EMERGENCY, AlertSeverity.THIS_WEEK, True, 1)
    assert row.title == "Acme Corp is 30 days late"
    steady = await run(session, books, today=day_30 + timedelta(days=1), now=NOW + timedelta(days=14))
    assert steady.escalated == [] and (await stored(session, books, id=late.id))[0].escalation_count == 1


async def test_an_acknowledged_alert_keeps_updating_and_is_active_again_when_it_escalates(session: AsyncSession) -> None:
    books = await tight_books(session)
    late = by_type(await run(session, books), DetectionType.LATE_PAYMENT)
    late.status = AlertStatus.ACKNOWLEDGED
    await session.commit()
    again = await run(session, books, today=MONDAY + timedelta(days=1), now=NOW + timedelta(days=1))
    assert again.new == [] and by_type(again, DetectionType.LATE_PAYMENT).id == late.id
    [row] = await stored(session, books, id=late.id)
    assert (row.status, row.title) == (AlertStatus.ACKNOWLEDGED, "Acme Corp is 18 days late")
    raised = await run(session, books, today=MONDAY + timedelta(days=13), now=NOW + timedelta(days=13))
    assert [a.id for a in raised.escalated] == [late.id]
    assert (await stored(session, books, id=late.id))[0].status == AlertStatus.ACTIVE


async def test_a_crashing_rule_is_an_error_record_and_its_alerts_are_left_alone(session: AsyncSession) -> None:
    books = await tight_books(session)
    first = await run(session, books)
    late = by_type(first, DetectionType.LATE_PAYMENT)
    session.add(DetectionRule(user_id=books.account.id, detection_type=DetectionType.LATE_PAYMENT, threshold_override=Decimal("NaN")))
    await record_payment(session, account=books.account, amount=Decimal("8000"), currency="USD", payment_date=MONDAY,
                         schedule=await acme_invoice(session), adjust_balance=False, now=NOW)
    again = await run(session, books, now=NOW + timedelta(minutes=5))
    assert [e.detection_type for e in again.errors] == ["late_payment"] and "NaN" in again.errors[0].error
    assert DetectionType.LATE_PAYMENT not in again.ran and len(again.ran) == 11
    assert (await stored(session, books, id=late.id))[0].status == AlertStatus.ACTIVE  # not resolved by a rule that did not run
    assert by_type(again, DetectionType.PAYROLL_SAFETY).last_detected_at == NOW + timedelta(minutes=5)


async def test_a_critical_run_leaves_the_other_types_alerts_alone(session: AsyncSession) -> None:
    books = await tight_books(session)
    first = await run(session, books)
    late = by_type(first, DetectionType.LATE_PAYMENT)
    await record_payment(session, account=books.account, amount=Decimal("8000"), currency="USD", payment_date=MONDAY,
                         schedule=await acme_invoice(session), adjust_balance=False, now=NOW)
    critical = await run(session, books, critical=True, now=NOW + timedelta(minutes=5))
    assert set(critical.ran) == {DetectionType.BUFFER_BREACH, DetectionType.PAYROLL_SAFETY, DetectionType.STATUTORY_DEADLINE}
    assert {a.detection_type for a in critical.alerts} <= set(critical.ran) and critical.resolved == []
    assert (await stored(session, books, id=late.id))[0].status == AlertStatus.ACTIVE


async def test_an_account_can_switch_a_type_off_or_change_its_threshold(session: AsyncSession) -> None:
    books = await tight_books(session)
    session.add(DetectionRule(user_id=books.account.id, detection_type=DetectionType.STATUTORY_DEADLINE, enabled=False))
    session.add(DetectionRule(user_id=books.account.id, detection_type=DetectionType.LATE_PAYMENT, threshold_override=Decimal("20")))
    await session.commit()
    result = await run(session, books)
    assert DetectionType.STATUTORY_DEADLINE not in result.ran
    assert not any(a.detection_type in (DetectionType.STATUTORY_DEADLINE, DetectionType.LATE_PAYMENT) for a in result.alerts)


async def test_switching_a_type_off_resolves_its_open_alerts_and_supersedes_their_actions(session: AsyncSession) -> None:
    from tamio.pipeline import PipelineConfig, run_detection_preparation_cycle
    from tamio.preparation.models import ActionStatus, PreparedAction

    books = await tight_books(session)
    first = await run_detection_preparation_cycle(session, books.account.id, PipelineConfig(), today=MONDAY, now=NOW, settings=SCHEDULE_PATH)
    await session.commit()
    assert first.alerts_by_type["late_payment"] == 1
    [late] = await stored(session, books, detection_type=DetectionType.LATE_PAYMENT)
    action = (await session.execute(select(PreparedAction).where(PreparedAction.alert_id == late.id))).scalar_one()
    assert action.status == ActionStatus.PENDING

    session.add(DetectionRule(user_id=books.account.id, detection_type=DetectionType.LATE_PAYMENT, enabled=False))
    await session.commit()
    later = NOW + timedelta(hours=1)
    off = await run_detection_preparation_cycle(session, books.account.id, PipelineConfig(), today=MONDAY, now=later, settings=SCHEDULE_PATH)
    await session.commit()
    assert "late_payment" not in off.alerts_by_type and off.errors == []
    [gone] = await stored(session, books, detection_type=DetectionType.LATE_PAYMENT)
    assert gone.status == AlertStatus.RESOLVED and gone.resolved_at == later
    await session.refresh(action)
    assert action.status == ActionStatus.SUPERSEDED

    rule = (await session.execute(select(DetectionRule))).scalar_one()
    rule.enabled = True
    await session.commit()
    again = await run(session, books, now=later + timedelta(hours=1))
    [back] = [a for a in again.new if a.detection_type == DetectionType.LATE_PAYMENT]
    assert back.id != late.id and back.status == AlertStatus.ACTIVE


async def test_a_dismissed_alert_stays_dismissed_unless_it_gets_worse(session: AsyncSession) -> None:
    books = await tight_books(session)
    late = by_type(await run(session, books), DetectionType.LATE_PAYMENT)
    late.status = AlertStatus.DISMISSED
    await session.commit()
    quiet = await run(session, books, today=MONDAY + timedelta(days=1), now=NOW + timedelta(days=1))
    assert quiet.new == [] and DetectionType.LATE_PAYMENT not in {a.detection_type for a in quiet.alerts}
    [still] = await stored(session, books, id=late.id)  # seen again at the run's clock (updated_at was the wall clock's)
    assert (still.status, still.last_detected_at, still.updated_at) == (AlertStatus.DISMISSED, NOW + timedelta(days=1), NOW + timedelta(days=1))
    worse = await run(session, books, today=MONDAY + timedelta(days=13), now=NOW + timedelta(days=13))
    [reraised] = [a for a in worse.new if a.detection_type == DetectionType.LATE_PAYMENT]
    assert reraised.id != late.id and reraised.severity == AlertSeverity.EMERGENCY and reraised.fingerprint == late.fingerprint


@pytest.mark.backends("pg")  # on SQLite a writing transaction takes the lock at BEGIN: the second run cannot read first
async def test_two_runs_racing_on_one_account_never_duplicate_an_alert(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as setup:
        books = await tight_books(setup)
    inserting = asyncio.Event()

    def watch(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO DETECTION_ALERTS"):
            inserting.set()

    async with session_factory() as first, session_factory() as second:
        run_a = await DetectionEngine(first, books.account.id, today=MONDAY, now=NOW, settings=SCHEDULE_PATH).run_all_detections()
        assert run_a.new  # inserted, not yet committed
        event.listen(engine.sync_engine, "before_cursor_execute", watch)
        try:
            racing = asyncio.create_task(
                DetectionEngine(second, books.account.id, today=MONDAY, now=NOW + timedelta(seconds=1), settings=SCHEDULE_PATH).run_all_detections()
            )
            # The barrier: the second run found no open alerts (the first's are uncommitted) and is
            # inserting its own, or it waits for a lock the first holds. Only then does the first commit.
            async def second_is_inserting_or_waiting() -> bool:
                if inserting.is_set():
                    return True
                async with session_factory() as probe:
                    return bool((await probe.execute(text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
                    ))).scalar_one())

            await until(second_is_inserting_or_waiting, what="the second run inserts its alerts or waits for the first")
            await first.commit()
            run_b = await asyncio.wait_for(racing, timeout=60)
            await second.commit()
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", watch)
    assert run_b.errors == [] and run_b.new == []
    assert {a.id for a in run_b.alerts} == {a.id for a in run_a.alerts}
    async with session_factory() as check:
        open_rows = (
            await check.execute(
                select(DetectionAlert.fingerprint, func.count()).where(DetectionAlert.status == AlertStatus.ACTIVE).group_by(DetectionAlert.fingerprint)
            )
        ).all()
    assert open_rows and all(count == 1 for _, count in open_rows)


async def test_the_pipeline_prepares_actions_from_the_engines_alerts(session: AsyncSession) -> None:
    from tamio.pipeline import PipelineConfig, run_detection_preparation_cycle

    books = await tight_books(session)
    await books.cash("Savings", "8000", account_type="savings")
    await books.expense("Cloud Host", "2500", books.every("once", date(2026, 12, 10)), flexibility_level="can_delay", criticality="flexible")
    result = await run_detection_preparation_cycle(session, books.account.id, PipelineConfig(), today=MONDAY, now=NOW, settings=SCHEDULE_PATH)
    await session.commit()
    assert result.errors == [] and result.alerts_detected == len(await stored(session, books))
    assert result.alerts_by_type["late_payment"] == 1 and result.alerts_by_severity["emergency"] >= 3
    # every alert carried what its agent needs: one action each
    assert result.actions_prepared == result.alerts_detected

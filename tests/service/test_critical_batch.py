"""The 5-minute critical pass and the hourly full one, for a batch of accounts, leave exactly what
each account's own cycle leaves: the same alerts (new, refreshed, escalated, resolved, dismissals kept), prepared actions,
outbox rows and pipeline runs, on both forecast paths, with overrides, safety modes, time zones and
a missing configuration; and a batch that fails runs its accounts one by one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import delete, event, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tamio.accounts.models import Account, SafetyMode, UserConfiguration
from tamio.config import Settings
from tamio.detection.models import AlertStatus, DetectionAlert, DetectionRule, DetectionType
from tamio.execution.models import ExecutionAutomationRule
from tamio.obligations.models import ObligationSchedule, ScheduleStatus
from tamio.outbox.models import OutboxMessage
from tamio.pipeline import (
    PipelineConfig,
    PipelineMode,
    PipelineRun,
    run_critical_cycles,
    run_cycles,
    run_detection_preparation_cycle,
)
from tamio.preparation.models import ActionStatus, PreparedAction
from tamio.scheduler.jobs import default_jobs
from tamio.scheduler.runner import SchedulerApp
from tests.service.books import LEGACY_PATH, SCHEDULE_PATH, Books

MONDAY = date(2026, 12, 7)
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


async def businesses(session: AsyncSession, settings: Settings) -> list[str]:
    """Six businesses that between them raise, refresh, escalate and resolve every critical type."""
    ids = []
    for n, (cash, buffer) in enumerate([("30000", "5000"), ("90000", "0"), ("52000", "20000"), ("30000", "0"),
                                         ("45000", "10000"), ("20000", "0")]):
        books = await Books.open(session, today=MONDAY, settings=settings, name=f"Shop {n}")
        await books.cash("Operating", cash)
        await books.expense("Payroll", "42000", books.every("monthly", date(2026, 12, 10), day=10), category="payroll")
        await books.expense("HMRC VAT", "4200", books.every("once", date(2026, 12, 9 + 3 * n)), category="tax")
        await books.expense("Rent", "3000", books.every("monthly", date(2026, 12, 18), day=18))
        await books.expense("Pension levy", "900", books.every("once", date(2026, 12, 28)), category="statutory")
        await books.client("Acme Corp", "8000", books.every("monthly", date(2026, 11, 20), day=20), avg_payment_delay_days=n)
        config = await session.get(UserConfiguration, books.account.id)
        assert config is not None
        config.obligations_buffer_amount = Decimal(buffer)
        ids.append(books.account.id)
    config = await session.get(UserConfiguration, ids[2])
    assert config is not None
    config.safety_mode = SafetyMode.CONSERVATIVE
    session.add_all([
        DetectionRule(user_id=ids[3], detection_type=DetectionType.STATUTORY_DEADLINE, threshold_override=Decimal(30)),
        DetectionRule(user_id=ids[3], detection_type=DetectionType.PAYROLL_SAFETY, threshold_override=Decimal(150)),
        DetectionRule(user_id=ids[4], detection_type=DetectionType.BUFFER_BREACH, enabled=False),
    ])
    await session.execute(update(Account).where(Account.id == ids[4]).values(timezone="Pacific/Kiritimati"))
    await session.execute(delete(UserConfiguration).where(UserConfiguration.user_id == ids[5]))
    await session.commit()
    return ids


async def state(session: AsyncSession) -> dict[str, Any]:
    """What a pass leaves, with random ids replaced by what they stand for."""
    alerts = (await session.execute(select(DetectionAlert).execution_options(populate_existing=True))).scalars().all()
    names = {a.id: f"{a.user_id}|{a.fingerprint}|{a.status.value}" for a in alerts}
    actions = (await session.execute(select(PreparedAction).execution_options(populate_existing=True))).scalars().all()
    names |= {a.id: f"{names.get(a.alert_id or '')}|{a.action_type.value}" for a in actions}

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in sorted(value.items()) if not k.endswith("duration_ms")}
        if isinstance(value, list):
            return [plain(v) for v in value]
        if isinstance(value, str):
            for key, name in names.items():
                value = value.replace(key, name)
        return value

    outbox = (await session.execute(select(OutboxMessage.user_id, OutboxMessage.kind, OutboxMessage.idempotency_key,
                                           OutboxMessage.payload))).all()
    runs = (await session.execute(select(PipelineRun.user_id, PipelineRun.mode, PipelineRun.trigger, PipelineRun.alerts_detected,
                                         PipelineRun.actions_prepared, PipelineRun.error_count, PipelineRun.result))).all()
    schedule_names = {s.id: f"{s.obligation_id}|{s.due_date}" for s in (await session.execute(select(ObligationSchedule))).scalars()}
    names |= schedule_names
    return {
        "alerts": sorted(repr(plain({
            "user": a.user_id, "type": a.detection_type.value, "fingerprint": a.fingerprint, "status": a.status.value,
            "severity": a.severity.value, "previous": a.previous_severity, "escalated": a.escalated, "count": a.escalation_count,
            "title": a.title, "explanation": a.explanation, "amount": a.amount, "due": a.due_date, "context": a.context,
            "first": a.first_detected_at, "last": a.last_detected_at, "resolved": a.resolved_at,
        })) for a in alerts),
        "actions": sorted(repr(plain({
            "user": a.user_id, "alert": names.get(a.alert_id or ""), "type": a.action_type.value, "status": a.status.value,
            "title": a.title, "summary": a.summary, "amount": a.amount, "deadline": a.deadline,
        })) for a in actions),
        "outbox": sorted(repr(plain([u, k, key, p])) for u, k, key, p in outbox),
        "runs": sorted(repr(plain([u, m, t, n, p, e, r])) for u, m, t, n, p, e, r in runs),
    }


def days_of(ids: list[str], accounts: dict[str, Account], now: datetime) -> dict[str, date]:
    from tamio.scheduler.jobs import local_today

    return {i: local_today(accounts[i], now) for i in ids}


async def one_by_one(session: AsyncSession, ids: list[str], now: datetime, settings: Settings,
                     mode: PipelineMode = PipelineMode.CRITICAL) -> dict[str, Any]:
    accounts = {a.id: a for a in (await session.execute(select(Account).where(Account.id.in_(ids)))).scalars()}
    today = days_of(ids, accounts, now)
    results = {}
    for i in ids:
        result = await run_detection_preparation_cycle(session, i, PipelineConfig(mode=mode), today=today[i],
                                                       now=now, settings=settings, trigger=f"{mode.value}@test")
        results[i] = (result.alerts_detected, result.actions_prepared, result.errors)
    return results


async def batched(session: AsyncSession, ids: list[str], now: datetime, settings: Settings,
                  mode: PipelineMode = PipelineMode.CRITICAL) -> dict[str, Any]:
    accounts = {a.id: a for a in (await session.execute(select(Account).where(Account.id.in_(ids)))).scalars()}
    if mode == PipelineMode.CRITICAL:
        found = await run_critical_cycles(session, [accounts[i] for i in ids], today=days_of(ids, accounts, now), now=now,
                                          settings=settings, trigger="critical@test")
    else:
        found = await run_cycles(session, [accounts[i] for i in ids], PipelineConfig(mode=mode), today=days_of(ids, accounts, now),
                                 now=now, settings=settings, trigger=f"{mode.value}@test")
    return {i: (r.alerts_detected, r.actions_prepared, r.errors) for i, r in found.items()}


async def dismiss_and_pay(session: AsyncSession, ids: list[str]) -> None:
    """Between passes: a dismissal, an acknowledgement, a paid payroll, a skipped action, no buffer."""
    alerts = (await session.execute(select(DetectionAlert).where(DetectionAlert.status == AlertStatus.ACTIVE)
                                    .order_by(DetectionAlert.user_id, DetectionAlert.fingerprint))).scalars().all()
    first = {a.user_id: a for a in reversed(alerts)}
    if ids[0] in first:
        first[ids[0]].status = AlertStatus.DISMISSED
    if ids[1] in first:
        first[ids[1]].status = AlertStatus.ACKNOWLEDGED
    await session.execute(
        update(ObligationSchedule)
        .where(ObligationSchedule.user_id == ids[3], ObligationSchedule.due_date == date(2026, 12, 10))
        .values(status=ScheduleStatus.PAID, paid_amount=ObligationSchedule.estimated_amount,
                paid_base_amount=ObligationSchedule.base_currency_amount)
    )
    action = (await session.execute(select(PreparedAction).where(PreparedAction.user_id == ids[2],
                                                                 PreparedAction.status == ActionStatus.PENDING))).scalars().first()
    if action is not None:
        action.status = ActionStatus.SKIPPED
    config = await session.get(UserConfiguration, ids[0])
    assert config is not None
    config.obligations_buffer_amount = Decimal(0)
    await session.commit()


@pytest.mark.parametrize("mode", [PipelineMode.CRITICAL, PipelineMode.FULL], ids=["critical", "full"])
@pytest.mark.parametrize("settings", [SCHEDULE_PATH, LEGACY_PATH], ids=["schedules", "legacy"])
async def test_a_batch_leaves_what_each_accounts_own_cycle_leaves(session: AsyncSession, settings: Settings, mode: PipelineMode) -> None:
    ids = await businesses(session, settings)
    passes: list[tuple[datetime, Callable[[AsyncSession, list[str]], Any] | None]] = [
        (NOW, dismiss_and_pay), (NOW + timedelta(minutes=5), None), (NOW + timedelta(days=4), None),
    ]
    for now, between in passes:
        alone = await one_by_one(session, ids, now, settings, mode)
        expected = await state(session)
        await session.rollback()
        together = await batched(session, ids, now, settings, mode)
        got = await state(session)
        await session.commit()
        assert together == alone
        assert got == expected
        if between is not None:
            await between(session, ids)
    # The passes went through every case: raised, refreshed, escalated, resolved, dismissed, acknowledged.
    statuses = set((await session.execute(select(DetectionAlert.status))).scalars())
    assert statuses == {AlertStatus.ACTIVE, AlertStatus.ACKNOWLEDGED, AlertStatus.DISMISSED, AlertStatus.RESOLVED}
    kinds = set((await session.execute(select(OutboxMessage.kind))).scalars())
    assert {"alert_new", "alert_escalated", "alert_resolved", "action_card"} <= kinds
    types = set((await session.execute(select(DetectionAlert.detection_type))).scalars())
    critical = {DetectionType.BUFFER_BREACH, DetectionType.PAYROLL_SAFETY, DetectionType.STATUTORY_DEADLINE}
    assert types == critical if mode == PipelineMode.CRITICAL else types > critical, types


@pytest.mark.parametrize("job", ["critical", "pipeline"])
async def test_the_scheduler_runs_the_critical_pass_in_batches_and_a_failing_batch_one_by_one(
    session_factory: async_sessionmaker[AsyncSession], job: str,
) -> None:
    async with session_factory() as db:
        ids = await businesses(db, SCHEDULE_PATH)
        await db.execute(update(Account).where(Account.id == ids[1]).values(timezone="Mars/Olympus_Mons"))
        await db.commit()
    app = SchedulerApp(SCHEDULE_PATH, session_factory, clock=lambda: datetime(2026, 12, 7, 9, 1, tzinfo=UTC), batch=2,
                       jobs={job: default_jobs()[job]})
    assert [len(c) for c in app._chunks([f"a{i}" for i in range(6)])] == [2, 2, 2]
    [report] = await app.run_due(job)
    assert (report.outcome, report.accounts, report.failed) == ("partial", 6, (ids[1],))
    async with session_factory() as db:
        runs = sorted((await db.execute(select(PipelineRun.user_id))).scalars())
        alerts = (await db.execute(select(DetectionAlert.user_id).distinct())).scalars().all()
    assert runs == sorted(i for i in ids if i != ids[1])  # the broken one's batch mate still ran
    assert ids[1] not in alerts and report.details["alerts"] > 0


async def automatic(session: AsyncSession, account_id: str) -> None:
    """Every action type carried out on its own (payroll never is, whatever its rule says), whatever the amount."""
    await session.execute(update(ExecutionAutomationRule).where(ExecutionAutomationRule.user_id == account_id).values(
        auto_execute=True, require_approval=False, is_locked=False, threshold_amount=None, included_tags=[], excluded_tags=[],
    ))
    await session.commit()


async def test_a_batch_carries_out_what_automatic_rules_allow_as_each_accounts_own_cycle_does(session: AsyncSession) -> None:
    ids = await businesses(session, SCHEDULE_PATH)
    for account_id in (ids[1], ids[3]):
        await automatic(session, account_id)
    alone = await one_by_one(session, ids, NOW, SCHEDULE_PATH, PipelineMode.FULL)
    expected = await state(session)
    await session.rollback()
    together = await batched(session, ids, NOW, SCHEDULE_PATH, PipelineMode.FULL)
    assert together == alone
    assert await state(session) == expected
    carried = (await session.execute(select(PreparedAction.user_id).where(PreparedAction.auto_executed.is_(True)))).scalars().all()
    assert set(carried) <= {ids[1], ids[3]} and carried, "some actions of the automatic accounts went by themselves"


async def test_a_batch_asks_once_which_of_its_accounts_have_automatic_rules(engine: AsyncEngine, session: AsyncSession) -> None:
    ids = await businesses(session, SCHEDULE_PATH)
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(" ".join(statement.split()).lower())

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        found = await batched(session, ids, NOW, SCHEDULE_PATH, PipelineMode.FULL)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    assert sum(1 for _, prepared, _ in found.values() if prepared) > 1  # several accounts had actions to carry out or not
    assert len([s for s in statements if "from execution_automation_rules" in s]) == 1


async def test_a_steady_batch_reads_its_accounts_open_actions_once(engine: AsyncEngine, session: AsyncSession) -> None:
    ids = await businesses(session, SCHEDULE_PATH)
    await batched(session, ids, NOW, SCHEDULE_PATH, PipelineMode.FULL)  # raises alerts and prepares their cards
    await session.commit()
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(" ".join(statement.split()).lower())

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        await batched(session, ids, NOW + timedelta(hours=1), SCHEDULE_PATH, PipelineMode.FULL)  # the hourly pass an hour later
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    pending = (await session.execute(select(PreparedAction.user_id).where(PreparedAction.status == ActionStatus.PENDING))).scalars()
    assert len(set(pending)) > 1  # several accounts have cards the pass looks at
    reads = [s for s in statements if s.startswith("select") and "from prepared_actions where prepared_actions.alert_id in" in s]
    assert len(reads) == 1, reads

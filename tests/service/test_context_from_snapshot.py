"""Issue 20 item 2: a pipeline run reads the books once. Preparation builds its context from the run's
detection snapshot (the same schedules, the same base forecast) instead of loading them and
working out the forecast's inputs again; a context loaded on its own is the same context."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tamio.accounts.models import Account
from tamio.data.models import CashAccount
from tamio.detection.snapshot import load_snapshot
from tamio.forecast.service import extend_schedules
from tamio.pipeline import PipelineConfig, PipelineMode, run_cycles, run_detection_preparation_cycle
from tamio.preparation import context as context_module
from tamio.preparation.basis import load_bases
from tamio.preparation.context import PreparationContext, load_context
from tamio.preparation.freshness import forecast_basis
from tamio.preparation.models import ActionStatus, PreparedAction
from tests.service.books import SCHEDULE_PATH
from tests.service.test_detection_snapshot import MONDAY, large_business

NOW = datetime.combine(MONDAY, time(9), UTC)


def summed_schedules(statements: list[str]) -> int:
    """How many times the forecast's inputs were worked out: its one statement that sums the open schedules."""
    return sum(1 for s in statements if "UNION ALL" in s and "obligation_schedules" in s)


async def recorded(engine: AsyncEngine, run: Any) -> list[str]:
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        await run()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    return statements


def same(a: PreparationContext, b: PreparationContext) -> None:
    assert forecast_basis(a) == forecast_basis(b)
    assert (a.schedules, a.cash_accounts, dict(a.clients), dict(a.vendors)) == (b.schedules, b.cash_accounts, dict(b.clients), dict(b.vendors))
    assert (a.forecast.weeks, a.forecast_items, a.buffer, a.account_name) == (b.forecast.weeks, b.forecast_items, b.buffer, b.account_name)


async def test_a_full_run_works_out_the_forecast_once_for_detection_and_preparation(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with session_factory() as session:
        books = await large_business(session)
    account_id = books.account.id
    async with session_factory() as session, session.begin():  # through the forecast's end, as the 6 AM job does
        await extend_schedules(session, account_id=account_id, through=MONDAY + timedelta(weeks=13), settings=SCHEDULE_PATH, today=MONDAY,
                               now=NOW)
    async with session_factory() as session, session.begin():
        first = await run_detection_preparation_cycle(session, account_id, now=NOW, today=MONDAY, settings=SCHEDULE_PATH)
    assert first.alerts_detected and first.actions_prepared  # the steady runs below restate what this one prepared

    async with session_factory() as session:
        async def steady() -> None:
            result = await run_detection_preparation_cycle(session, account_id, now=NOW, today=MONDAY, settings=SCHEDULE_PATH)
            assert result.alerts_detected == first.alerts_detected and result.actions_prepared == 0 and not result.errors

        assert summed_schedules(await recorded(engine, steady)) == 1  # twice before: the snapshot's, then the context's
        await session.rollback()

    async with session_factory() as session:
        account = await session.get(Account, account_id)
        assert account is not None

        async def hourly() -> None:
            results = await run_cycles(session, [account], PipelineConfig(mode=PipelineMode.FULL), today={account_id: MONDAY}, now=NOW,
                                       settings=SCHEDULE_PATH)
            assert results[account_id].actions_prepared == 0 and not results[account_id].errors

        assert summed_schedules(await recorded(engine, hourly)) == 1
        await session.rollback()


async def test_a_context_built_from_the_snapshot_is_the_context_loaded_on_its_own(session: AsyncSession) -> None:
    books = await large_business(session)
    snapshot = await load_snapshot(session, books.account.id, today=MONDAY, settings=SCHEDULE_PATH)
    assert snapshot.loaded is not None and snapshot.forecast == snapshot.loaded.inputs.forecast(as_of=MONDAY, weeks=13)
    built = await load_context(session, account_id=books.account.id, today=MONDAY, settings=SCHEDULE_PATH, snapshot=snapshot)
    alone = await load_context(session, account_id=books.account.id, today=MONDAY, settings=SCHEDULE_PATH)
    same(built, alone)
    overdue = [s for s in built.schedules if s.due_date < MONDAY and s.direction == "inflow"]
    assert overdue and len(built.schedules) == sum(1 for s in snapshot.schedules if s.is_open) + len(snapshot.loaded.day_after)


async def test_a_steady_run_builds_no_context_and_a_changed_figure_builds_one(
    session_factory: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nothing new to prepare and every card on today's basis: the cards are checked on the basis worked
    out from the snapshot (``load_bases``), no context is built; once a figure moves, one is, and the
    cards are restated."""
    async with session_factory() as session:
        books = await large_business(session)
    account_id = books.account.id
    built: list[str] = []
    open_schedules = context_module._open_schedules

    def counted(snapshot: Any, *args: Any) -> Any:
        built.append(snapshot.account_id)
        return open_schedules(snapshot, *args)

    monkeypatch.setattr(context_module, "_open_schedules", counted)
    async with session_factory() as session, session.begin():
        first = await run_detection_preparation_cycle(session, account_id, now=NOW, today=MONDAY, settings=SCHEDULE_PATH)
    assert first.actions_prepared and built == [account_id]
    async with session_factory() as session, session.begin():
        steady = await run_detection_preparation_cycle(session, account_id, now=NOW + timedelta(hours=1), today=MONDAY, settings=SCHEDULE_PATH)
    assert (steady.alerts_detected, steady.actions_prepared, steady.errors) == (first.alerts_detected, 0, [])
    assert built == [account_id]  # none for the steady run
    async with session_factory() as session, session.begin():  # nor for the hourly job's batch
        account = await session.get(Account, account_id)
        assert account is not None
        hourly = await run_cycles(session, [account], PipelineConfig(mode=PipelineMode.FULL), today={account_id: MONDAY},
                                  now=NOW + timedelta(hours=1), settings=SCHEDULE_PATH)
    assert (hourly[account_id].actions_prepared, hourly[account_id].errors, built) == (0, [], [account_id])
    before = await _pending_bases(session_factory, account_id)
    async with session_factory() as session, session.begin():  # a figure every card rests on moves
        await session.execute(update(CashAccount).where(CashAccount.user_id == account_id, CashAccount.name == "Savings")
                              .values(balance=Decimal("39000"), base_currency_amount=Decimal("39000")))
    async with session_factory() as session, session.begin():
        moved = await run_detection_preparation_cycle(session, account_id, now=NOW + timedelta(hours=2), today=MONDAY, settings=SCHEDULE_PATH)
    assert not moved.errors and built == [account_id, account_id]
    after = await _pending_bases(session_factory, account_id)
    assert len(before) == 1 and len(after) == 1 and before != after  # every card restated on the new figures
    async with session_factory() as session, session.begin():  # the batch's check finds a moved figure too
        await session.execute(update(CashAccount).where(CashAccount.user_id == account_id, CashAccount.name == "Savings")
                              .values(balance=Decimal("38000"), base_currency_amount=Decimal("38000")))
    async with session_factory() as session, session.begin():
        account = await session.get(Account, account_id)
        assert account is not None
        hourly = await run_cycles(session, [account], PipelineConfig(mode=PipelineMode.FULL), today={account_id: MONDAY},
                                  now=NOW + timedelta(hours=3), settings=SCHEDULE_PATH)
    assert not hourly[account_id].errors and built == [account_id] * 3
    assert (await _pending_bases(session_factory, account_id)) not in (before, after)


async def _pending_bases(session_factory: async_sessionmaker[AsyncSession], account_id: str) -> set[str | None]:
    """The bases of the pending cards, after checking that they are the basis worked out without a context."""
    async with session_factory() as session:
        bases = set((await session.execute(select(PreparedAction.forecast_basis).where(PreparedAction.status == ActionStatus.PENDING))).scalars())
        snapshot = await load_snapshot(session, account_id, today=MONDAY, settings=SCHEDULE_PATH)
        assert bases == {(await load_bases(session, {account_id: snapshot}))[account_id]}
        return bases

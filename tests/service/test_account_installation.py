"""A workspace that removes Tamio: its account is paused (scheduler, automation), kept for the retention
period, resumed by installing again, and deleted with all its data once the retention has passed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.accounts.installation import deactivate_account, purge_deactivated, reactivate_account
from tamio.accounts.models import Account
from tamio.audit.models import AuditLog
from tamio.data.models import Client
from tamio.pipeline import PipelineRun
from tamio.scheduler.jobs import default_jobs
from tamio.scheduler.runner import SchedulerApp
from tests.service.books import SCHEDULE_PATH
from tests.service.test_scheduler_jobs import Clock, at, business, count


async def test_a_removed_workspace_is_paused_kept_and_resumed(session_factory: async_sessionmaker[AsyncSession]) -> None:
    kept, removed = await business(session_factory, "Kept"), await business(session_factory, "Removed")
    async with session_factory() as db, db.begin():
        account = await db.get(Account, removed)
        assert account is not None
        assert await deactivate_account(db, account=account, reason="app_uninstalled", now=at(9))
        assert not await deactivate_account(db, account=account, reason="tokens_revoked", now=at(9, 30))  # once
    clock = Clock(at(9, 6))
    app = SchedulerApp(SCHEDULE_PATH, session_factory, clock=clock, jobs={"critical": default_jobs()["critical"]})
    [report] = await app.run_due("critical")
    assert report.accounts == 1
    assert await count(session_factory, PipelineRun, PipelineRun.user_id == removed) == 0
    assert await count(session_factory, PipelineRun, PipelineRun.user_id == kept) == 1

    async with session_factory() as db, db.begin():
        account = await db.get(Account, removed)
        assert account is not None and (account.deactivated_reason, account.deactivated_at) == ("app_uninstalled", at(9))
        assert await reactivate_account(db, account=account, now=at(10))
    clock.now = at(10, 6)
    [report] = await app.run_due("critical")
    assert report.accounts == 2
    async with session_factory() as db:
        changes = [a.changes for a in (await db.execute(select(AuditLog).where(
            AuditLog.user_id == removed, AuditLog.entity_type == "account").order_by(AuditLog.seq))).scalars()]
    assert [c["changes"]["is_active"] for c in changes[-2:]] == [{"old": True, "new": False}, {"old": False, "new": True}]


async def test_past_the_retention_the_account_and_its_data_are_deleted(session_factory: async_sessionmaker[AsyncSession]) -> None:
    kept, removed = await business(session_factory, "Kept"), await business(session_factory, "Removed")
    gone_at = datetime(2026, 11, 1, tzinfo=UTC)
    async with session_factory() as db, db.begin():
        account = await db.get(Account, removed)
        assert account is not None
        await deactivate_account(db, account=account, reason="tokens_revoked", now=gone_at)
    async with session_factory() as db, db.begin():
        assert await purge_deactivated(db, retention=timedelta(days=30), now=gone_at + timedelta(days=29)) == 0
    async with session_factory() as db, db.begin():
        assert await purge_deactivated(db, retention=timedelta(days=30), now=gone_at + timedelta(days=31)) == 1
    async with session_factory() as db:
        assert await db.get(Account, removed) is None and await db.get(Account, kept) is not None
    assert await count(session_factory, Client, Client.user_id == removed) == 0
    assert await count(session_factory, Client, Client.user_id == kept) == 1

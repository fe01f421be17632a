"""The audit trail: written in the caller's transaction, hash-chained, and tamper-evident."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.accounts.service import create_account
from tamio.audit.models import AuditLog
from tamio.audit.service import AuditService, verify_chain

ROOT = Path(__file__).resolve().parents[2]


async def test_log_create_update_sync_as_the_design_shows(session: AsyncSession) -> None:
    account = await create_account(session, name="Acme Ltd", base_currency="USD")
    audit = AuditService(session, user_id=account.id)
    await audit.log_create("client", "client_abc123", {"name": "Acme Corp"})
    await audit.log_update("client", "client_abc123", {"name": ("Old Name", "New Name"), "status": ("active", "paused")})
    await audit.log_sync("client", "client_abc123", "xero", "push", {"contact_id": "xyz"})
    await session.commit()
    rows = (await session.execute(select(AuditLog).where(AuditLog.entity_id == "client_abc123").order_by(AuditLog.seq))).scalars().all()
    assert [r.action for r in rows] == ["create", "update", "sync"]
    assert rows[1].changes == {"changes": {"name": {"old": "Old Name", "new": "New Name"}, "status": {"old": "active", "new": "paused"}}}
    assert (rows[2].integration, rows[2].direction) == ("xero", "push")
    assert (await verify_chain(session, account_id=account.id)).ok


async def test_a_rolled_back_change_leaves_no_audit_row(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with session_factory() as session, session.begin():
        account = await create_account(session, name="Acme Ltd", base_currency="USD")
        account_id = account.id
    async with session_factory() as session:
        before = (await session.execute(select(func.count()).select_from(AuditLog))).scalar_one()
    async with session_factory() as session:
        await session.begin()
        await AuditService(session, account_id).log_create("client", "c1", {"name": "Ghost"})
        await session.rollback()
    async with session_factory() as session:
        after = (await session.execute(select(func.count()).select_from(AuditLog))).scalar_one()
    assert after == before


async def test_verify_finds_the_first_tampered_row(session: AsyncSession) -> None:
    account = await create_account(session, name="Acme Ltd", base_currency="USD")
    audit = AuditService(session, account.id)
    for i in range(5):
        await audit.log_create("client", f"c{i}", {"name": f"Client {i}"})
    await session.commit()
    assert (await verify_chain(session, account_id=account.id)).ok
    await session.execute(
        update(AuditLog).where(AuditLog.user_id == account.id, AuditLog.seq == 4).values(changes={"values": {"name": "Mallory"}})
    )
    await session.commit()
    result = await verify_chain(session, account_id=account.id)
    assert not result.ok and result.first_bad_seq == 4 and "content" in (result.reason or "")


async def test_verify_finds_a_removed_row(session: AsyncSession) -> None:
    account = await create_account(session, name="Acme Ltd", base_currency="USD")
    audit = AuditService(session, account.id)
    for i in range(4):
        await audit.log_create("client", f"c{i}", {"name": f"Client {i}"})
    await session.commit()
    row = (await session.execute(select(AuditLog).where(AuditLog.user_id == account.id, AuditLog.seq == 3))).scalar_one()
    await session.delete(row)
    await session.commit()
    result = await verify_chain(session, account_id=account.id)
    assert not result.ok and result.first_bad_seq == 4


def test_cli_audit_verify(tmp_path: Path) -> None:
    env = {"TAMIO_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "PATH": "/usr/bin:/bin"}

    def tamio(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "tamio.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True)

    assert tamio("db", "upgrade").returncode == 0
    created = tamio("account", "create", "--name", "Acme Ltd", "--base-currency", "USD")
    assert created.returncode == 0, created.stderr
    ok = tamio("audit", "verify")
    assert ok.returncode == 0 and "chain intact" in ok.stdout
    import sqlite3

    with sqlite3.connect(tmp_path / "cli.db") as raw:
        raw.execute("UPDATE audit_logs SET actor = 'mallory' WHERE seq = 1")
    bad = tamio("audit", "verify")
    assert bad.returncode == 1 and "audit row 1" in bad.stdout

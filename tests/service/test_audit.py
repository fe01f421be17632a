"""The audit trail: written in the caller's transaction, hash-chained, and tamper-evident."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, event, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tamio.audit.models import AuditHead, AuditLog
from tamio.audit.service import AuditService, canonical_json, compute_row_hash
from tamio.audit.verify import AuditMark, audit_head, verify_chain
from tamio.db import make_session_factory
from tamio.opening import open_account
from tamio.server_secret import SecretKeyInvalid, ServerSecret

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


async def test_log_create_update_sync_as_the_design_shows(session: AsyncSession) -> None:
    account = await open_account(session, name="Acme Ltd", base_currency="USD", now=NOW)
    audit = AuditService(session, user_id=account.id, clock=lambda: NOW)
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
        account = await open_account(session, name="Acme Ltd", base_currency="USD", now=NOW)
        account_id = account.id
    async with session_factory() as session:
        before = (await session.execute(select(func.count()).select_from(AuditLog))).scalar_one()
    async with session_factory() as session:
        await session.begin()
        await AuditService(session, account_id, clock=lambda: NOW).log_create("client", "c1", {"name": "Ghost"})
        await session.rollback()
    async with session_factory() as session:
        after = (await session.execute(select(func.count()).select_from(AuditLog))).scalar_one()
    assert after == before


async def test_verify_finds_the_first_tampered_row(session: AsyncSession) -> None:
    account = await open_account(session, name="Acme Ltd", base_currency="USD", now=NOW)
    audit = AuditService(session, account.id, clock=lambda: NOW)
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
    account = await open_account(session, name="Acme Ltd", base_currency="USD", now=NOW)
    audit = AuditService(session, account.id, clock=lambda: NOW)
    for i in range(4):
        await audit.log_create("client", f"c{i}", {"name": f"Client {i}"})
    await session.commit()
    row = (await session.execute(select(AuditLog).where(AuditLog.user_id == account.id, AuditLog.seq == 3))).scalar_one()
    await session.delete(row)
    await session.commit()
    result = await verify_chain(session, account_id=account.id)
    assert not result.ok and result.first_bad_seq == 3 and result.reason.startswith("row 3 is missing")


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


# -- tamper evidence (issue 22): each way the probe edited the database is found --------------------


async def _trail(session: AsyncSession, rows: int = 6, name: str = "Acme Ltd") -> str:
    account = await open_account(session, name=name, base_currency="USD", now=NOW)
    audit = AuditService(session, account.id, clock=lambda: NOW)
    for i in range(rows - 1):  # creating the account wrote row 1
        await audit.log_create("client", f"c{i}", {"name": f"Client {i}"})
    await session.commit()
    return account.id


async def test_rows_cut_from_the_end_are_found_by_the_head_record(session: AsyncSession) -> None:
    account_id = await _trail(session)
    await session.execute(delete(AuditLog).where(AuditLog.user_id == account_id, AuditLog.seq >= 5))
    await session.commit()
    result = await verify_chain(session, account_id=account_id)
    assert not result.ok and result.first_bad_seq == 5 and result.reason == "rows 5–6 are missing (cut from the end)"


async def test_a_truncation_that_also_rewrote_the_head_is_found_by_a_checkpoint(session: AsyncSession) -> None:
    account_id = await _trail(session)
    checkpoint = await audit_head(session, account_id=account_id)
    assert checkpoint is not None and checkpoint.seq == 6
    row4 = (await session.execute(select(AuditLog).where(AuditLog.user_id == account_id, AuditLog.seq == 4))).scalar_one()
    await session.execute(delete(AuditLog).where(AuditLog.user_id == account_id, AuditLog.seq >= 5))
    await session.execute(update(AuditHead).where(AuditHead.user_id == account_id).values(seq=4, row_hash=row4.row_hash))
    await session.commit()
    assert (await verify_chain(session, account_id=account_id)).ok  # consistent without the outside checkpoint
    result = await verify_chain(session, account_id=account_id, checkpoint=AuditMark.parse(checkpoint.short))
    assert not result.ok and result.reason == "rows 5–6 are missing (the checkpoint names row 6)"


async def test_deleting_every_row_of_an_account_is_found(session: AsyncSession) -> None:
    account_id = await _trail(session)
    await session.execute(delete(AuditLog).where(AuditLog.user_id == account_id))
    await session.commit()
    assert (await verify_chain(session, account_id=account_id)).reason == "rows 1–6 are missing (cut from the end)"
    await session.execute(delete(AuditHead).where(AuditHead.user_id == account_id))
    await session.commit()
    result = await verify_chain(session, account_id=account_id)
    assert not result.ok and "no audit rows at all" in (result.reason or "")


async def test_a_row_moved_to_another_account_is_found_in_both(session: AsyncSession) -> None:
    a = await _trail(session, name="A")
    b = await _trail(session, name="B")
    # Move A's last row to B as B's next row, with B's link and seq: only the key could seal it for B.
    b_last = (await session.execute(select(AuditLog).where(AuditLog.user_id == b, AuditLog.seq == 6))).scalar_one()
    await session.execute(
        update(AuditLog).where(AuditLog.user_id == a, AuditLog.seq == 6).values(user_id=b, seq=7, prev_hash=b_last.row_hash)
    )
    await session.commit()
    assert (await verify_chain(session, account_id=a)).reason == "row 6 is missing (cut from the end)"
    moved = await verify_chain(session, account_id=b)
    assert not moved.ok and moved.first_bad_seq == 7 and "seal" in (moved.reason or "")


@pytest.mark.parametrize("rehash", ["sha256", "another_key"])
async def test_a_rewritten_row_with_every_later_hash_recomputed_is_found(session: AsyncSession, rehash: str) -> None:
    account_id = await _trail(session)
    rows = (await session.execute(select(AuditLog).where(AuditLog.user_id == account_id).order_by(AuditLog.seq))).scalars().all()
    rows[2].changes = {"values": {"name": "Mallory"}}
    prev = rows[1].row_hash
    for row in rows[2:]:
        row.prev_hash = prev
        if rehash == "sha256":  # the old unkeyed chain: anyone can recompute it
            body = {k: getattr(row, k) for k in ("user_id", "seq", "actor", "action", "entity_type", "entity_id", "changes",
                                                  "integration", "direction")} | {"created_at": row.created_at.isoformat()}
            row.row_hash = hashlib.sha256((prev + canonical_json(body)).encode()).hexdigest()
        else:
            row.row_hash = compute_row_hash(row, prev, b"a key the attacker made up".ljust(32, b"!"))
        prev = row.row_hash
    await session.execute(update(AuditHead).where(AuditHead.user_id == account_id).values(seq=6, row_hash=prev))
    await session.commit()
    result = await verify_chain(session, account_id=account_id)
    assert not result.ok and result.first_bad_seq == 3 and "seal does not match" in (result.reason or "")


async def test_an_old_key_still_verifies_after_a_new_one_is_put_in_front(engine: AsyncEngine) -> None:
    old, new = ServerSecret.generate(), ServerSecret.generate()
    async with make_session_factory(engine, ServerSecret.parse(old))() as session:
        account_id = await _trail(session, rows=3)
    rotated = make_session_factory(engine, ServerSecret.parse(f"{new},{old}"))
    async with rotated() as session:
        await AuditService(session, account_id, clock=lambda: NOW).log_create("client", "c9", {"name": "After the rotation"})
        await session.commit()
        assert (await verify_chain(session, account_id=account_id)).ok
    async with make_session_factory(engine, ServerSecret.parse(new))() as session:  # the old key dropped too early
        assert (await verify_chain(session, account_id=account_id)).first_bad_seq == 1


async def test_an_append_reads_one_head_row_not_the_chain(engine: AsyncEngine, session: AsyncSession) -> None:
    account_id = await _trail(session, rows=40)
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(" ".join(statement.split()).lower())

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        await AuditService(session, account_id, clock=lambda: NOW).log_create("client", "c-new", {"name": "New"})
        await session.commit()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    statements = [s for s in statements if not s.startswith(("begin", "commit"))]
    reads = [s for s in statements if s.startswith("select")]
    # upsert the head, insert the row, move the head; a client is money data: its refresh is asked for too (one upsert)
    assert reads == [] and len(statements) == 4, statements
    assert statements[-1].startswith("insert into refresh_requests"), statements


async def test_without_the_server_secret_nothing_is_written(engine: AsyncEngine) -> None:
    async with make_session_factory(engine)() as session:
        with pytest.raises(SecretKeyInvalid, match="TAMIO_SECRET_KEY"):
            await open_account(session, name="Acme Ltd", base_currency="USD", now=NOW)


@pytest.mark.slow
def test_cli_audit_head_and_verify_with_a_checkpoint(tmp_path: Path) -> None:
    env = {"TAMIO_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "PATH": "/usr/bin:/bin"}

    def tamio(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "tamio.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True)

    assert tamio("db", "upgrade").returncode == 0
    assert tamio("account", "create", "--name", "Acme Ltd", "--base-currency", "USD").returncode == 0
    assert tamio("balance", "set", "Operating", "1000", "USD").returncode == 0
    assert tamio("balance", "set", "Operating", "2000", "USD").returncode == 0
    head = tamio("audit", "head")
    account_id, token = head.stdout.strip().split(": ")
    assert head.returncode == 0 and token.startswith("3:") and len(token) == 2 + 64
    assert (tmp_path / "cli.db.key").exists() and oct((tmp_path / "cli.db.key").stat().st_mode & 0o777) == "0o600"
    ok = tamio("audit", "verify", "--head", token)
    assert ok.returncode == 0 and "chain intact up to the checkpoint 3" in ok.stdout, ok.stdout + ok.stderr
    import sqlite3

    with sqlite3.connect(tmp_path / "cli.db") as raw:  # cut the last row and make the head agree
        second = raw.execute("SELECT row_hash FROM audit_logs WHERE seq = 2").fetchone()[0]
        raw.execute("DELETE FROM audit_logs WHERE seq = 3")
        raw.execute("UPDATE audit_heads SET seq = 2, row_hash = ?", (second,))
    assert tamio("audit", "verify").returncode == 0
    bad = tamio("audit", "verify", "--head", token[:2 + 16])
    assert bad.returncode == 1 and bad.stdout.strip() == (
        f"{account_id}: the audit trail was tampered with: row 3 is missing (the checkpoint names row 3)."
    )
    wrong = tamio("audit", "verify", "--head", "three")
    assert wrong.returncode == 1 and wrong.stderr.count("\n") == 1 and "is not an audit head" in wrong.stderr

"""``tamio outbox list --dead`` shows what was given up on, and ``tamio outbox retry ID`` sends it again."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

import tamio.models  # noqa: F401
from tamio.db import create_engine, make_session_factory
from tamio.outbox.models import OutboxMessage
from tamio.outbox.service import claim_due, enqueue, mark_failed
from tests.conftest import secret_for_tests

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


async def a_dead_and_a_pending_message(url: str) -> str:
    engine = create_engine(url)
    sessions = make_session_factory(engine, secret_for_tests())
    try:
        async with sessions() as db, db.begin():
            await enqueue(db, account_id=None, kind="digest", channel="C0GONE", payload={}, idempotency_key="digest:acct_1:2026-12-07", now=NOW)
            [row] = await claim_due(db, worker="w", now=NOW)
            await mark_failed(db, message_id=row.id, worker="w", now=NOW, error="channel_not_found", permanent=True)
            await enqueue(db, account_id=None, kind="slack_post", channel="C1", payload={}, idempotency_key="card:act_2", now=NOW)
            return row.id
    finally:
        await engine.dispose()


async def status_of(url: str, message_id: str) -> tuple[str, int]:
    engine = create_engine(url)
    try:
        async with make_session_factory(engine, secret_for_tests())() as db:
            row = (await db.execute(select(OutboxMessage).where(OutboxMessage.id == message_id))).scalar_one()
            return row.status, row.attempts
    finally:
        await engine.dispose()


@pytest.mark.slow
def test_dead_messages_are_listed_and_can_be_sent_again(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/outbox.db"
    env = {**os.environ, "TAMIO_DATABASE_URL": url}

    def tamio(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "tamio.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

    assert tamio("db", "upgrade").returncode == 0
    dead = asyncio.run(a_dead_and_a_pending_message(url))

    listed = tamio("outbox", "list", "--dead")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].startswith(f"{dead}  dead") and "digest:acct_1:2026-12-07" in lines[0] and "channel_not_found" in lines[0]
    assert lines[-1] == "1 pending, 0 sending, 1 dead, oldest pending since 2026-12-07 09:00 UTC."

    wrong = tamio("outbox", "retry", "out_nope")
    assert wrong.returncode == 1 and "There is no outbox message `out_nope`" in wrong.stderr
    retried = tamio("outbox", "retry", dead)
    assert retried.returncode == 0 and f"Queued {dead} (digest) to be sent again" in retried.stdout
    assert asyncio.run(status_of(url, dead)) == ("pending", 0)
    again = tamio("outbox", "retry", dead)
    assert again.returncode == 1 and "is pending, not dead" in again.stderr

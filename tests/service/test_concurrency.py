"""2 processes x 10 coroutines x 50 read-modify-write transactions lose no update and raise no error."""

from __future__ import annotations

import asyncio
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.data.models import CashAccount
from tamio.db import create_engine
from tamio.opening import open_account

ROOT = Path(__file__).resolve().parents[2]


async def test_no_lost_updates(db_url: str, session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with session_factory() as session, session.begin():
        account = await open_account(session, name="Busy Ltd", base_currency="USD")
        cash = CashAccount(user_id=account.id, name="Operating", currency="USD", balance=Decimal(0))
        session.add(cash)
        await session.flush()
        cash_id = cash.id

    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.concurrency_worker", db_url, cash_id, "10", "50",
            cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outputs = [await p.communicate() for p in processes]
    reports = [out.decode().strip() for out, _ in outputs]
    assert all(p.returncode == 0 for p in processes), [err.decode()[-2000:] for _, err in outputs]
    assert reports == ["ok=500 errors=0", "ok=500 errors=0"], [err.decode()[-2000:] for _, err in outputs]

    async with session_factory() as session:
        final = await session.get(CashAccount, cash_id)
        assert final is not None and final.balance == Decimal(1000)


@pytest.mark.backends("sqlite")
async def test_a_sqlite_writer_waits_for_the_lock_as_long_as_its_engine_says(db_url: str) -> None:
    for engine, milliseconds in ((create_engine(db_url), 15_000), (create_engine(db_url, busy_timeout=600), 600_000)):
        try:
            async with engine.connect() as connection:
                assert (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar_one() == milliseconds
        finally:
            await engine.dispose()

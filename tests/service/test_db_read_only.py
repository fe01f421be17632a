"""Read-only sessions (``tamio.db.read_only``): they never wait for a writer and cannot write, on both backends."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.data.models import CashAccount
from tamio.db import is_read_only, read_only
from tamio.opening import open_account


async def _account_with_cash(sessions: async_sessionmaker[AsyncSession]) -> str:
    async with sessions() as db, db.begin():
        account = await open_account(db, name="Reader Ltd", base_currency="USD")
        db.add(CashAccount(user_id=account.id, name="Operating", currency="USD", balance=Decimal("100")))
    return account.id


async def _cash_names(db: AsyncSession, account_id: str) -> list[str]:
    return list((await db.execute(select(CashAccount.name).where(CashAccount.user_id == account_id).order_by(CashAccount.name))).scalars())


async def test_a_read_only_session_reads_while_a_writer_holds_its_transaction(session_factory: async_sessionmaker[AsyncSession]) -> None:
    account_id = await _account_with_cash(session_factory)
    async with session_factory() as writer, session_factory() as reader:
        writer.add(CashAccount(user_id=account_id, name="Savings", currency="USD", balance=Decimal("5")))
        await writer.flush()  # on SQLite the writer now holds the write lock (BEGIN IMMEDIATE)
        read_only(reader)
        # A writing transaction would wait here for busy_timeout and fail with "database is locked".
        assert await _cash_names(reader, account_id) == ["Operating"]  # and it does not see uncommitted rows
        await reader.commit()
        await writer.commit()
        assert await _cash_names(reader, account_id) == ["Operating", "Savings"]


async def test_a_read_only_session_cannot_write(session_factory: async_sessionmaker[AsyncSession]) -> None:
    account_id = await _account_with_cash(session_factory)
    async with session_factory() as db:
        read_only(db)
        assert is_read_only(db)
        db.add(CashAccount(user_id=account_id, name="Sneaky", currency="USD", balance=Decimal("1")))
        with pytest.raises(DBAPIError):  # SQLite: query_only; PostgreSQL: a READ ONLY transaction
            await db.flush()
        await db.rollback()
    async with session_factory() as db:
        assert await _cash_names(db, account_id) == ["Operating"]


async def test_a_session_writes_again_once_no_longer_read_only(session_factory: async_sessionmaker[AsyncSession]) -> None:
    account_id = await _account_with_cash(session_factory)
    for _ in range(3):  # the pooled connections alternate between reading and writing
        async with session_factory() as db:
            read_only(db)
            assert await _cash_names(db, account_id) == ["Operating"]
            await db.commit()
            read_only(db, False)
            assert not is_read_only(db)
            cash = (await db.execute(select(CashAccount).where(CashAccount.user_id == account_id))).scalar_one()
            cash.balance += Decimal("1")
            await db.commit()
    async with session_factory() as db:
        balance = (await db.execute(select(CashAccount.balance).where(CashAccount.user_id == account_id))).scalar_one()
        assert balance == Decimal("103")

"""A worker process for the concurrency test: N coroutines x M read-modify-write transactions.

    python -m tests.concurrency_worker URL CASH_ACCOUNT_ID COROUTINES TRANSACTIONS

Prints ``ok=<n> errors=<n>``. Each transaction reads a balance, adds 1 and writes it back, the
way the product updates a row (SELECT ... FOR UPDATE, a no-op on SQLite where the engine's
BEGIN IMMEDIATE already serialises writers).
"""

from __future__ import annotations

import asyncio
import sys
from decimal import Decimal

from sqlalchemy import select

import tamio.models  # noqa: F401  (every table, for the foreign keys)
from tamio.data.models import CashAccount
from tamio.db import create_engine, make_session_factory
from tests.conftest import secret_for_tests


async def main(url: str, cash_id: str, coroutines: int, transactions: int) -> None:
    engine = create_engine(url, pool_size=coroutines)
    sessions = make_session_factory(engine, secret_for_tests())
    ok = errors = 0

    async def one() -> None:
        nonlocal ok, errors
        for _ in range(transactions):
            try:
                async with sessions() as session, session.begin():
                    cash = (await session.execute(select(CashAccount).where(CashAccount.id == cash_id).with_for_update())).scalar_one()
                    await asyncio.sleep(0)  # let the others interleave between the read and the write
                    cash.balance = cash.balance + Decimal(1)
                ok += 1
            except Exception as exc:  # counted, reported, and failed by the test
                errors += 1
                print(f"error: {exc!r}", file=sys.stderr)

    await asyncio.gather(*(one() for _ in range(coroutines)))
    await engine.dispose()
    print(f"ok={ok} errors={errors}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))

"""The batched passes read only their batch's rows on PostgreSQL, however many accounts share the tables.

A query of the hourly (or 5-minute) pass that joins a table by its own id (an agreement by
``schedule.obligation_id``, a configuration by ``user_id = users.id``) without naming the batch's
accounts lets the planner hash-join the WHOLE table: at 10,000 accounts every batch of 80 read all
200,000 agreements (60-110 ms of server time a batch, a pass quadratic in the number of accounts).
Here a batch of small businesses (``bench/fanout.py``'s) shares the tables with many more accounts,
the tables are analysed, and every statement the batch runs is explained with its own parameters:
none may scan a table of everyone's rows from end to end.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bench.fanout import NOW, small_business
from tamio.accounts.models import Account, UserConfiguration
from tamio.config import Settings
from tamio.data.models import CashAccount, Client, ExpenseBucket
from tamio.obligations.models import ObligationAgreement, ObligationSchedule
from tamio.scheduler.jobs import JobRun, default_jobs

pytestmark = pytest.mark.backends("pg")

BATCH, OTHERS = 40, 300
# The tables the others' rows fill: a batch reads its own rows of them through an index on the account.
EVERYONES = {"users", "user_configurations", "cash_accounts", "clients", "expense_buckets", "obligation_agreements", "obligation_schedules"}


async def seed(session: AsyncSession) -> list[str]:
    """``BATCH + OTHERS`` small businesses; the batch is the first ``BATCH``."""
    rows: dict[type[Any], list[dict[str, Any]]] = {}
    for n in range(BATCH + OTHERS):
        for model, found in small_business(n).items():
            rows.setdefault(model, []).extend(found)
    for model in (Account, UserConfiguration, CashAccount, Client, ExpenseBucket, ObligationAgreement, ObligationSchedule):
        await session.execute(insert(model), rows[model])
    await session.commit()
    await session.execute(select(1))
    connection = await session.connection()
    await connection.exec_driver_sql("ANALYZE")
    await session.commit()
    return [f"acct_{n:06d}" for n in range(BATCH)]


def scans_of_everyone(plan: dict[str, Any]) -> list[str]:
    """The tables of everyone's rows the plan reads whole: a scan with no condition at all (a small table read
    through with the batch's accounts as its filter is the planner's fair choice)."""
    whole = plan.get("Node Type") == "Seq Scan" and plan.get("Relation Name") in EVERYONES and "Filter" not in plan
    found = [plan["Relation Name"]] if whole else []
    for child in plan.get("Plans", []):
        found += scans_of_everyone(child)
    return found


@pytest.mark.parametrize("job", ["pipeline", "critical"])
async def test_a_batch_reads_its_own_accounts_rows_through_indexes(engine: AsyncEngine, session: AsyncSession, job: str) -> None:
    ids = await seed(session)
    settings = Settings(database_url="", use_obligation_for_forecast=True)
    statements: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    work = default_jobs()[job].for_accounts
    assert work is not None
    accounts = list((await session.execute(select(Account).where(Account.id.in_(ids)).order_by(Account.id))).scalars())
    run = JobRun(job=job, slot=NOW, now=NOW, settings=settings, every=timedelta(hours=1))
    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        results = await work(session, accounts, run)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    assert sum(r["alerts"] for r in results.values()) > 0  # the batch did its work (one in ten runs short of cash)
    connection = await session.connection()
    scanned = {}
    for statement, parameters in statements:
        explained = await connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters)
        plan = explained.scalar_one()
        tables = scans_of_everyone((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"])
        if tables:  # named by what the statement reads from (its select list is long)
            text = " ".join(statement.split())
            scanned[text[text.find(" FROM ") : text.find(" WHERE ")][:300]] = tables
    await session.rollback()
    assert scanned == {}

"""Benchmark: schedule generation and the 13-week forecast for 10,000 agreements.

Prints, for SQLite and for PostgreSQL (a throwaway cluster, as in the tests): the time to generate
the schedules of 10,000 agreements of mixed frequencies (the backfill an account gets on first use), and the 13-week forecast's time (median
of several runs, schedules already generated; and the CPU time this process spent on it, which other
work on a shared machine does not inflate) and peak Python memory. Targets: generation under 5 s,
the forecast under 100 ms. Then a what-if of five changes over the same agreements, timed
beside the plain forecast (target: within 20 ms of it).

The learned spreading is on: the revenue agreements belong to ``--clients`` clients, each with a
payment behaviour learned from a history of its own (a few days early to two months late, some
bimodal), so every open receivable is spread over the weeks it may arrive, and the band's prior
is computed for each.

    python bench/forecast.py [--agreements 10000] [--clients 100] [--sqlite-only]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker  # noqa: E402

import tamio.models  # noqa: E402,F401
from tamio.accounts.models import Account  # noqa: E402
from tamio.config import Settings  # noqa: E402
from tamio.data.models import Client  # noqa: E402
from tamio.db import Base, create_engine, make_session_factory, new_id  # noqa: E402
from tamio.forecast.service import calculate_forecast  # noqa: E402
from tamio.obligations.backfill import backfill_schedules  # noqa: E402
from tamio.obligations.habits import Observation, learn_habits  # noqa: E402
from tamio.obligations.models import ObligationAgreement  # noqa: E402
from tamio.obligations.recurrence import BusinessDayConvention, Frequency, build_rrule  # noqa: E402
from tamio.opening import open_account  # noqa: E402
from tamio.server_secret import ServerSecret  # noqa: E402

TODAY = date(2026, 12, 7)
NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
SETTINGS = Settings(use_obligation_for_forecast=True, database_url="sqlite+aiosqlite:///:memory:")
MIX = [Frequency.WEEKLY, Frequency.BIWEEKLY, Frequency.SEMIMONTHLY, Frequency.MONTHLY, Frequency.MONTHLY,
       Frequency.MONTHLY, Frequency.QUARTERLY, Frequency.ANNUALLY, Frequency.ONCE]


def client_rows(account_id: str, count: int) -> list[dict[str, object]]:
    """Clients with a learned behaviour: a year of payments each, from early payers to two months late."""
    rows = []
    for c in range(count):
        usual = (c * 7) % 70 - 8
        observations = [
            Observation(client_id="c", days_late=usual + ((k * 5 + c) % 9 - 4) + (40 if c % 5 == 0 and k % 2 else 0),
                        paid_on=TODAY - timedelta(days=30 * k + c % 30))
            for k in range(12)
        ]
        behaviour = learn_habits(observations, as_of=TODAY).of("c")
        rows.append({"id": new_id("cli"), "user_id": account_id, "name": f"Client {c}", "billing_config": {}, "source": "manual",
                     "locked_fields": [], "tags": [], "avg_payment_delay_days": max(0, round(behaviour.mean)),
                     "payment_behaviour": behaviour.to_json(), "currency": "USD", "status": "active",
                     "created_at": NOW, "updated_at": NOW})
    return rows


def agreement_rows(account_id: str, count: int, clients: list[str]) -> list[dict[str, object]]:
    rows = []
    for i in range(count):
        frequency = MIX[i % len(MIX)]
        start = TODAY + timedelta(days=i % 60)
        day = (i % 28) + 1 if frequency in (Frequency.MONTHLY, Frequency.QUARTERLY, Frequency.ANNUALLY) else None
        revenue = i % 3 == 0
        amount = Decimal(100 + (i * 37) % 9000)
        rows.append({
            "id": new_id("obl"), "user_id": account_id, "obligation_type": "revenue" if revenue else "expense",
            "direction": "inflow" if revenue else "outflow", "description": f"Agreement {i}", "base_amount": amount,
            "currency": "USD", "base_currency_amount": amount, "exchange_rate_used": Decimal(1), "exchange_rate_date": TODAY,
            "amount_type": "fixed" if i % 4 else "variable", "frequency": frequency.value,
            "rrule": build_rrule(frequency, start=start, day=day), "business_day_convention": BusinessDayConvention.FOLLOWING.value if i % 5 == 0 else "none",
            "holiday_calendar": "US" if i % 5 == 0 else None, "day_of_month": day, "start_date": start, "status": "active",
            "source": "manual", "created_at": NOW, "updated_at": NOW, "client_id": clients[i % len(clients)] if revenue and clients else None,
        })
    return rows


async def run(url: str, label: str, count: int, clients: int) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        sessions = make_session_factory(engine, ServerSecret.parse(ServerSecret.generate()))
        async with sessions() as session, session.begin():
            account = await open_account(session, name="Bench Ltd", base_currency="USD", now=NOW)
            people = client_rows(account.id, clients)
            if people:
                await session.execute(insert(Client), people)
                pooled = learn_habits([Observation(None, d, TODAY) for d in (0, 5, 12, 20, 30, 45)], as_of=TODAY)
                account.payment_behaviour = pooled.account.to_json()
            await session.execute(insert(ObligationAgreement), agreement_rows(account.id, count, [str(p["id"]) for p in people]))
            await named_counterparties(session, account)
        async with sessions() as session, session.begin():
            # What an existing account gets when the schedules path first reads it (tamio db backfill-schedules).
            stored = await session.get(Account, account.id)
            assert stored is not None
            started = time.perf_counter()
            created = (await backfill_schedules(session, account=stored, settings=SETTINGS, today=TODAY, now=NOW)).schedules_changed
            generation = time.perf_counter() - started
        # Steady state: statistics gathered (and on PostgreSQL the visibility map that index-only
        # scans need), as autovacuum would have done after a bulk load.
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            if not url.startswith("sqlite"):
                await autocommit.exec_driver_sql("VACUUM ANALYZE obligation_schedules")
        timings, cpu = [], []
        for _ in range(7):
            async with sessions() as session:
                started, used = time.perf_counter(), time.process_time()
                forecast = await calculate_forecast(session, account.id, as_of=TODAY, settings=SETTINGS)
                timings.append(time.perf_counter() - started)
                cpu.append(time.process_time() - used)
        async with sessions() as session:  # memory apart: tracing every allocation slows the forecast down
            tracemalloc.start()
            await calculate_forecast(session, account.id, as_of=TODAY, settings=SETTINGS)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        print(f"{label:<11} agreements={count} schedules={created} generation={generation:.2f}s (target < 5 s) "
              f"forecast_median={statistics.median(timings) * 1000:.1f}ms forecast_min={min(timings) * 1000:.1f}ms "
              f"forecast_cpu_median={statistics.median(cpu) * 1000:.1f}ms (target < 100 ms) "
              f"peak_memory={peak / 1024 / 1024:.1f}MiB lowest={forecast.lowest_closing_balance} clients={clients} items={len(forecast.items)}")
        await bench_scenario(sessions, account, label)
    finally:
        await engine.dispose()


# -- a what-if of five changes over the same agreements (issue 21: within 20 ms of the plain forecast) --

WHAT_IF = ['late "Acme Corp" 30', 'remove "Cloud Host"', 'expense "New hire" 8000 monthly from 2027-01-01',
           "once out 2500 on 2027-01-15", 'draw "Credit line" 5000']


async def named_counterparties(session: AsyncSession, account: Account) -> None:
    from tamio.data.service import set_balance
    from tamio.obligations.counterparties import BillingLine, CounterpartyService
    from tamio.obligations.models import ObligationType
    from tamio.obligations.schemas import RecurrenceSpec

    service = CounterpartyService(session, account=account, settings=SETTINGS, today=TODAY, now=NOW)
    monthly = RecurrenceSpec(Frequency.MONTHLY, start_date=TODAY, day=9)
    await service.create_client(name="Acme Corp", billing=BillingLine(Decimal("12000"), "USD", monthly, ObligationType.REVENUE))
    await service.create_expense(name="Cloud Host", billing=BillingLine(Decimal("2500"), "USD", monthly, ObligationType.EXPENSE))
    await set_balance(session, account=account, name="Operating", amount=Decimal("250000"), currency="USD", on_date=TODAY, now=NOW)
    await set_balance(session, account=account, name="Credit line", amount=Decimal("0"), currency="USD", on_date=TODAY, now=NOW,
                      account_type="credit_line", credit_limit=Decimal("50000"))


async def bench_scenario(sessions: async_sessionmaker[AsyncSession], account: Account, label: str) -> None:
    from tamio.scenarios.changes import Scenario
    from tamio.scenarios.inline import parse_changes
    from tamio.scenarios.service import what_if

    scenario = Scenario(changes=parse_changes(WHAT_IF, today=TODAY, base_currency="USD"))
    plain_runs, runs, plain_cpu, cpu = [], [], [], []
    for _ in range(15):  # interleaved, so a busy machine slows both alike
        async with sessions() as session:
            started, used = time.perf_counter(), time.process_time()
            await calculate_forecast(session, account.id, as_of=TODAY, settings=SETTINGS)
            plain_runs.append(time.perf_counter() - started)
            plain_cpu.append(time.process_time() - used)
        async with sessions() as session:
            stored = await session.get(Account, account.id)
            assert stored is not None
            started, used = time.perf_counter(), time.process_time()
            result = await what_if(session, account=stored, scenario=scenario, settings=SETTINGS, today=TODAY, now=NOW)
            runs.append(time.perf_counter() - started)
            cpu.append(time.process_time() - used)
    extra = statistics.median(b - a for a, b in zip(plain_runs, runs, strict=True))
    extra_cpu = statistics.median(b - a for a, b in zip(plain_cpu, cpu, strict=True))
    print(f"{label:<11} what-if of {len(scenario.changes)} changes: median={statistics.median(runs) * 1000:.1f}ms "
          f"(plain forecast beside it: {statistics.median(plain_runs) * 1000:.1f}ms), "
          f"median extra {extra * 1000:+.1f}ms wall, {extra_cpu * 1000:+.1f}ms cpu (target: within 20 ms); "
          f"lowest {result.baseline.lowest_closing_balance} -> {result.forecast.lowest_closing_balance}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agreements", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=100, help="clients with a learned behaviour (0: the spreading off)")
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(f"sqlite+aiosqlite:///{tmp}/bench.db", "sqlite", args.agreements, args.clients))
    if args.sqlite_only:
        return
    from tests.pgcluster import PostgresCluster

    cluster = PostgresCluster.start()
    try:
        asyncio.run(run(cluster.create_database("bench_forecast"), "postgresql", args.agreements, args.clients))
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()

"""Benchmark: the twelve detections for an account with 500 counterparties and 5,000 schedules.

Builds the account in a SQLite file in a temporary directory (and on PostgreSQL with ``--pg URL``,
or ``--pg auto`` for a throwaway cluster as in the tests): 300 clients and 200 vendors (payroll and
tax among them), one agreement each, ten schedules each spread over the 120 days back and the 13
weeks ahead, most past ones paid (with payments, some off their expected amount), some late.

Prints the median of several runs of: the snapshot load, the twelve detections over the loaded
snapshot (``evaluate``, the engine without the database), and a whole ``run_all_detections``
(load, evaluate, persist; rolled back). Target: the twelve detections under 30 ms.

    python bench/detection.py [--runs 9] [--pg URL|auto]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert  # noqa: E402

import tamio.models  # noqa: E402,F401
from tamio.accounts.service import get_user_configuration  # noqa: E402
from tamio.config import Settings  # noqa: E402
from tamio.data.models import CashAccount, Client, ExpenseBucket  # noqa: E402
from tamio.db import Base, create_engine, make_session_factory, new_id  # noqa: E402
from tamio.detection.configuration import effective_config  # noqa: E402
from tamio.detection.engine import DetectionEngine, evaluate  # noqa: E402
from tamio.detection.models import DetectionType  # noqa: E402
from tamio.detection.snapshot import load_snapshot  # noqa: E402
from tamio.obligations.models import ObligationAgreement, ObligationSchedule, PaymentEvent  # noqa: E402
from tamio.opening import open_account  # noqa: E402
from tamio.server_secret import ServerSecret  # noqa: E402

TODAY = date(2026, 12, 7)
NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
SETTINGS = Settings(use_obligation_for_forecast=True, database_url="sqlite+aiosqlite:///:memory:")
CLIENTS, VENDORS, PER_PARTY = 300, 200, 10


def _money(value: int) -> Decimal:
    return Decimal(value)


def books(account_id: str) -> dict[type[Any], list[dict[str, Any]]]:
    """Rows for a 500-counterparty business, deterministic."""
    stamp = {"created_at": NOW - timedelta(days=400), "updated_at": NOW}
    cash = [
        {"id": new_id("cash"), "user_id": account_id, "name": "Operating", "account_type": "bank", "balance": _money(180_000),
         "currency": "USD", "base_currency_amount": _money(180_000), **stamp},
        {"id": new_id("cash"), "user_id": account_id, "name": "Savings", "account_type": "savings", "balance": _money(60_000),
         "currency": "USD", "base_currency_amount": _money(60_000), **stamp},
        {"id": new_id("cash"), "user_id": account_id, "name": "Credit line", "account_type": "credit_line", "balance": _money(0),
         "credit_limit": _money(50_000), "currency": "USD", "base_currency_amount": _money(0), **stamp},
    ]
    clients, vendors, agreements, schedules, payments = [], [], [], [], []
    for i in range(CLIENTS + VENDORS):
        is_client = i < CLIENTS
        party_id = new_id("cli" if is_client else "exp")
        category = "payroll" if not is_client and i % 20 == 0 else "tax" if not is_client and i % 20 == 1 else "operating"
        amount = _money(400 + (i * 37) % 6000)
        if is_client:
            clients.append({"id": party_id, "user_id": account_id, "name": f"Client {i:03}", "currency": "USD", "amount": amount,
                            "avg_payment_delay_days": i % 9, "relationship_type": "strategic" if i % 10 == 0 else "transactional",
                            "status": "active", **stamp})
        else:
            vendors.append({"id": party_id, "user_id": account_id, "name": f"Vendor {i:03}", "currency": "USD", "amount": amount,
                            "category": category, "payment_terms": "net_30", "payment_terms_days": 30,
                            "flexibility_level": "can_delay" if i % 3 else "cannot_delay", "status": "active", **stamp})
        agreement_id = new_id("obl")
        kind = "revenue" if is_client else {"payroll": "payroll", "tax": "tax"}.get(category, "expense")
        changed = i % 50 == 7
        agreements.append({
            "id": agreement_id, "user_id": account_id, "client_id": party_id if is_client else None,
            "expense_bucket_id": None if is_client else party_id, "obligation_type": kind,
            "direction": "inflow" if is_client else "outflow", "description": f"Agreement {i}", "base_amount": amount,
            "currency": "USD", "base_currency_amount": amount, "amount_type": "fixed", "frequency": "monthly", "rrule": "FREQ=MONTHLY",
            "start_date": TODAY - timedelta(days=400), "status": "cancelled" if i % 97 == 3 else "active",
            "cancelled_at": NOW - timedelta(days=10) if i % 97 == 3 else None,
            "previous_amount": amount - 500 if changed else None, "amount_changed_at": NOW - timedelta(days=5) if changed else None,
            "source": "manual", "created_at": NOW - timedelta(days=2) if i % 150 == 40 else NOW - timedelta(days=400), "updated_at": NOW,
        })
        for k in range(PER_PARTY):
            due = TODAY - timedelta(days=120) + timedelta(days=k * 21 + i % 21)
            past = due < TODAY
            paid = past and (i + k) % 6 != 0
            schedule_id = new_id("sch")
            schedules.append({
                "id": schedule_id, "obligation_id": agreement_id, "user_id": account_id, "direction": "inflow" if is_client else "outflow",
                "rule_date": due, "due_date": due, "estimated_amount": amount, "currency": "USD", "base_currency_amount": amount,
                "exchange_rate_used": Decimal(1), "paid_amount": amount if paid else _money(0),
                "paid_base_amount": amount if paid else _money(0),
                "status": "paid" if paid else "overdue" if past else "scheduled", "paid_at": due + timedelta(days=i % 9) if paid else None,
                "source": "generated", **stamp,
            })
            if paid:
                variance = amount * Decimal("0.3") if (i + k) % 23 == 0 else _money(0)
                payments.append({
                    "id": new_id("pay"), "user_id": account_id, "schedule_id": schedule_id, "obligation_id": agreement_id,
                    "client_id": party_id if is_client else None, "expense_bucket_id": None if is_client else party_id,
                    "direction": "inflow" if is_client else "outflow", "amount": amount + variance, "currency": "USD",
                    "base_currency_amount": amount + variance, "payment_date": min(TODAY, due + timedelta(days=i % 9)),
                    "status": "completed", "variance_vs_expected": variance, "created_at": NOW,
                })
    for n in range(20):  # money nobody invoiced
        payments.append({"id": new_id("pay"), "user_id": account_id, "direction": "inflow", "amount": _money(250 + n),
                         "currency": "USD", "base_currency_amount": _money(250 + n), "payment_date": TODAY - timedelta(days=n * 5),
                         "status": "completed", "reference": f"Wire {n}", "created_at": NOW})
    return {CashAccount: cash, Client: clients, ExpenseBucket: vendors, ObligationAgreement: agreements,
            ObligationSchedule: schedules, PaymentEvent: payments}


def ms(seconds: list[float]) -> str:
    return f"median {statistics.median(seconds) * 1000:7.1f} ms  (min {min(seconds) * 1000:.1f}, max {max(seconds) * 1000:.1f})"


async def bench(url: str, label: str, runs: int) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        sessions = make_session_factory(engine, ServerSecret.parse(ServerSecret.generate()))
        async with sessions() as session, session.begin():
            account = await open_account(session, name="Bench Agency", base_currency="USD", now=NOW)
            for model, rows in books(account.id).items():
                await session.execute(insert(model), rows)
        loads, detections, whole = [], [], []
        async with sessions() as session:
            config = effective_config(await get_user_configuration(session, account_id=account.id))
        load_cpu, cpu = [], []
        for _ in range(runs):
            async with sessions() as session:
                started, started_cpu = time.perf_counter(), time.process_time()
                snapshot = await load_snapshot(session, account.id, today=TODAY, settings=SETTINGS)
                loads.append(time.perf_counter() - started)
                load_cpu.append(time.process_time() - started_cpu)
        for _ in range(runs):
            fresh = replace(snapshot)  # no cached indexes: each run does all the work
            started, started_cpu = time.perf_counter(), time.process_time()
            result = evaluate(fresh, DetectionType, today=TODAY, config=config)
            detections.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        for _ in range(runs):
            async with sessions() as session:
                started = time.perf_counter()
                run = await DetectionEngine(session, account.id, today=TODAY, now=NOW, settings=SETTINGS).run_all_detections()
                whole.append(time.perf_counter() - started)
                await session.rollback()
        by_type = Counter(f.detection_type.value for f in result.findings)
        print(f"{label}: {len(snapshot.clients)} clients, {len(snapshot.vendors)} vendors, {len(snapshot.schedules)} schedules, "
              f"{len(snapshot.payments)} payments; {len(result.findings)} findings, {len(result.errors)} errors, {len(run.new)} alerts")
        print(f"  snapshot load          {ms(loads)}")
        print(f"    (CPU time)           {ms(load_cpu)}   (this process, the driver's thread included)")
        print(f"  twelve detections      {ms(detections)}   target < 30 ms")
        print(f"    (CPU time)           {ms(cpu)}   (less sensitive to a busy machine)")
        print(f"  run_all_detections     {ms(whole)}   (load + detect + persist, rolled back)")
        print("  findings: " + ", ".join(f"{name} {count}" for name, count in sorted(by_type.items())))
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--pg", help="a PostgreSQL URL (an empty database), or 'auto' for a throwaway cluster")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(bench(f"sqlite+aiosqlite:///{tmp}/bench.db", "sqlite", args.runs))
    if not args.pg:
        return
    if args.pg != "auto":
        asyncio.run(bench(args.pg, "postgresql", args.runs))
        return
    from tests.pgcluster import PostgresCluster

    cluster = PostgresCluster.start()
    try:
        asyncio.run(bench(cluster.create_database("bench_detection"), "postgresql", args.runs))
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()

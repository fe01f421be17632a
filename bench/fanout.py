"""Benchmark: the 5-minute critical pass (or the hourly FULL one) over 10,000 small accounts, 2 worker processes.

Each account is a small business: 20 counterparties (12 clients, a payroll, a tax, 6 suppliers),
one agreement each, its schedules from 60 days back to the end of the 13-week forecast (past ones
paid), one bank account; one in ten runs short of cash, so buffer-breach and payroll-safety alerts
are raised and their actions prepared (the expensive path). Rows are seeded with bulk Core inserts
into a throwaway PostgreSQL cluster (``tests/pgcluster.py``) or the database given with ``--pg``.

Then ``--workers`` processes each run the real scheduler (``SchedulerApp.run_due(job)``) at the
same instant: they race for the slot's shards through claim rows and work through the accounts of
the shards they win, in batches (``Job.for_accounts``). Prints the wall time (targets: the critical
pass under 60 s, so the 5-minute cadence holds with room to spare; the FULL pass, ``--job
pipeline``, under 120 s), the accounts per second, each worker's share and what the pass found.

The workers and the database server share the machine's cores, so the CPU each pass took is printed
too: the workers' own (``time.process_time``) and, when the bench started the cluster, the server's
(its processes' CPU read from /proc while the pass runs). Their sum over the cores is the least wall
time the pass can take on this machine when nothing else runs on it; on a shared machine the wall
time also waits for the others' work (the load average is printed beside it).
Schedules are stored as generated through the horizon (``schedules_through``): no pass extends them.

    python bench/fanout.py [--job critical|pipeline] [--accounts 10000] [--workers 2] [--shards 16] [--concurrency 4]
                           [--batch 100] [--pg URL|auto]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select  # noqa: E402

import tamio.models  # noqa: E402,F401
from tamio.accounts.models import Account, UserConfiguration  # noqa: E402
from tamio.config import Settings  # noqa: E402
from tamio.data.models import CashAccount, Client, ExpenseBucket  # noqa: E402
from tamio.db import Base, create_engine, make_session_factory, new_id  # noqa: E402
from tamio.detection.models import DetectionAlert  # noqa: E402
from tamio.obligations.models import ObligationAgreement, ObligationSchedule  # noqa: E402
from tamio.outbox.models import OutboxMessage  # noqa: E402
from tamio.pipeline import PipelineRun  # noqa: E402
from tamio.preparation.models import PreparedAction  # noqa: E402
from tamio.scheduler.models import SchedulerClaim  # noqa: E402
from tamio.server_secret import ServerSecret  # noqa: E402

TODAY = date(2026, 12, 7)
NOW = datetime(2026, 12, 7, 9, 1, tzinfo=UTC)
CLIENTS, SUPPLIERS = 12, 6
CHUNK = 200  # accounts per insert round


def settings(url: str) -> Settings:
    return Settings(database_url=url, use_obligation_for_forecast=True)


def _dates(start: date, step_days: int, until: date) -> list[date]:
    out, day = [], start
    while day <= until:
        out.append(day)
        day += timedelta(days=step_days)
    return out


def small_business(n: int) -> dict[type[Any], list[dict[str, Any]]]:
    """One account's rows (deterministic in ``n``)."""
    account_id = f"acct_{n:06d}"
    stamp = {"created_at": NOW - timedelta(days=200), "updated_at": NOW}
    short = n % 10 == 3  # one in ten runs short of cash
    rows: dict[type[Any], list[dict[str, Any]]] = {
        Account: [{"id": account_id, "name": f"Small Business {n}", "base_currency": "USD", "timezone": "UTC",
                   "dual_approval_threshold": Decimal(10000), "is_active": True, "schedules_through": TODAY + timedelta(weeks=13),
                   **stamp}],
        UserConfiguration: [{"user_id": account_id, "obligations_buffer_amount": Decimal(5000), **stamp}],
        CashAccount: [{"id": f"cash_{n:06d}", "user_id": account_id, "name": "Operating", "account_type": "bank",
                       "balance": Decimal(9000 if short else 60000 + n % 5000), "currency": "USD",
                       "base_currency_amount": Decimal(9000 if short else 60000 + n % 5000), "is_primary": True, **stamp}],
        Client: [], ExpenseBucket: [], ObligationAgreement: [], ObligationSchedule: [],
    }
    end = TODAY + timedelta(weeks=13)
    parties: list[tuple[str, str, Decimal, int, str | None]] = []  # (kind, name, amount, step days, category)
    parties += [("client", f"Client {i}", Decimal(1500 + (n * 7 + i * 131) % 3000), 30, None) for i in range(CLIENTS)]
    parties += [("payroll", "Payroll", Decimal(14000), 14, "payroll"), ("tax", "Sales tax", Decimal(3500), 91, "tax")]
    parties += [("supplier", f"Supplier {i}", Decimal(400 + (n + i * 53) % 1200), 30, "operating") for i in range(SUPPLIERS)]
    for i, (kind, name, amount, step, category) in enumerate(parties):
        party_id = f"{'cli' if kind == 'client' else 'exp'}_{n:06d}_{i:02d}"
        if kind == "client":
            rows[Client].append({"id": party_id, "user_id": account_id, "name": name, "currency": "USD", "amount": amount,
                                 "status": "active", "avg_payment_delay_days": i % 5, "relationship_type": "transactional",
                                 **stamp})
        else:
            rows[ExpenseBucket].append({"id": party_id, "user_id": account_id, "name": name, "currency": "USD", "amount": amount,
                                        "category": category, "status": "active", "payment_terms_days": 30, **stamp})
        agreement_id = f"obl_{n:06d}_{i:02d}"
        obligation_type = {"client": "revenue", "payroll": "payroll", "tax": "tax"}.get(kind, "expense")
        direction = "inflow" if kind == "client" else "outflow"
        rows[ObligationAgreement].append({
            "id": agreement_id, "user_id": account_id, "client_id": party_id if kind == "client" else None,
            "expense_bucket_id": None if kind == "client" else party_id, "obligation_type": obligation_type,
            "direction": direction, "description": name, "base_amount": amount, "currency": "USD",
            "base_currency_amount": amount, "amount_type": "fixed", "frequency": "monthly", "rrule": "FREQ=MONTHLY",
            "start_date": TODAY - timedelta(days=200), "status": "active", "source": "manual", **stamp,
        })
        first = TODAY - timedelta(days=60) + timedelta(days=(n + i * 3) % step)
        for due in _dates(first, step, end):
            paid = due < TODAY - timedelta(days=3)
            rows[ObligationSchedule].append({
                "id": new_id("sch"), "obligation_id": agreement_id, "user_id": account_id, "direction": direction,
                "client_id": party_id if kind == "client" else None, "amount_type": "fixed", "origin": "manual",
                "rule_date": due, "due_date": due, "estimated_amount": amount, "currency": "USD",
                "base_currency_amount": amount, "exchange_rate_used": Decimal(1),
                "paid_amount": amount if paid else Decimal(0), "paid_base_amount": amount if paid else Decimal(0),
                "status": "paid" if paid else "scheduled", "paid_at": due if paid else None, "source": "generated", **stamp,
            })
    return rows


async def seed(url: str, accounts: int) -> dict[str, int]:
    engine = create_engine(url)
    counts: dict[str, int] = {}
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        for start in range(0, accounts, CHUNK):
            batch: dict[type[Any], list[dict[str, Any]]] = {}
            for n in range(start, min(accounts, start + CHUNK)):
                for model, rows in small_business(n).items():
                    batch.setdefault(model, []).extend(rows)
            async with engine.begin() as connection:
                for model in (Account, UserConfiguration, CashAccount, Client, ExpenseBucket, ObligationAgreement, ObligationSchedule):
                    if batch.get(model):
                        await connection.execute(insert(model), batch[model])
                        counts[model.__tablename__] = counts.get(model.__tablename__, 0) + len(batch[model])
        async with engine.begin() as connection:
            await connection.exec_driver_sql("ANALYZE")
    finally:
        await engine.dispose()
    return counts


TARGETS = {"critical": 60, "pipeline": 120}
CADENCE = {"critical": timedelta(minutes=5), "pipeline": timedelta(hours=1)}


async def worker(url: str, go: float, second_after: float, shards: int, concurrency: int, job: str, batch: int) -> dict[str, Any]:
    from tamio.scheduler.runner import SchedulerApp

    engine = create_engine(url, pool_size=concurrency + 2)
    sessions = make_session_factory(engine, ServerSecret.parse(ServerSecret.generate()))
    clock = [NOW]
    app = SchedulerApp(settings(url), sessions, clock=lambda: clock[0], shards=shards, concurrency=concurrency, batch=batch)
    async with sessions() as db:  # warm the pool and the imports before the start signal
        await db.execute(select(func.count()).select_from(Account))
    passes = []
    for n, start_at in enumerate((go, go + second_after)):  # the first pass raises alerts; the next is the steady state
        clock[0] = NOW + CADENCE[job] * n
        await asyncio.sleep(max(0.0, start_at - time.time()))
        started, cpu = time.time(), time.process_time()
        reports = await app.run_due(job)
        passes.append({"started": started, "finished": time.time(), "cpu": time.process_time() - cpu, "shards": len(reports),
                       "accounts": sum(r.accounts for r in reports), "failed": sum(len(r.failed) for r in reports)})
    await engine.dispose()
    return {"replica": app.replica, "passes": passes}


async def results(url: str) -> dict[str, int]:
    engine = create_engine(url)
    sessions = make_session_factory(engine, ServerSecret.parse(ServerSecret.generate()))
    try:
        async with sessions() as db:
            async def count(model: type[Any], *where: Any) -> int:
                return int((await db.execute(select(func.count()).select_from(model).where(*where))).scalar_one())

            return {"claims": await count(SchedulerClaim), "runs": await count(PipelineRun),
                    "alerts": await count(DetectionAlert), "actions": await count(PreparedAction),
                    "outbox": await count(OutboxMessage)}
    finally:
        await engine.dispose()


class ServerCPU:
    """The CPU time of a local PostgreSQL server's processes (the postmaster and its children), sampled
    every half second while the passes run, so each pass's share can be read off afterwards."""

    def __init__(self, postmaster: int) -> None:
        self.postmaster = postmaster
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="server-cpu", daemon=True)

    @classmethod
    def of_cluster(cls, data_dir: Path) -> ServerCPU | None:
        try:
            return cls(int((data_dir / "postmaster.pid").read_text().split()[0]))
        except (OSError, ValueError, IndexError):
            return None

    @classmethod
    def on_port(cls, url: str) -> ServerCPU | None:
        """The server of ``url`` when it runs on this machine and was started with ``-p PORT`` on its command line."""
        match = re.search(r"@(?:127\.0\.0\.1|localhost):(\d+)/", url)
        if match is None:
            return None
        for entry in os.scandir("/proc"):
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as cmdline:
                    words = cmdline.read().split(b"\0")
            except OSError:
                continue  # not a process, or gone meanwhile
            if words and words[0].endswith(b"postgres") and b"-p" in words and match[1].encode() in words:
                return cls(int(entry.name))
        return None

    def seconds(self) -> float:
        """CPU so far: live processes' own, and (in the postmaster's) that of children that ended."""
        ticks = 0
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue  # gone meanwhile
            pid, parent = int(entry.name), int(fields[1])
            if pid == self.postmaster:
                ticks += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
            elif parent == self.postmaster:
                ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> ServerCPU:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while True:
            self.samples.append((time.time(), self.seconds()))
            if self._stop.wait(0.5):
                self.samples.append((time.time(), self.seconds()))
                return

    def between(self, start: float, end: float) -> float:
        """The server's CPU from ``start`` to ``end`` (wall clock), to the nearest samples around them."""
        before = [cpu for at, cpu in self.samples if at <= start] or [self.samples[0][1]]
        after = [cpu for at, cpu in self.samples if at >= end] or [self.samples[-1][1]]
        return max(0.0, after[0] - before[-1])


def run(url: str, args: argparse.Namespace, server: ServerCPU | None = None) -> None:
    started = time.perf_counter()
    counts = asyncio.run(seed(url, args.accounts))
    print(f"seeded {args.accounts:,} accounts in {time.perf_counter() - started:.1f} s: "
          + ", ".join(f"{n:,} {t}" for t, n in counts.items()), flush=True)
    go = time.time() + 4.0
    per_thousand = 4.0 if args.job == "critical" else 12.0
    second_after = per_thousand * args.accounts / 1000 + 10  # well after the first pass ends, so the passes do not overlap
    command = [sys.executable, __file__, "--worker", url, "--go", str(go), "--second-after", str(second_after),
               "--shards", str(args.shards), "--concurrency", str(args.concurrency), "--job", args.job, "--batch", str(args.batch)]
    loads = [os.getloadavg()[0]]
    with server if server is not None else contextlib.nullcontext():
        processes = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT) for _ in range(args.workers)]
        reports = []
        for process in processes:
            out, _ = process.communicate()
            if process.returncode != 0:
                raise SystemExit(f"a worker failed with exit code {process.returncode}")
            reports.append(json.loads(out.strip().splitlines()[-1]))
    loads.append(os.getloadavg()[0])
    cores = os.cpu_count() or 1
    later = "5 minutes" if args.job == "critical" else "an hour"
    for n, label in enumerate(("first pass (raises alerts, prepares actions)", f"steady pass ({later} later)")):
        passes = [(r["replica"], r["passes"][n]) for r in reports]
        wall = max(p["finished"] for _, p in passes) - min(p["started"] for _, p in passes)
        done = sum(p["accounts"] for _, p in passes)
        cpu = sum(p["cpu"] for _, p in passes)
        print(f"{args.job} {label}: {done:,} accounts by {len(passes)} workers in {wall:.1f} s wall   "
              f"target < {TARGETS[args.job]} s for 10,000" + (f" (x{10_000 / done:.1f} = {wall * 10_000 / done:.0f} s)" if 0 < done < 10_000 else ""))
        print(f"  {done / wall:,.0f} accounts/s; {cpu * 1000 / max(done, 1):.1f} ms of worker CPU per account")
        if server is not None:
            start, end = min(p["started"] for _, p in passes), max(p["finished"] for _, p in passes)
            served = server.between(start, end)
            floor = (cpu + served) / cores
            print(f"  CPU: workers {cpu:.1f} s + server {served:.1f} s = {(cpu + served) * 1000 / max(done, 1):.1f} ms per account; "
                  f"on {cores} otherwise idle cores at least {floor:.1f} s" + (f" (x{10_000 / done:.1f} = {floor * 10_000 / done:.0f} s for 10,000)" if 0 < done < 10_000 else ""))
        for replica, p in passes:
            print(f"  worker {replica}: {p['shards']} shards, {p['accounts']:,} accounts, {p['failed']} failed, "
                  f"{p['finished'] - p['started']:.1f} s, CPU {p['cpu']:.1f} s")
    print(f"  load average (1 min) {loads[0]:.1f} before the passes, {loads[1]:.1f} after, on {cores} cores")
    found = asyncio.run(results(url))
    print("  found: " + ", ".join(f"{n:,} {what}" for what, n in found.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job", choices=sorted(TARGETS), default="critical", help="the 5-minute critical pass or the hourly FULL one")
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=100, help="accounts per transaction (1: one by one, as before batching)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--pg", default="auto", help="a PostgreSQL URL (an empty database), or 'auto' for a throwaway cluster")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--go", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--second-after", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(asyncio.run(worker(args.worker, args.go, args.second_after, args.shards, args.concurrency, args.job, args.batch))))
        return
    if args.pg != "auto":
        run(args.pg, args, ServerCPU.on_port(args.pg))
        return
    from tests.pgcluster import PostgresCluster

    cluster = PostgresCluster.start()
    try:
        run(cluster.create_database("bench_fanout"), args, ServerCPU.of_cluster(cluster.data_dir))
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()

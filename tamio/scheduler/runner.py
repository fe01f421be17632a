"""Runs a job's due slots in this replica, once across all replicas, one account at a time.

Every replica fires every job. ``run_due`` then works out which slots of the job are due at the
injected clock's ``now`` (``Cadence.due``: the current slot, and earlier ones still within grace,
which is how a replica starting after downtime catches up), and for each one it has not seen
claimed, inserts the claim (``claims.claim``); only the replica whose insert went in runs it.

A job that is only for some accounts (the 6 AM job) does not claim slots that are nobody's morning.

On PostgreSQL a slot can be split into shards (``shards=8``): each shard is claimed on its own
(``critical#3``), each replica works through the shards it wins, so several replicas share a big
pass. Accounts go to shards by a stable hash of their id.

For each account of the slot: its own session and transaction, the job's work, commit; an account
that fails is rolled back and logged, and the others go on (the claim says ``partial``). The time
is taken once per slot; ``wake`` (the delivery worker's doorbell) rings after each commit.

A job with ``for_accounts`` (the 5-minute critical pass, the hourly full one) works on batches of up to ``batch``
accounts, one transaction each, which is what lets 10,000 accounts fit in the 5 minutes. A batch
that fails is rolled back as a whole and its accounts run again one by one, each in its own
transaction as above, so one failing account still fails alone.

    app = SchedulerApp(settings, sessions, clock=utcnow, wake=runtime.wake_delivery)
    reports = await app.run_due("critical")
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.accounts.models import Account
from tamio.config import Settings
from tamio.db import utcnow
from tamio.scheduler import claims
from tamio.scheduler.jobs import Job, JobRun, default_jobs
from tamio.scheduler.refresh import drain_refreshes
from tamio.scheduler.slots import Clock

log = logging.getLogger("tamio.scheduler")

MAX_FAILED_LISTED = 20


def replica_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def shard_of(account_id: str, shards: int) -> int:
    return zlib.crc32(account_id.encode()) % shards


@dataclass(frozen=True)
class SlotReport:
    job_name: str  # with the shard, e.g. "critical#3"
    slot: datetime
    outcome: str
    accounts: int = 0
    failed: tuple[str, ...] = ()
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class SchedulerApp:
    """One replica's scheduler: the settings, the database, the clock and the sender's doorbell.

    ``tick`` (real seconds) makes every job look for due slots that often instead of at each
    slot's time: tests that step a fake clock use it. ``shards`` splits per-account jobs;
    ``concurrency`` is how many accounts (or batches) one replica works on at once (keep 1 on
    SQLite, whose writers queue anyway); ``batch`` is how many accounts share a transaction in a
    job that can work on several at once (``Job.for_accounts``: the critical pass).
    """

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock = utcnow
    wake: Callable[[], None] | None = None
    jobs: dict[str, Job] = field(default_factory=default_jobs)
    replica: str = field(default_factory=replica_name)
    shards: int = 1
    concurrency: int = 1
    batch: int = 100
    tick: float | None = None
    _running: set[asyncio.Task[Any]] = field(default_factory=set, repr=False)
    # (job name, slot) pairs this replica has seen claimed: a tick with nothing new asks no database.
    _seen: set[tuple[str, datetime]] = field(default_factory=set, repr=False)

    def shard_names(self, job: Job) -> list[str]:
        count = self.shards if job.shardable else 1
        if count == 1:
            return [job.name]
        # Start at a replica-specific shard so replicas do not all race for shard 0 first.
        first = zlib.crc32(self.replica.encode()) % count
        return [f"{job.name}#{(first + i) % count}" for i in range(count)]

    async def fire(self, job_name: str) -> list[SlotReport]:
        """What APScheduler calls: ``run_due`` with its errors logged, tracked for ``stop``."""
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            return await self.run_due(job_name)
        except Exception:
            log.exception("scheduler: job %s failed before or between its slots", job_name)
            return []
        finally:
            if task is not None:
                self._running.discard(task)

    async def refresh(self) -> int:
        """Answer the refresh requests waiting (``tamio.scheduler.refresh``); how many accounts ran.

        Not a slot job: a request is answered once whichever replica takes it, so nothing is claimed."""
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            return len(await drain_refreshes(self.sessions, now=self.clock(), settings=self.settings, wake=self.wake))
        except Exception:
            log.exception("scheduler: draining refresh requests failed")
            return 0
        finally:
            if task is not None:
                self._running.discard(task)

    async def stop(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109 (a deadline over several runs)
        """Let runs in progress finish (each records its outcome); cancel them after ``timeout``."""
        running = {t for t in self._running if t is not asyncio.current_task()}
        if not running:
            return
        _, late = await asyncio.wait(running, timeout=timeout)
        for task in late:
            task.cancel()
        if late:
            await asyncio.gather(*late, return_exceptions=True)

    async def run_due(self, job_name: str) -> list[SlotReport]:
        """Claim and run every due slot (and shard) of the job that nobody has claimed yet."""
        job = self.jobs[job_name]
        names = self.shard_names(job)
        reports: list[SlotReport] = []
        while True:
            now = self.clock()
            slots = job.cadence.due(now)
            self._forget_before(job, names, min(slots, default=now))
            unseen = [(name, slot) for slot in slots for name in names if (name, slot) not in self._seen]
            if not unseen:
                return reports
            async with self.sessions() as db:
                self._seen |= await claims.claimed(db, job_names=names, slots=[slot for _, slot in unseen])
            ran = False
            for name, slot in unseen:
                if (name, slot) in self._seen:
                    continue
                if job.wants is not None and not await self._accounts_for(job, name, slot):
                    self._seen.add((name, slot))  # nobody's morning: nothing to claim
                    continue
                async with self.sessions() as db, db.begin():
                    mine = await claims.claim(db, job_name=name, slot=slot, replica=self.replica, now=now)
                self._seen.add((name, slot))
                if mine:
                    reports.append(await self._run_claimed(job, name, slot, now))
                    ran = True
                    break  # time has moved on: look again at what is due
            if not ran:
                return reports

    def _forget_before(self, job: Job, names: list[str], oldest: datetime) -> None:
        self._seen = {(n, s) for n, s in self._seen if n not in names or s >= oldest}

    async def _run_claimed(self, job: Job, name: str, slot: datetime, now: datetime) -> SlotReport:
        run = JobRun(job=job.name, slot=slot, now=now, settings=self.settings, every=job.cadence.every)
        started = time.perf_counter()
        outcome, error, details = claims.FAILED, None, {}
        accounts: list[str] = []
        failed: list[str] = []
        try:
            if job.once is not None:
                details = dict(await job.once(self.sessions, run))
                outcome = str(details.pop("outcome", claims.OK))
            else:
                accounts = await self._accounts_for(job, name, slot)
                details, failed = await self._run_accounts(job, run, accounts)
                outcome = claims.OK if not failed else claims.FAILED if len(failed) == len(accounts) else claims.PARTIAL
        except Exception as exc:
            log.exception("scheduler: %s for %s failed", name, slot.isoformat())
            error = f"{type(exc).__name__}: {exc}"
        except BaseException:
            error = "stopped before the end (the replica shut down)"
            raise
        finally:
            seconds = time.perf_counter() - started
            summary = {**details, "accounts": len(accounts), "failed": failed[:MAX_FAILED_LISTED],
                       "failed_count": len(failed), "seconds": round(seconds, 3)}
            await asyncio.shield(self._finish(name, slot, outcome if error is None else claims.FAILED, summary, error))
            if self.wake is not None:
                self.wake()
        log.info("scheduler: %s %s: %s, %d accounts, %d failed, %.2f s", name, slot.isoformat(), outcome, len(accounts),
                 len(failed), seconds)
        return SlotReport(name, slot, outcome, len(accounts), tuple(failed), seconds, details)

    async def _finish(self, name: str, slot: datetime, outcome: str, details: dict[str, Any], error: str | None) -> None:
        try:
            async with self.sessions() as db, db.begin():
                await claims.finish(db, job_name=name, slot=slot, replica=self.replica, now=self.clock(), outcome=outcome,
                                    details=details, error=error)
        except Exception:
            log.exception("scheduler: could not record the outcome of %s %s", name, slot.isoformat())

    async def _accounts_for(self, job: Job, name: str, slot: datetime) -> list[str]:
        async with self.sessions() as db:
            rows = (await db.execute(select(Account.id, Account.timezone).where(Account.is_active.is_(True)))).all()
        shards = len(self.shard_names(job))
        shard = int(name.rsplit("#", 1)[1]) if "#" in name else 0
        wanted: dict[str, bool] = {}
        chosen = []
        for account_id, timezone in rows:
            if shards > 1 and shard_of(account_id, shards) != shard:
                continue
            if job.wants is not None:
                if timezone not in wanted:
                    wanted[timezone] = job.wants(slot, job.cadence.every, timezone)
                if not wanted[timezone]:
                    continue
            chosen.append(str(account_id))
        return sorted(chosen)

    async def _run_accounts(self, job: Job, run: JobRun, accounts: list[str]) -> tuple[dict[str, Any], list[str]]:
        assert job.for_account is not None
        work = job.for_account
        totals: dict[str, Any] = {}
        failed: list[str] = []
        gate = asyncio.Semaphore(max(1, self.concurrency))

        def count(result: dict[str, Any]) -> None:
            for key, value in result.items():
                if isinstance(value, bool):
                    totals[key] = totals.get(key, 0) + int(value)
                elif isinstance(value, int):
                    totals[key] = totals.get(key, 0) + value

        async def alone(account_id: str) -> None:
            try:
                async with self.sessions() as db, db.begin():
                    account = await db.get(Account, account_id)
                    if account is None or not account.is_active:
                        return
                    result = await work(db, account, run)
            except Exception:
                log.exception("scheduler: %s for account %s failed; rolled back, the others go on", run.trigger, account_id)
                failed.append(account_id)
                return
            if self.wake is not None:
                self.wake()
            count(result)

        async def one(account_id: str) -> None:
            async with gate:
                await alone(account_id)

        async def batch(chunk: list[str]) -> None:
            assert job.for_accounts is not None
            async with gate:
                try:
                    async with self.sessions() as db, db.begin():
                        found = (await db.execute(select(Account).where(Account.id.in_(chunk)))).scalars().all()
                        active = sorted((a for a in found if a.is_active), key=lambda a: a.id)
                        results = await job.for_accounts(db, active, run) if active else {}
                except Exception as exc:
                    log.warning("scheduler: %s for a batch of %d accounts failed (%s: %s); rolled back, running them one by one",
                                run.trigger, len(chunk), type(exc).__name__, exc)
                    for account_id in chunk:
                        await alone(account_id)
                    return
                if self.wake is not None:
                    self.wake()
                for result in results.values():
                    count(result)

        if job.for_accounts is not None and self.batch > 1 and len(accounts) > 1:
            await asyncio.gather(*(batch(chunk) for chunk in self._chunks(accounts)))
        else:
            await asyncio.gather(*(one(a) for a in accounts))
        return totals, failed

    def _chunks(self, accounts: list[str]) -> list[list[str]]:
        """At most ``batch`` accounts each, as many as fit evenly on ``concurrency`` lanes."""
        lanes = max(1, self.concurrency)
        count = -(-len(accounts) // self.batch)
        count = min(len(accounts), -(-count // lanes) * lanes)
        size = -(-len(accounts) // count)
        return [accounts[i : i + size] for i in range(0, len(accounts), size)]

"""Three replicas on one database, each with its own APScheduler, stepped through a morning on one
shared fake clock: every five-minute slot runs exactly once (claims and the job's own PipelineRuns
agree), the hourly and 6 AM jobs too, and no claim is left running.

Each replica is a separate process (``python -m tests.service.test_scheduler_replicas ...``)
running the same scheduler runtime ``tamio serve`` runs (``bot.scheduling`` installs it there),
with APScheduler firing every job every ``TICK`` real seconds. The test holds the clock: it tells
every replica the time (``at ...`` on its stdin) and moves it on a minute only once each running
replica has finished a run of every job that started at that time (``fired JOB TIME`` on its
stdout): five minutes, from 04:51 to 07:36. A slow or stalled replica slows the test down; it cannot make a slot go by unclaimed, so
the test passes the same on an idle and on a saturated machine.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.outbox.models import OutboxMessage
from tamio.pipeline import PipelineRun
from tamio.scheduler.jobs import default_jobs
from tamio.scheduler.models import SchedulerClaim
from tests.conftest import secret_for_tests

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 12, 7, 4, 51, tzinfo=UTC)  # Paris's 6 AM is 05:00 UTC, London's 06:00 UTC
END = datetime(2026, 12, 7, 7, 36, tzinfo=UTC)
STEP = timedelta(minutes=5)  # the critical cadence: each step lands one minute into a five-minute slot
LATE_JOINER_AT = START + timedelta(minutes=10)  # the third replica starts mid-run
TICK = 0.02  # real seconds between APScheduler's fires of each job
STEP_TIMEOUT_S = 300  # a replica that does not answer for this long has hung


async def replica(url: str, name: str) -> None:
    """One replica: connect, say ``ready``, then follow the commands on stdin (``at``, ``start``, ``stop``)."""
    import tamio.models  # noqa: F401
    from tamio.db import create_engine, make_session_factory
    from tamio.scheduler.runner import SchedulerApp, SlotReport
    from tamio.scheduler.setup import setup_apscheduler, shutdown_apscheduler
    from tests.fake_clock import FakeClock
    from tests.service.books import SCHEDULE_PATH

    reported: dict[str, datetime] = {}

    class Reporting(SchedulerApp):
        async def fire(self, job_name: str) -> list[SlotReport]:
            at = self.clock()
            try:
                return await super().fire(job_name)
            finally:
                if at > reported.get(job_name, START - STEP):  # once per job and time: the test waits for these
                    reported[job_name] = at
                    print(f"fired {job_name} {at.isoformat()}", flush=True)

    engine = create_engine(url, pool_size=4)
    sessions = make_session_factory(engine, secret_for_tests())
    async with sessions() as db:
        await db.execute(select(1))
    clock = FakeClock(START)
    app = Reporting(SCHEDULE_PATH, sessions, clock=clock, replica=name, tick=TICK, shards=1 if url.startswith("sqlite") else 2)
    scheduler = None
    print("ready", flush=True)
    while (line := (await asyncio.to_thread(sys.stdin.readline)).split()) not in ([], ["stop"]):  # [] : the test is gone
        if line[0] == "at":
            clock.advance_to(datetime.fromisoformat(line[1]))
        elif line[0] == "start":
            scheduler = await setup_apscheduler(app)
    if scheduler is not None:
        await shutdown_apscheduler(scheduler, app, timeout=30)
    await engine.dispose()
    print(json.dumps({"replica": name, "ok": True}), flush=True)


class Replicas:
    """The test's side: the replica processes, the time it tells them, and the runs they report."""

    def __init__(self, processes: list[asyncio.subprocess.Process]) -> None:
        self.processes = processes
        self.running: set[int] = set()
        self.jobs = list(default_jobs())
        self.fired: dict[tuple[int, str], datetime] = {}  # (replica, job) -> the latest start time of a finished run
        self.last_lines: dict[int, list[str]] = defaultdict(list)
        self.errors: dict[int, bytes] = defaultdict(bytes)
        self.ended: set[int] = set()  # replicas whose output has ended
        self.changed = asyncio.Condition()
        self.readers = {(kind, i): asyncio.create_task(read(i))
                        for kind, read in (("out", self.read), ("err", self.read_errors)) for i in range(len(processes))}

    async def read_errors(self, index: int) -> None:
        """Keep the tail of a replica's log (read as it comes, so a full pipe never blocks it)."""
        stream = self.processes[index].stderr
        assert stream is not None
        while chunk := await stream.read(65536):
            self.errors[index] = (self.errors[index] + chunk)[-3000:]

    async def read(self, index: int) -> None:
        stream = self.processes[index].stdout
        assert stream is not None
        while line := (await stream.readline()).decode().strip():
            self.last_lines[index] = [*self.last_lines[index][-1:], line]
            if line.startswith("fired "):
                _, job, at = line.split()
                async with self.changed:
                    self.fired[index, job] = max(self.fired.get((index, job), START), datetime.fromisoformat(at))
                    self.changed.notify_all()
        async with self.changed:
            self.ended.add(index)
            self.changed.notify_all()

    async def tell(self, line: str, *, to: list[int] | None = None) -> None:
        for index in range(len(self.processes)) if to is None else to:
            stdin = self.processes[index].stdin
            assert stdin is not None
            stdin.write(f"{line}\n".encode())
            await stdin.drain()

    async def everyone_ran_every_job_at(self, now: datetime) -> None:
        def done() -> bool:
            return all(self.fired.get((r, job), START - STEP) >= now for r in self.running for job in self.jobs)

        async with self.changed:
            try:
                await asyncio.wait_for(self.changed.wait_for(lambda: done() or bool(self.ended)), timeout=STEP_TIMEOUT_S)
            except TimeoutError:
                late = sorted((r, job) for r in self.running for job in self.jobs
                              if self.fired.get((r, job), START - STEP) < now)
                raise AssertionError(f"at {now:%H:%M} no finished run from (replica, job) {late}") from None
        for index in sorted(self.ended):
            await asyncio.wait_for(self.readers["err", index], timeout=STEP_TIMEOUT_S)  # its log's last words
            raise AssertionError(f"replica-{index} stopped at {now:%H:%M}:\n{self.errors[index].decode(errors='replace')}")


async def seed(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    from tests.service.test_scheduler_jobs import business

    return [
        await business(sessions, "London Ltd", timezone="Europe/London"),
        await business(sessions, "Paris SARL", timezone="Europe/Paris", cash="3000", buffer="5000"),
        await business(sessions, "Mumbai Pvt", timezone="Asia/Kolkata"),
    ]


@pytest.mark.slow
async def test_three_replicas_run_every_slot_exactly_once(db_url: str, session_factory: async_sessionmaker[AsyncSession]) -> None:
    accounts = await seed(session_factory)
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.service.test_scheduler_replicas", db_url, f"replica-{i}",
            cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        for i in range(3)
    ]
    errors: list[Any] = []
    try:
        for process in processes:  # all imported and connected
            assert process.stdout is not None and process.stderr is not None
            if (await asyncio.wait_for(process.stdout.readline(), timeout=STEP_TIMEOUT_S)).strip() != b"ready":
                raise AssertionError(f"a replica did not start:\n{(await process.stderr.read()).decode()[-3000:]}")
        replicas = Replicas(processes)
        await replicas.tell("start", to=[0, 1])
        replicas.running = {0, 1}
        now = START
        while True:
            if now == LATE_JOINER_AT:
                await replicas.tell("start", to=[2])
                replicas.running.add(2)
            await replicas.everyone_ran_every_job_at(now)
            if now == END:
                break
            now += STEP
            await replicas.tell(f"at {now.isoformat()}")
        await replicas.tell("stop")
        for process in processes:
            assert process.stdin is not None
            process.stdin.close()
        await asyncio.wait_for(asyncio.gather(*replicas.readers.values()), timeout=STEP_TIMEOUT_S)
        for index, process in enumerate(processes):
            await process.wait()
            if process.returncode != 0 or json.loads(replicas.last_lines[index][-1])["ok"] is not True:
                errors.append((index, process.returncode, replicas.errors[index].decode(errors="replace")))
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert errors == []

    async with session_factory() as db:
        claims = (await db.execute(select(SchedulerClaim))).scalars().all()
        triggers = Counter((await db.execute(select(PipelineRun.trigger))).scalars())
        digests = sorted((await db.execute(select(OutboxMessage.idempotency_key).where(OutboxMessage.kind == "digest"))).scalars())
    assert [(c.job_name, c.slot, c.outcome, c.error) for c in claims if c.outcome != "ok"] == []

    def slots_of(job: str) -> list[datetime]:
        return sorted(c.slot for c in claims if c.job_name.split("#")[0] == job)

    shards = 1 if db_url.startswith("sqlite") else 2
    critical = slots_of("critical")
    every_five = [datetime(2026, 12, 7, 4, 50, tzinfo=UTC) + timedelta(minutes=5) * i for i in range(34)]  # 04:50 ... 07:35
    assert sorted(set(critical)) == every_five  # the first caught up at start-up, one minute late; none skipped
    assert Counter(critical) == {slot: shards for slot in every_five}  # each slot (and shard) claimed once
    for slot in every_five:  # ... and each ran each account once: the job's own effects agree
        assert triggers[f"critical@{slot:%Y-%m-%dT%H:%MZ}"] == len(accounts), slot

    # The seeding's changes asked each account's figures to be worked out again: answered once, whichever replica took it.
    assert triggers.pop("refresh") == len(accounts)
    hourly = slots_of("pipeline")
    assert hourly == sorted([datetime(2026, 12, 7, h, 0, tzinfo=UTC) for h in (5, 6, 7)] * shards)
    for slot in set(hourly):
        assert triggers[f"pipeline@{slot:%Y-%m-%dT%H:%MZ}"] == len(accounts)
    assert sum(triggers.values()) == len(accounts) * (len(every_five) + len(set(hourly)))
    minutes = slots_of("executions")
    assert minutes == [START + STEP * i for i in range(len(minutes))] and minutes[-1] == END  # each step's minute, once
    assert (slots_of("housekeeping"), slots_of("xero_sync")) == (  # caught up at start-up, once
        [datetime(2026, 12, 7, 3, 0, tzinfo=UTC)], [datetime(2026, 12, 7, 4, 0, tzinfo=UTC)])

    london, paris, _ = accounts
    assert digests == sorted([f"digest:{london}:2026-12-07", f"digest:{paris}:2026-12-07"])
    print("claims per replica:", dict(Counter(c.claimed_by for c in claims)))


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("tamio.scheduler").setLevel(logging.INFO)
    logging.getLogger("apscheduler").setLevel(logging.ERROR)  # not "skipped: already running", each tick
    asyncio.run(replica(sys.argv[1], sys.argv[2]))

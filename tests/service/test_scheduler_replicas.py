"""Three replicas on one database, each with its own APScheduler and a clock 450 times faster:
over more than 30 five-minute slots, every slot runs exactly once (claims and the job's own
PipelineRuns agree), the hourly and 6 AM jobs too, and no claim is left running.

Each replica is a separate process (``python -m tests.service.test_scheduler_replicas ...``)
running the same scheduler runtime ``tamio serve`` runs (``bot.scheduling`` installs it there).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.outbox.models import OutboxMessage
from tamio.scheduler.models import PipelineRun, SchedulerClaim
from tests.conftest import secret_for_tests

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 12, 7, 4, 51, tzinfo=UTC)  # Paris's 6 AM is 05:00 UTC, London's 06:00 UTC
# Five minutes of scheduler time in 2/3 s: the 4-minute grace is 0.53 s of real time, enough for a
# replica stalled by a loaded 2-core machine to still claim its slot.
SPEED = 450.0
RUN_SECONDS = 22.0  # 33 five-minute slots
TICK = 0.1


async def replica(url: str, name: str, join_after: float) -> None:
    """One replica: say it is ready, read the common start from stdin, run the scheduler until the end."""
    import tamio.models  # noqa: F401
    from tamio.db import create_engine, make_session_factory
    from tamio.scheduler.runner import SchedulerApp
    from tamio.scheduler.setup import setup_apscheduler, shutdown_apscheduler
    from tamio.scheduler.slots import ScaledClock
    from tests.service.books import SCHEDULE_PATH

    engine = create_engine(url, pool_size=4)
    sessions = make_session_factory(engine, secret_for_tests())
    async with sessions() as db:  # connect before the start: the clock runs 450 times faster than this
        await db.execute(select(1))
    print("ready", flush=True)
    origin = float(await asyncio.to_thread(sys.stdin.readline))
    clock = ScaledClock(START, speed=SPEED, origin=origin)
    app = SchedulerApp(SCHEDULE_PATH, sessions, clock=clock, replica=name, tick=TICK,
                       shards=1 if url.startswith("sqlite") else 2)
    await asyncio.sleep(max(0.0, origin + join_after - time.time()))
    scheduler = await setup_apscheduler(app)
    await asyncio.sleep(max(0.0, origin + RUN_SECONDS - time.time()))
    await shutdown_apscheduler(scheduler, app, timeout=10)
    await engine.dispose()
    print(json.dumps({"replica": name, "ok": True}))


async def seed(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    from tests.service.test_scheduler_jobs import business

    return [
        await business(sessions, "London Ltd", timezone="Europe/London"),
        await business(sessions, "Paris SARL", timezone="Europe/Paris", cash="3000", buffer="5000"),
        await business(sessions, "Mumbai Pvt", timezone="Asia/Kolkata"),
    ]


async def test_three_replicas_run_every_slot_exactly_once(db_url: str, session_factory: async_sessionmaker[AsyncSession]) -> None:
    accounts = await seed(session_factory)
    replicas = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.service.test_scheduler_replicas", db_url, f"replica-{i}", str(join),
            cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        for i, join in enumerate((0.0, 0.05, 1.3))  # the third joins late, mid-run
    ]
    for process in replicas:  # all imported and connected: start the common clock
        assert process.stdout is not None
        assert (await asyncio.wait_for(process.stdout.readline(), timeout=60)).strip() == b"ready"
    origin = f"{time.time() + 0.2}\n".encode()
    outputs = await asyncio.gather(*(p.communicate(origin) for p in replicas))
    for process, (out, err) in zip(replicas, outputs, strict=True):
        assert process.returncode == 0, err.decode()[-3000:]
        assert json.loads(out.decode().strip().splitlines()[-1])["ok"] is True

    async with session_factory() as db:
        claims = (await db.execute(select(SchedulerClaim))).scalars().all()
        triggers = Counter((await db.execute(select(PipelineRun.trigger))).scalars())
        digests = sorted((await db.execute(select(OutboxMessage.idempotency_key).where(OutboxMessage.kind == "digest"))).scalars())
    assert [(c.job_name, c.slot, c.outcome, c.error) for c in claims if c.outcome != "ok"] == []

    def slots_of(job: str) -> list[datetime]:
        return sorted(c.slot for c in claims if c.job_name.split("#")[0] == job)

    shards = 1 if db_url.startswith("sqlite") else 2
    critical = slots_of("critical")
    distinct = sorted(set(critical))
    assert len(distinct) >= 30, f"only {len(distinct)} slots ran"
    assert distinct[0] == datetime(2026, 12, 7, 4, 50, tzinfo=UTC)  # caught up at start-up, one minute late
    assert distinct == [distinct[0] + timedelta(minutes=5) * i for i in range(len(distinct))], "a slot was skipped"
    assert Counter(critical) == {slot: shards for slot in distinct}  # each slot (and shard) claimed once
    for slot in distinct:  # ... and each ran each account once: the job's own effects agree
        assert triggers[f"critical@{slot:%Y-%m-%dT%H:%MZ}"] == len(accounts), slot

    hourly = slots_of("pipeline")
    assert hourly[: 3 * shards] == sorted([datetime(2026, 12, 7, h, 0, tzinfo=UTC) for h in (5, 6, 7)] * shards)
    for slot in set(hourly):
        assert triggers[f"pipeline@{slot:%Y-%m-%dT%H:%MZ}"] == len(accounts)
    assert sum(triggers.values()) == len(accounts) * (len(distinct) + len(set(hourly)))

    london, paris, _ = accounts
    assert digests == sorted([f"digest:{london}:2026-12-07", f"digest:{paris}:2026-12-07"])
    print("claims per replica:", dict(Counter(c.claimed_by for c in claims)))


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("tamio.scheduler").setLevel(logging.INFO)
    asyncio.run(replica(sys.argv[1], sys.argv[2], float(sys.argv[3])))

"""Benchmark: the FULL pipeline (detection and preparation) for an account with 500 counterparties.

Uses the detection benchmark's business (300 clients, 200 vendors, 5,000 schedules, payments).
Prints the median of several runs of:

- the engines alone, over data already loaded: the twelve detections (``evaluate``) plus every
  agent over the run's alerts (``AGENTS``, each option's forecast effect a delta against the base);
- the first FULL run through the database (detect, persist alerts, prepare and store every action);
- a steady-state FULL run (the hourly job: alerts refreshed, nothing new to prepare), rolled back,
  twice: first on the heap as set-up left it, then after ``tamio.process.settle_heap()``, which the
  server calls once after its own start-up (the scheduler's hourly runs are in that process) and the
  ``tamio`` program after importing its command: what is alive then is frozen out of the collector's
  passes. The bench settles after its set-up and first run, so its frozen heap holds what a server's
  holds after some work too (compiled statements, the spreaders' caches); the first figure is a
  process that never settles;
- detection's snapshot load alone (the account's books in a fixed number of queries).

The books' schedules are stored as generated through the rolling horizon (``schedules_through``),
so no run extends them (the 6 AM job does) and the steady run finds what the first one found.

Targets: engines together under 50 ms, steady FULL run under 100 ms, first FULL run under 500 ms,
snapshot load under 50 ms.

    python bench/pipeline.py [--runs 5] [--pg]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, select, update  # noqa: E402

import tamio.models  # noqa: E402,F401
from bench.detection import NOW, SETTINGS, TODAY, books  # noqa: E402
from tamio.accounts.models import Account  # noqa: E402
from tamio.accounts.service import get_user_configuration  # noqa: E402
from tamio.db import Base, create_engine, make_session_factory  # noqa: E402
from tamio.detection.configuration import effective_config  # noqa: E402
from tamio.detection.engine import evaluate  # noqa: E402
from tamio.detection.models import DetectionAlert, DetectionType  # noqa: E402
from tamio.detection.snapshot import load_snapshot  # noqa: E402
from tamio.obligations.service import horizon_end  # noqa: E402
from tamio.opening import open_account  # noqa: E402
from tamio.pipeline import PipelineConfig, run_detection_preparation_cycle  # noqa: E402,F401
from tamio.preparation.alerts import AlertView  # noqa: E402
from tamio.preparation.context import load_context  # noqa: E402
from tamio.preparation.engine import AGENTS  # noqa: E402
from tamio.process import settle_heap  # noqa: E402
from tamio.server_secret import ServerSecret  # noqa: E402


def ms(values: list[tuple[float, float]]) -> str:
    """Median wall time (and min), and the median CPU time of the process (all its threads): on a
    shared machine the wall time waits for other work, the CPU time does not."""
    wall, cpu = [w for w, _ in values], [c for _, c in values]
    return f"median {statistics.median(wall) * 1000:8.1f} ms  (min {min(wall) * 1000:.1f}; CPU {statistics.median(cpu) * 1000:.1f})"


class Clock:
    """Wall and CPU time of a block: ``with Clock(laps): ...`` appends (wall, cpu) seconds."""

    def __init__(self, laps: list[tuple[float, float]]) -> None:
        self.laps = laps

    def __enter__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def __exit__(self, *_: object) -> None:
        self.laps.append((time.perf_counter() - self.wall, time.process_time() - self.cpu))


async def analyze(engine: Any) -> None:
    """PostgreSQL: the tables' statistics, as a server's database has them (autovacuum, or the import's
    own ANALYZE): without any, the planner expects one row from each table and joins thousands by nested
    loops. SQLite plans without statistics."""
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.exec_driver_sql("VACUUM ANALYZE")


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
            await session.execute(update(Account).where(Account.id == account.id).values(schedules_through=horizon_end(TODAY)))
        await analyze(engine)  # as a large import does (tamio.obligations.importer)
        first_run: list[tuple[float, float]] = []
        async with sessions() as session, session.begin():
            with Clock(first_run):
                first = await run_detection_preparation_cycle(session, account.id, today=TODAY, now=NOW, settings=SETTINGS)
        await analyze(engine)  # the alerts and actions the first run wrote, as autovacuum would before the next hour
        async with sessions() as session:
            config = effective_config(await get_user_configuration(session, account_id=account.id))
            snapshot = await load_snapshot(session, account.id, today=TODAY, settings=SETTINGS)
            context = await load_context(session, account_id=account.id, today=TODAY, settings=SETTINGS)
            alerts = [AlertView.of(a) for a in (await session.execute(select(DetectionAlert).where(DetectionAlert.user_id == account.id))).scalars()]
        # Option effects (each option's lowest after, ``effect_of``) timed apart: the what-if engine owns them.
        effects: list[float] = []

        def fresh_context() -> Any:
            """The loaded context as a new run has it: what it works out once per run (indexes,
            effects, the base's closes) not carried over from the previous run."""
            fresh = replace(context, scenario=replace(context.scenario) if context.scenario is not None else None)
            effect_of = fresh.effect_of

            def timed_effect_of(*args: Any, **kwargs: Any) -> Any:
                started = time.process_time()
                try:
                    return effect_of(*args, **kwargs)
                finally:
                    effects.append(time.process_time() - started)

            object.__setattr__(fresh, "effect_of", timed_effect_of)
            return fresh

        detect: list[tuple[float, float]] = []
        prepare: list[tuple[float, float]] = []
        effect_share = []
        for _ in range(runs):
            with Clock(detect):
                evaluate(snapshot, DetectionType, today=TODAY, config=config)
            effects.clear()
            ctx = fresh_context()
            with Clock(prepare):
                drafts = [AGENTS[alert.detection_type](alert, ctx) for alert in alerts]
            effect_share.append(sum(effects) / prepare[-1][1])
        options = [o for d in drafts if d is not None for o in d.options]
        rendered: list[tuple[float, float]] = []
        with Clock(rendered):  # what showing every option of every card would cost (paid per card shown)
            texts = [(option.drafted_subject, option.drafted_body) for option in options]
        loads: list[tuple[float, float]] = []
        for _ in range(runs):
            async with sessions() as session:
                with Clock(loads):
                    await load_snapshot(session, account.id, today=TODAY, settings=SETTINGS)
        steady: list[tuple[float, float]] = []
        settled: list[tuple[float, float]] = []
        for laps in (steady, settled):
            if laps is settled:
                settle_heap()
            for _ in range(runs):
                async with sessions() as session:
                    with Clock(laps):
                        again = await run_detection_preparation_cycle(session, account.id, today=TODAY, now=datetime.now(UTC),
                                                                      settings=SETTINGS)
                    await session.rollback()
        print(f"{label}: {first.alerts_detected} alerts, {first.actions_prepared} actions prepared, {first.linked_action_groups} linked groups, "
              f"{len(first.errors)} errors; steady run prepared {again.actions_prepared}")
        print(f"  engines: detection     {ms(detect)}")
        print(f"  engines: preparation   {ms(prepare)}   ({len(alerts)} alerts, every agent)")
        print(f"    of which option effects (effect_of): {statistics.median(effect_share) * 100:.0f} % of its CPU")
        together = [(d[0] + p[0], d[1] + p[1]) for d, p in zip(detect, prepare, strict=True)]
        print(f"  engines together       {ms(together)}   target < 50 ms")
        print(f"  drafts rendered on read {ms(rendered)}   (all {len(texts)} options' drafts; a card renders only its own)")
        print(f"  first FULL run         {ms(first_run)}   target < 500 ms")
        print(f"    (database included: {first.detection_duration_ms} ms detection, {first.preparation_duration_ms} ms preparation)")
        print(f"  steady FULL run        {ms(steady)}   (database included)   target < 100 ms")
        print(f"    heap settled         {ms(settled)}   (as the server's, after settle_heap)")
        print(f"  snapshot load          {ms(loads)}   target < 50 ms")
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pg", action="store_true", help="also on a throwaway PostgreSQL cluster")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(bench(f"sqlite+aiosqlite:///{tmp}/bench.db", "sqlite", args.runs))
    if args.pg:
        from tests.pgcluster import PostgresCluster

        cluster = PostgresCluster.start()
        try:
            asyncio.run(bench(cluster.create_database("bench_pipeline"), "postgresql", args.runs))
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()

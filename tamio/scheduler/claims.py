"""Claim rows: the one thing that makes a scheduled run happen once across replicas.

Every replica runs its own in-memory scheduler, so every replica fires every job. Before running a
slot, a replica inserts ``(job_name, slot)`` with ``INSERT ... ON CONFLICT DO NOTHING RETURNING``;
the unique key lets exactly one insert through, and only that replica runs the slot. FIELD_NOTES.md
measured the alternatives (a shared job store, an advisory lock) running slots two or three times.

The claim is committed before the work starts (so the others see it at once), and records how the
run went when it ends: ``ok``, ``partial`` (some accounts failed), ``failed``, ``skipped``. A claim
left ``running`` means its replica died mid-run: the nightly housekeeping marks such a claim
``abandoned`` once it is far older than any run takes (``abandon_stale``), so it shows as what it is
and is forgotten with the others.

    async with sessions() as db, db.begin():
        mine = await claim(db, job_name="critical", slot=slot, replica="web-1:4242", now=now)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.db import new_id
from tamio.scheduler.models import SchedulerClaim

RUNNING, OK, PARTIAL, FAILED, ABANDONED = "running", "ok", "partial", "failed", "abandoned"


async def claim(db: AsyncSession, *, job_name: str, slot: datetime, replica: str, now: datetime) -> bool:
    """Insert the claim for ``(job_name, slot)``; True only for the one caller whose insert went in."""
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(SchedulerClaim)
        .values(id=new_id("clm"), job_name=job_name, slot=slot, claimed_by=replica[:100], started_at=now,
                outcome=RUNNING, details={})
        .on_conflict_do_nothing(index_elements=["job_name", "slot"])
        .returning(SchedulerClaim.id)
    )
    return (await db.execute(stmt)).first() is not None


async def claimed(db: AsyncSession, *, job_names: list[str], slots: list[datetime]) -> set[tuple[str, datetime]]:
    """Which of these (job, slot) pairs someone has claimed already (a cheap pre-check, not a lock)."""
    if not job_names or not slots:
        return set()
    rows = await db.execute(
        select(SchedulerClaim.job_name, SchedulerClaim.slot).where(
            SchedulerClaim.job_name.in_(job_names), SchedulerClaim.slot.in_(slots)
        )
    )
    return {(name, slot) for name, slot in rows}


async def finish(
    db: AsyncSession, *, job_name: str, slot: datetime, replica: str, now: datetime, outcome: str,
    details: dict[str, Any] | None = None, error: str | None = None,
) -> None:
    await db.execute(
        update(SchedulerClaim)
        .where(SchedulerClaim.job_name == job_name, SchedulerClaim.slot == slot, SchedulerClaim.claimed_by == replica[:100])
        .values(finished_at=now, outcome=outcome, details=details or {}, error=error[:4000] if error else None)
    )


async def abandon_stale(db: AsyncSession, *, started_before: datetime, now: datetime) -> int:
    """Claims still ``running`` that started before ``started_before``: their replica died mid-run.

    They become ``abandoned`` (finished now, with why). Should the replica still be alive after all,
    its ``finish`` records the real outcome over this one.
    """
    result = await db.execute(
        update(SchedulerClaim)
        .where(SchedulerClaim.outcome == RUNNING, SchedulerClaim.started_at < started_before)
        .values(outcome=ABANDONED, finished_at=now,
                error=f"no outcome since {started_before:%Y-%m-%d %H:%M} UTC: its replica stopped mid-run")
        .returning(SchedulerClaim.id)
    )
    return len(result.all())


async def prune(db: AsyncSession, *, before: datetime) -> int:
    """Forget finished claims of slots older than ``before`` (their slots can never be due again)."""
    result = await db.execute(
        delete(SchedulerClaim).where(SchedulerClaim.slot < before, SchedulerClaim.outcome != RUNNING)
        .returning(SchedulerClaim.id)
    )
    return len(result.all())


@dataclass(frozen=True)
class ClaimCount:
    job_name: str
    slots: int
    running: int
    failed: int
    abandoned: int
    last_slot: datetime | None


async def summary(db: AsyncSession) -> list[ClaimCount]:
    """Per job: how many slots ran, how many are still running, how many failed or were abandoned."""
    rows = await db.execute(
        select(
            SchedulerClaim.job_name,
            func.count(),
            func.sum(case((SchedulerClaim.outcome == RUNNING, 1), else_=0)),
            func.sum(case((SchedulerClaim.outcome == FAILED, 1), else_=0)),
            func.sum(case((SchedulerClaim.outcome == ABANDONED, 1), else_=0)),
            func.max(SchedulerClaim.slot),
        ).group_by(SchedulerClaim.job_name).order_by(SchedulerClaim.job_name)
    )
    return [ClaimCount(name, int(n), int(r or 0), int(f or 0), int(a or 0), last) for name, n, r, f, a, last in rows]

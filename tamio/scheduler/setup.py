"""``setup_apscheduler(app)``: APScheduler 3.11 firing each job of a replica (design: "Scheduling").

Each replica runs its own ``AsyncIOScheduler`` with an in-memory job store: never a shared store
(the FAQ forbids it, and FIELD_NOTES.md measured it duplicating runs). What makes a slot run once
is the claim row (``tamio.scheduler.claims``); APScheduler only decides when to look.

- Triggers fire at each slot's time (``SlotTrigger``: an ``IntervalTrigger`` anchored on the slot
  grid that stays on it after the start-up fire, which is off the grid), with an explicit
  ``misfire_grace_time`` equal to the job's grace and ``coalesce=True``: a replica that was
  stalled runs a late slot once, not once per missed fire. ``max_instances=1`` per job.
- Every job also fires once at start-up: ``run_due`` then catches up the slots missed while no
  replica was running, within each job's grace.
- ``app.tick`` (tests): fire every ``tick`` real seconds instead, to follow a sped-up clock.
- Refresh requests (``app.refresh``) are drained every ``settings.refresh_seconds`` of real time
  (a change is answered seconds after it, whatever the clock): no slots and no claims, a request
  being answered once whichever replica takes it.

    app = SchedulerApp(settings, sessions, clock=utcnow, wake=runtime.wake_delivery)
    scheduler = await setup_apscheduler(app)
    ...
    await shutdown_apscheduler(scheduler, app)
"""

from __future__ import annotations

from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from tamio.scheduler.runner import SchedulerApp
from tamio.scheduler.slots import EPOCH, Cadence


class SlotTrigger(IntervalTrigger):  # type: ignore[misc]  # APScheduler 3 ships no type hints
    """Fires at each slot of ``cadence``: the next one strictly after the previous fire.

    A plain ``IntervalTrigger`` adds its interval to the previous fire time, so the start-up fire
    (``next_run_time``: now, off the grid) would shift every later fire by the start-up's offset
    into a slot: a replica started 4.5 minutes into a 5-minute slot would then look at each slot
    past its 4-minute grace and never run one. This one always comes back to the grid.
    """

    def __init__(self, cadence: Cadence) -> None:
        super().__init__(seconds=cadence.every.total_seconds(), start_date=EPOCH + cadence.offset, timezone=UTC)
        self.cadence = cadence

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        if previous_fire_time is None:
            first: datetime | None = super().get_next_fire_time(None, now)
            return first
        return self.cadence.next_after(previous_fire_time)


async def setup_apscheduler(app: SchedulerApp) -> AsyncIOScheduler:
    """Start a scheduler firing every job of ``app``; each fires once right away to catch up."""
    scheduler = AsyncIOScheduler(timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1})
    started = datetime.now(UTC)
    for job in app.jobs.values():
        cadence = job.cadence
        trigger = IntervalTrigger(seconds=app.tick, timezone=UTC) if app.tick else SlotTrigger(cadence)
        scheduler.add_job(
            app.fire, trigger, args=[job.name], id=job.name, name=f"tamio {job.name}", replace_existing=True,
            misfire_grace_time=max(1, int(cadence.grace.total_seconds())), coalesce=True, max_instances=1,
            next_run_time=started,
        )
    scheduler.add_job(
        app.refresh, IntervalTrigger(seconds=app.settings.refresh_seconds, timezone=UTC), id="refresh",
        name="tamio refresh", replace_existing=True, coalesce=True, max_instances=1, next_run_time=started,
    )
    scheduler.start()
    return scheduler


async def shutdown_apscheduler(scheduler: AsyncIOScheduler, app: SchedulerApp, *, timeout: float = 30.0) -> None:  # noqa: ASYNC109
    """Stop firing, let runs in progress finish and record their outcome, then shut down.

    (APScheduler's asyncio executor cancels the jobs still running when it shuts down.)
    """
    if scheduler.running:
        scheduler.pause()
    await app.stop(timeout=timeout)
    if scheduler.running:
        scheduler.shutdown(wait=False)

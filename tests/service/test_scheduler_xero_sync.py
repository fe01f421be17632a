"""The daily ``xero_sync`` job on a real database, against the Xero stand-in: once per day across
replicas, nothing at all without a connection, what changed per run, a refused connection marked
and told once while the job records the failure, and a server without the Xero settings skipping."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import select

from tamio.data.models import Client
from tamio.integrations.connections import RECONNECT_KIND
from tamio.outbox.models import OutboxMessage
from tamio.scheduler.jobs import XERO_DAILY, default_jobs
from tamio.scheduler.models import SchedulerClaim
from tamio.scheduler.runner import SchedulerApp
from tests.service.test_xero_sync_fixtures import START, World, world_fixture  # noqa: F401

NEXT_MORNING = datetime(2026, 3, 3, 4, 7, tzinfo=UTC)  # START is 2 March 09:00; the slot is 04:00 UTC


def scheduler(world: World, name: str = "web-0", **settings: object) -> SchedulerApp:
    return SchedulerApp(world.settings.model_copy(update=settings), world.sessions, clock=world.clock.utc, replica=name)


def xero_calls(world: World) -> int:
    return len([c for c in world.xero.calls if not c.path.startswith("/identity")])


async def test_the_job_is_daily_at_four_utc_with_three_hours_of_grace() -> None:
    job = default_jobs()["xero_sync"]
    assert (job.cadence, job.once is not None, job.shardable) == (XERO_DAILY, True, False)
    assert job.cadence.due(datetime(2026, 3, 3, 6, 59, tzinfo=UTC)) == [datetime(2026, 3, 3, 4, 0, tzinfo=UTC)]
    assert job.cadence.due(datetime(2026, 3, 3, 7, 1, tzinfo=UTC)) == []


async def test_without_a_connection_the_job_does_nothing(world: World) -> None:
    world.clock.advance(seconds=(NEXT_MORNING - START).total_seconds())
    [report] = await scheduler(world).run_due("xero_sync")
    assert (report.outcome, report.details) == ("ok", {"connections": 0})
    assert world.xero.calls == []
    async with world.sessions() as db:
        claim = (await db.execute(select(SchedulerClaim).where(SchedulerClaim.job_name == "xero_sync"))).scalar_one()
    assert claim.outcome == "ok" and claim.details["connections"] == 0


async def test_each_day_the_connected_account_pulls_what_changed_once_across_replicas(world: World) -> None:
    await world.connect()
    world.xero.add_contact(name="Harbour Cafe", is_customer=True)
    world.xero.add_contact(name="Northern Flour", is_supplier=True)
    world.clock.advance(seconds=(NEXT_MORNING - START).total_seconds())  # the access token expired overnight

    replicas = [scheduler(world, f"web-{i}") for i in range(3)]
    reports = [r for per in await asyncio.gather(*(r.run_due("xero_sync") for r in replicas)) for r in per]
    assert [(r.slot, r.outcome) for r in reports] == [(datetime(2026, 3, 3, 4, 0, tzinfo=UTC), "ok")]
    assert reports[0].details == {"connections": 1, "synced": 1, "changed": 2, "incomplete": 0, "stopped": 0}
    assert {c.name for c in await world.rows(Client)} == {"Harbour Cafe"}

    world.clock.advance(days=1)
    [again] = await replicas[1].run_due("xero_sync")
    assert again.details == {"connections": 1, "synced": 1, "changed": 0, "incomplete": 0, "stopped": 0}
    assert len(await world.rows(Client)) == 1


async def test_a_refused_connection_is_marked_told_once_and_the_job_says_it_failed(world: World) -> None:
    await world.connect()
    world.xero._refresh.clear()  # the organisation let Tamio go: every refresh is invalid_grant
    world.clock.advance(seconds=(NEXT_MORNING - START).total_seconds())
    [report] = await scheduler(world).run_due("xero_sync")
    assert report.outcome == "failed" and report.details["stopped"] == 1
    assert world.account_id in report.details["problems"]
    assert (await world.connection()).status == "needs_reconnect"
    notices = await world.rows(OutboxMessage, OutboxMessage.kind == RECONNECT_KIND)
    assert len(notices) == 1 and notices[0].channel == "C0FINANCE"

    world.clock.advance(days=1)  # a connection needing reconnection is not tried again
    calls = xero_calls(world)
    [quiet] = await scheduler(world).run_due("xero_sync")
    assert (quiet.outcome, quiet.details) == ("ok", {"connections": 0})
    assert xero_calls(world) == calls and len(await world.rows(OutboxMessage, OutboxMessage.kind == RECONNECT_KIND)) == 1


async def test_a_server_without_the_xero_settings_skips_and_says_which(world: World) -> None:
    await world.connect()
    world.clock.advance(seconds=(NEXT_MORNING - START).total_seconds())
    calls = xero_calls(world)
    [report] = await scheduler(world, xero_client_secret=None).run_due("xero_sync")
    assert report.outcome == "skipped" and "XERO_CLIENT_SECRET" in report.details["note"]
    assert xero_calls(world) == calls

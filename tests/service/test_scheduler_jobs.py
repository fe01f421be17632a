"""The scheduled jobs on a real database: each slot once, catch-up within grace, one failing account
rolled back while the others go on, the 6 AM work per time zone, exchange rates, payment habits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.accounts.models import Account, UserConfiguration
from tamio.audit.models import AuditLog
from tamio.currency.models import ExchangeRate
from tamio.currency.service import add_rate
from tamio.data.models import Client
from tamio.obligations.models import ObligationSchedule, ScheduleStatus
from tamio.outbox.models import OutboxMessage
from tamio.outbox.service import enqueue
from tamio.pipeline import PipelineRun
from tamio.scheduler.claims import claim
from tamio.scheduler.jobs import Job, JobRun, default_jobs
from tamio.scheduler.models import SchedulerClaim
from tamio.scheduler.runner import SchedulerApp, SlotReport
from tamio.scheduler.slots import Cadence
from tests.service.books import SCHEDULE_PATH, Books

MONDAY = date(2026, 12, 7)


def at(hour: int, minute: int = 0, second: int = 0, day: int = 7) -> datetime:
    return datetime(2026, 12, day, hour, minute, second, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def business(sessions: async_sessionmaker[AsyncSession], name: str, *, timezone: str = "UTC", cash: str = "30000",
                   buffer: str = "0") -> str:
    """A business with payroll, VAT and a late client; ``cash`` below ``buffer`` raises a breach."""
    async with sessions() as session, session.begin():
        books = await Books.open(session, today=MONDAY, name=name)
        books.account.timezone = timezone
        config = await session.get(UserConfiguration, books.account.id)
        assert config is not None
        config.obligations_buffer_amount = Decimal(buffer)
        await books.cash("Operating", cash)
        await books.expense("Payroll", "12000", books.every("monthly", date(2026, 12, 15), day=15), category="payroll")
        await books.expense("HMRC VAT", "4200", books.every("once", date(2026, 12, 9)), category="tax")
        await books.client("Acme Corp", "8000", books.every("monthly", date(2026, 10, 20), day=20))
        return books.account.id


async def count(sessions: async_sessionmaker[AsyncSession], model: type[Any], *where: Any) -> int:
    async with sessions() as db:
        return int((await db.execute(select(func.count()).select_from(model).where(*where))).scalar_one())


async def test_replicas_racing_for_a_slot_run_it_once(session_factory: async_sessionmaker[AsyncSession]) -> None:
    accounts = [await business(session_factory, f"Shop {i}") for i in range(3)]
    clock = Clock(at(9, 6))
    replicas = [SchedulerApp(SCHEDULE_PATH, session_factory, clock=clock, replica=f"web-{i}") for i in range(5)]
    reports = await asyncio.gather(*(r.run_due("critical") for r in replicas))

    ran = [report for per_replica in reports for report in per_replica]
    assert [(r.job_name, r.slot, r.outcome, r.accounts) for r in ran] == [("critical", at(9, 5), "ok", 3)]
    async with session_factory() as db:
        claim = (await db.execute(select(SchedulerClaim))).scalar_one()
    assert (claim.job_name, claim.slot, claim.outcome, claim.details["accounts"]) == ("critical", at(9, 5), "ok", 3)
    assert claim.finished_at is not None and claim.claimed_by.startswith("web-")
    assert await count(session_factory, PipelineRun, PipelineRun.trigger == "critical@2026-12-07T09:05Z") == len(accounts)

    assert await replicas[0].run_due("critical") == []  # the slot is done; nothing until 9:10
    clock.now = at(9, 10, 30)
    assert [r.slot for r in await replicas[3].run_due("critical")] == [at(9, 10)]


async def test_sharded_slots_are_shared_and_each_account_runs_once(session_factory: async_sessionmaker[AsyncSession]) -> None:
    accounts = [await business(session_factory, f"Shop {i}") for i in range(6)]
    clock = Clock(at(9, 1))
    replicas = [SchedulerApp(SCHEDULE_PATH, session_factory, clock=clock, replica=f"web-{i}", shards=4) for i in range(3)]
    reports = [r for per in await asyncio.gather(*(r.run_due("critical") for r in replicas)) for r in per]
    assert sorted(r.job_name for r in reports) == ["critical#0", "critical#1", "critical#2", "critical#3"]
    assert sum(r.accounts for r in reports) == len(accounts)
    async with session_factory() as db:
        runs = (await db.execute(select(PipelineRun.user_id, func.count()).group_by(PipelineRun.user_id))).all()
    assert sorted(runs) == sorted((a, 1) for a in accounts)


async def test_a_replica_starting_late_catches_up_within_the_grace_only(session_factory: async_sessionmaker[AsyncSession]) -> None:
    await business(session_factory, "Shop")
    clock = Clock(at(9, 34))  # nobody ran since yesterday; the hourly slot of 9:00 is 34 minutes old
    app = SchedulerApp(SCHEDULE_PATH, session_factory, clock=clock)
    assert [r.slot for r in await app.run_due("critical")] == [at(9, 30)]
    assert await app.run_due("pipeline") == []  # 34 > 30 minutes: skipped, the 10:00 slot is near
    clock.now = at(10, 29, 59)
    assert [r.slot for r in await app.run_due("pipeline")] == [at(10, 0)]
    assert await app.run_due("morning") == []  # the 06:00 UTC morning is more than three hours old
    async with session_factory() as db:  # and slots that were nobody's morning are not even claimed
        assert (await db.execute(select(SchedulerClaim.job_name).where(SchedulerClaim.job_name == "morning"))).first() is None


async def test_a_failing_account_is_rolled_back_and_the_others_go_on(session_factory: async_sessionmaker[AsyncSession]) -> None:
    good = [await business(session_factory, f"Shop {i}") for i in range(2)]
    broken = await business(session_factory, "Broken")
    async with session_factory() as db, db.begin():  # a time zone that no longer exists on this machine
        await db.execute(update(Account).where(Account.id == broken).values(timezone="Mars/Olympus_Mons"))

    app = SchedulerApp(SCHEDULE_PATH, session_factory, clock=Clock(at(9, 0)))
    [report] = await app.run_due("critical")
    assert (report.outcome, report.accounts, report.failed) == ("partial", 3, (broken,))
    assert await count(session_factory, PipelineRun) == len(good)

    async def half_written(db: AsyncSession, account: Account, run: JobRun) -> dict[str, Any]:
        account.name = f"{account.name} (touched)"
        await db.flush()
        if account.id == broken:
            raise RuntimeError("disk full")
        return {"touched": 1}

    app.jobs["touch"] = Job("touch", Cadence(every=timedelta(minutes=5), grace=timedelta(minutes=4)), for_account=half_written)
    [report] = await app.run_due("touch")
    assert (report.outcome, report.details, report.failed) == ("partial", {"touched": 2}, (broken,))
    async with session_factory() as db:
        names = {account_id: name for account_id, name in await db.execute(select(Account.id, Account.name))}
        claim = (await db.execute(select(SchedulerClaim).where(SchedulerClaim.job_name == "touch"))).scalar_one()
    assert names[broken] == "Broken" and all(names[a].endswith("(touched)") for a in good)
    assert (claim.outcome, claim.details["failed"], claim.details["failed_count"]) == ("partial", [broken], 1)


async def test_the_morning_job_runs_at_six_in_each_time_zone_and_queues_one_digest(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    london = await business(session_factory, "London Ltd", timezone="Europe/London")
    paris = await business(session_factory, "Paris SARL", timezone="Europe/Paris", cash="3000", buffer="5000")
    tokyo = await business(session_factory, "Tokyo KK", timezone="Asia/Tokyo")
    async with session_factory() as db, db.begin():  # yesterday's VAT run still open, and a schedule left behind
        await db.execute(update(ObligationSchedule).where(ObligationSchedule.user_id == paris,
                                                          ObligationSchedule.due_date == date(2026, 12, 9))
                         .values(due_date=date(2026, 12, 4), rule_date=date(2026, 12, 4)))
    clock = Clock(at(6, 5))  # Paris's 6 AM was 05:00 UTC (caught up), London's is 06:00 UTC, Tokyo's was 21:00 UTC
    first, second = (SchedulerApp(SCHEDULE_PATH, session_factory, clock=clock, replica=name) for name in ("a", "b"))
    reports = await first.run_due("morning") + await second.run_due("morning")
    assert {r.slot: r.accounts for r in reports if r.accounts} == {at(5, 0): 1, at(6, 0): 1}

    async with session_factory() as db:
        digests = (await db.execute(select(OutboxMessage).where(OutboxMessage.kind == "digest"))).scalars().all()
        overdue = (await db.execute(select(ObligationSchedule.status).where(
            ObligationSchedule.user_id == paris, ObligationSchedule.due_date == date(2026, 12, 4)))).scalar_one()
        through = dict((await db.execute(select(Account.id, Account.schedules_through))).all())
    # Never backfilled until its morning: then its schedules reach the horizon, so reads use them (issue 17 item 2).
    assert through[tokyo] is None and all(through[a] is not None and through[a] >= date(2027, 3, 7) for a in (london, paris))
    keys = sorted(d.idempotency_key for d in digests)
    assert keys == sorted([f"digest:{london}:2026-12-07", f"digest:{paris}:2026-12-07"])
    assert tokyo not in {d.user_id for d in digests}
    assert overdue == ScheduleStatus.OVERDUE
    by_account = {d.user_id: d.payload for d in digests}
    assert by_account[london]["cash_today"] == "30000.00" and by_account[paris]["day"] == "2026-12-07"

    clock.now = at(6, 5, day=8)
    again = await second.run_due("morning")
    assert {r.slot for r in again if r.accounts} == {at(5, 0, day=8), at(6, 0, day=8)}
    assert await count(session_factory, OutboxMessage, OutboxMessage.kind == "digest") == 4


async def test_the_daily_analysis_learns_how_late_each_client_pays(session_factory: async_sessionmaker[AsyncSession]) -> None:
    account_id = await business(session_factory, "Shop")
    async with session_factory() as db, db.begin():
        client = (await db.execute(select(Client).where(Client.user_id == account_id))).scalar_one()
        rows = (await db.execute(select(ObligationSchedule).where(ObligationSchedule.client_id == client.id)
                                 .order_by(ObligationSchedule.due_date))).scalars().all()
        for schedule, late in zip(rows[:2], (4, 10), strict=True):  # 20 Oct paid 24 Oct, 20 Nov paid 30 Nov
            schedule.status, schedule.paid_at = ScheduleStatus.PAID, schedule.due_date + timedelta(days=late)
            schedule.paid_amount = schedule.paid_base_amount = schedule.estimated_amount
    app = SchedulerApp(SCHEDULE_PATH, session_factory, clock=Clock(at(6, 1)))
    [report] = [r for r in await app.run_due("morning") if r.accounts]
    assert report.details["delays_changed"] == 1
    async with session_factory() as db:
        learned = await db.get(Client, client.id)
        audit = (await db.execute(select(AuditLog).where(AuditLog.entity_id == client.id, AuditLog.actor == "scheduler"))).scalars().all()
    assert learned is not None and learned.avg_payment_delay_days == 7
    assert [a.changes for a in audit] == [{"changes": {"avg_payment_delay_days": {"old": 0, "new": 7}}}]


ECB_DAILY_XML = """<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
  <gesmes:subject>Reference rates</gesmes:subject>
  <Cube><Cube time="2026-12-07"><Cube currency="USD" rate="1.0812"/><Cube currency="GBP" rate="0.8531"/></Cube></Cube>
</gesmes:Envelope>"""


@pytest.fixture
async def ecb_feed() -> AsyncIterator[str]:
    async def daily(request: web.Request) -> web.Response:
        return web.Response(text=ECB_DAILY_XML, content_type="text/xml")

    app = web.Application()
    app.router.add_get("/eurofxref-daily.xml", daily)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}/eurofxref-daily.xml"
    finally:
        await runner.cleanup()


async def rates(sessions: async_sessionmaker[AsyncSession]) -> dict[tuple[str, str], Decimal]:
    async with sessions() as db:
        rows = (await db.execute(select(ExchangeRate.base_currency, ExchangeRate.quote_currency, ExchangeRate.rate,
                                        ExchangeRate.rate_date))).all()
    return {(base, f"{quote}@{day}"): rate for base, quote, rate, day in rows}


async def test_exchange_rates_come_from_the_feed_or_the_last_ones_stay(
    session_factory: async_sessionmaker[AsyncSession], ecb_feed: str, unused_tcp_port: int,
) -> None:
    async with session_factory() as db, db.begin():
        await add_rate(db, base_currency="EUR", quote_currency="USD", rate=Decimal("1.05"), rate_date=date(2026, 12, 4), account_id=None)
    before = await rates(session_factory)
    clock = Clock(at(16, 40))

    no_feed = SchedulerApp(SCHEDULE_PATH, session_factory, clock=clock)
    [report] = await no_feed.run_due("exchange_rates")
    assert report.outcome == "skipped" and "no ECB feed configured" in report.details["note"]
    assert await rates(session_factory) == before

    clock.now = at(16, 40, day=8)
    unreachable = SCHEDULE_PATH.model_copy(update={"ecb_feed_url": f"http://127.0.0.1:{unused_tcp_port}/eurofxref-daily.xml"})
    [report] = await SchedulerApp(unreachable, session_factory, clock=clock).run_due("exchange_rates")
    assert report.outcome == "failed" and "kept the last rates" in report.details["note"]
    assert await rates(session_factory) == before

    clock.now = at(16, 40, day=9)
    served = SCHEDULE_PATH.model_copy(update={"ecb_feed_url": ecb_feed})
    [report] = await SchedulerApp(served, session_factory, clock=clock).run_due("exchange_rates")
    assert (report.outcome, report.details) == ("ok", {"rates": 2, "latest": "2026-12-07"})
    assert (await rates(session_factory))[("EUR", "USD@2026-12-07")] == Decimal("1.0812")


async def test_housekeeping_forgets_claims_of_slots_long_past(session_factory: async_sessionmaker[AsyncSession]) -> None:
    await business(session_factory, "Shop")
    clock = Clock(at(9, 1, day=1))
    app = SchedulerApp(SCHEDULE_PATH, session_factory, clock=clock, jobs={
        name: job for name, job in default_jobs().items() if name in ("critical", "housekeeping")})
    await app.run_due("critical")
    clock.now = at(9, 1, day=2)
    await app.run_due("critical")
    new_year = datetime(2027, 1, 1, 3, 5, tzinfo=UTC)  # 30 days after the 2 December slot, not after 1 December's
    async with session_factory() as db, db.begin():  # a replica killed mid-run last night, one running now
        for slot in (new_year - timedelta(hours=8), new_year - timedelta(minutes=2)):
            await claim(db, job_name="pipeline", slot=slot, replica="dead:1", now=slot)
        account_id = (await db.execute(select(Account.id))).scalar_one()
        for key, kind, created, delivered in [
            ("old-card", "action_card", at(9, 0, day=1), True), ("new-card", "action_card", new_year - timedelta(days=29), True),
            ("old-alert", "alert_new", at(9, 0, day=1), True), ("old-pending", "slack_post", at(9, 0, day=1), False),
        ]:
            await enqueue(db, account_id=account_id, kind=kind, payload={}, idempotency_key=key, now=created)
            if delivered:
                await db.execute(update(OutboxMessage).where(OutboxMessage.idempotency_key == key)
                                 .values(status="delivered", delivered_at=created))
    clock.now = new_year
    [report] = await app.run_due("housekeeping")
    # runs are kept a week, claims and delivered messages 30 days; what alerts were announced stays
    assert report.details == {"claims_abandoned": 1, "claims_pruned": 1, "runs_pruned": 2, "messages_pruned": 1, "receipts_pruned": 0,
                              "accounts_purged": 0}
    assert await count(session_factory, PipelineRun) == 0
    async with session_factory() as db:
        left = (await db.execute(select(SchedulerClaim.job_name, SchedulerClaim.slot, SchedulerClaim.outcome)
                                 .order_by(SchedulerClaim.slot))).all()
        keys = set((await db.execute(select(OutboxMessage.idempotency_key))).scalars())
        stale = (await db.execute(select(SchedulerClaim).where(SchedulerClaim.outcome == "abandoned"))).scalar_one()
    assert [tuple(row) for row in left] == [
        ("critical", at(9, 0, day=2), "ok"), ("pipeline", new_year - timedelta(hours=8), "abandoned"),
        ("housekeeping", datetime(2027, 1, 1, 3, 0, tzinfo=UTC), "ok"), ("pipeline", new_year - timedelta(minutes=2), "running"),
    ]
    assert stale.finished_at == new_year and "stopped mid-run" in (stale.error or "")
    assert {"new-card", "old-alert", "old-pending"} <= keys and "old-card" not in keys  # (and the pipeline's, never delivered)


async def test_the_started_scheduler_catches_up_then_fires_on_the_slot_grid(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """``setup_apscheduler``: each job fires at start-up, then at its next slot (not start-up + interval,
    which would put every later fire as far past its slot as the start-up was, beyond the grace)."""
    from tamio.scheduler.setup import SlotTrigger, setup_apscheduler, shutdown_apscheduler

    async def note(sessions: async_sessionmaker[AsyncSession], run: JobRun) -> dict[str, Any]:
        return {}

    fired = {"often": asyncio.Event(), "daily": asyncio.Event()}

    class Noting(SchedulerApp):
        async def fire(self, job_name: str) -> list[SlotReport]:
            fired[job_name].set()  # APScheduler sets a job's next fire time before it calls this
            return await super().fire(job_name)

    jobs = {
        "often": Job("often", Cadence(every=timedelta(minutes=5), grace=timedelta(minutes=4)), once=note, shardable=False),
        "daily": Job("daily", Cadence(every=timedelta(days=1), grace=timedelta(hours=3), offset=timedelta(hours=16, minutes=30)),
                     once=note, shardable=False),
    }
    app = Noting(SCHEDULE_PATH, session_factory, jobs=jobs)
    # APScheduler runs on the wall clock: the start-up fire happens at a moment between these two.
    before = datetime.now(UTC)
    scheduler = await setup_apscheduler(app)
    after = datetime.now(UTC)
    try:
        await asyncio.wait_for(asyncio.gather(*(event.wait() for event in fired.values())), timeout=60)
        for name, job in jobs.items():
            scheduled = scheduler.get_job(name)
            assert isinstance(scheduled.trigger, SlotTrigger)
            assert scheduled.misfire_grace_time == int(job.cadence.grace.total_seconds()) and scheduled.coalesce
            assert scheduled.next_run_time in {job.cadence.next_after(before), job.cadence.next_after(after)}
    finally:
        await shutdown_apscheduler(scheduler, app, timeout=5)

"""The scheduled jobs: what each does for one account, and when (design: "Scheduling").

| job            | when                                   | grace  | work                                          |
|----------------|----------------------------------------|--------|-----------------------------------------------|
| critical       | every 5 minutes                        | 4 min  | buffer_breach, payroll_safety, statutory      |
| pipeline       | hourly (batched like critical)         | 30 min | expire overdue actions, all twelve detections |
| executions     | every minute                           | 50 s   | resume approved actions, due retries          |
| morning        | every 15 minutes: accounts at 6 AM     | 3 h    | horizon + overdue, payment habits, forecast snapshot and band calibration, digest |
| exchange_rates | daily at 16:30 UTC (after the ECB)     | 3 h    | ECB reference rates, or keep the last ones    |
| housekeeping   | daily at 03:00 UTC                     | 3 h    | abandoned claims (6 h), forget old claims (30 d), pipeline runs (7 d), delivered messages (30 d), accounts whose workspace removed Tamio longer than the retention ago |
| xero_sync      | daily at 04:00 UTC                     | 3 h    | pull what changed in each connected Xero      |

Each job is thin: the runner (``tamio.scheduler.runner``) opens one transaction per account, takes
the time once per slot, and rolls back, logs and goes on when one account fails. The morning job
runs on a 15-minute grid so that every time zone's 6 AM (half and quarter hours too) falls in
exactly one slot a day; it picks the accounts whose morning it is.

    JOBS = default_jobs()
    await JOBS["critical"].for_account(db, account, run)
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.accounts.installation import purge_deactivated
from tamio.accounts.models import Account
from tamio.config import Settings
from tamio.currency.ecb import load_ecb_rates
from tamio.currency.service import upsert_rates
from tamio.digest import load_digest
from tamio.execution.closing import expire_due, expire_due_many
from tamio.execution.service import resume_pending_executions
from tamio.forecast.service import extend_schedules
from tamio.forecast.snapshots import refresh_calibration, take_snapshot
from tamio.integrations.xero.scheduled import sync_every_connection
from tamio.obligations.service import ObligationService
from tamio.outbox.service import enqueue, prune_delivered
from tamio.pipeline import (
    PipelineConfig,
    PipelineMode,
    PipelineRun,
    run_critical_cycles,
    run_cycles,
    run_detection_preparation_cycle,
)
from tamio.scheduler.claims import abandon_stale, prune
from tamio.scheduler.models import SlackEventReceipt
from tamio.scheduler.slots import Cadence, morning_due
from tamio.scheduler.variance import refresh_payment_habits

log = logging.getLogger("tamio.scheduler")


@dataclass(frozen=True)
class JobRun:
    """What the work of one slot gets: the job, the slot, the time (taken once) and the settings."""

    job: str
    slot: datetime
    now: datetime
    settings: Settings
    every: timedelta = timedelta(minutes=5)

    @property
    def trigger(self) -> str:
        """How a PipelineRun names the slot it belongs to (at most 40 characters)."""
        return f"{self.job}@{self.slot:%Y-%m-%dT%H:%MZ}"[:40]


AccountWork = Callable[[AsyncSession, Account, JobRun], Awaitable[dict[str, Any]]]
# The same work for a batch of accounts in one transaction (account id -> what ``AccountWork`` answers);
# when a batch fails, the runner rolls it back and runs ``for_account`` on each of its accounts.
AccountsWork = Callable[[AsyncSession, list[Account], JobRun], Awaitable[dict[str, dict[str, Any]]]]
# A job that is not per account manages its own transactions; "outcome" in its answer overrides "ok".
GlobalWork = Callable[[async_sessionmaker[AsyncSession], JobRun], Awaitable[dict[str, Any]]]
# Whether a slot (its time, the grid's interval) is for an account in this time zone; None: every account.
AccountFilter = Callable[[datetime, timedelta, str], bool]


@dataclass(frozen=True)
class Job:
    name: str
    cadence: Cadence
    for_account: AccountWork | None = None
    once: GlobalWork | None = None
    wants: AccountFilter | None = None
    shardable: bool = True
    for_accounts: AccountsWork | None = None


def local_today(account: Account, now: datetime) -> date:
    return now.astimezone(ZoneInfo(account.timezone)).date()


async def critical_detections(db: AsyncSession, account: Account, run: JobRun) -> dict[str, Any]:
    result = await run_detection_preparation_cycle(
        db, account.id, PipelineConfig(mode=PipelineMode.CRITICAL), today=local_today(account, run.now), now=run.now,
        settings=run.settings, trigger=run.trigger,
    )
    return {"alerts": result.alerts_detected, "actions": result.actions_prepared, "errors": len(result.errors)}


async def critical_detections_many(db: AsyncSession, accounts: list[Account], run: JobRun) -> dict[str, dict[str, Any]]:
    """``critical_detections`` for a batch of accounts, their loading shared (``run_critical_cycles``)."""
    results = await run_critical_cycles(
        db, accounts, today={a.id: local_today(a, run.now) for a in accounts}, now=run.now, settings=run.settings,
        trigger=run.trigger,
    )
    return {
        account_id: {"alerts": r.alerts_detected, "actions": r.actions_prepared, "errors": len(r.errors)}
        for account_id, r in results.items()
    }


async def full_pipeline(db: AsyncSession, account: Account, run: JobRun) -> dict[str, Any]:
    """Pending actions past their deadline expire first, then all twelve detections and preparation."""
    expired = await expire_due(db, account=account, now=run.now)
    result = await run_detection_preparation_cycle(
        db, account.id, PipelineConfig(mode=PipelineMode.FULL), today=local_today(account, run.now), now=run.now,
        settings=run.settings, trigger=run.trigger,
    )
    return {"alerts": result.alerts_detected, "actions": result.actions_prepared, "errors": len(result.errors),
            "expired": len(expired)}


async def full_pipeline_many(db: AsyncSession, accounts: list[Account], run: JobRun) -> dict[str, dict[str, Any]]:
    """``full_pipeline`` for a batch of accounts in one transaction, their loading shared (``run_cycles``)."""
    expired = {i: len(d) for i, d in (await expire_due_many(db, accounts=accounts, now=run.now)).items()}
    results = await run_cycles(
        db, accounts, PipelineConfig(mode=PipelineMode.FULL), today={a.id: local_today(a, run.now) for a in accounts},
        now=run.now, settings=run.settings, trigger=run.trigger,
    )
    return {
        account_id: {"alerts": r.alerts_detected, "actions": r.actions_prepared, "errors": len(r.errors), "expired": expired[account_id]}
        for account_id, r in results.items()
    }


async def resume_executions(sessions: async_sessionmaker[AsyncSession], run: JobRun) -> dict[str, Any]:
    """Approved actions not started yet, retries that are due, and executions whose process died."""
    outcomes = await resume_pending_executions(sessions, run.now, settings=run.settings)
    return {"resumed": len(outcomes)}


def morning_wanted(slot: datetime, every: timedelta, timezone: str) -> bool:
    return morning_due(timezone=timezone, slot=slot, every=every) is not None


def digest_key(account_id: str, day: date) -> str:
    return f"digest:{account_id}:{day.isoformat()}"


async def morning(db: AsyncSession, account: Account, run: JobRun) -> dict[str, Any]:
    """6 AM for this account: schedules reach the horizon, late ones are overdue, how clients pay is
    learned again, yesterday's balance scores past forecasts (the band's calibration), today's
    forecast is stored, and the digest."""
    day = morning_due(timezone=account.timezone, slot=run.slot, every=run.every) or local_today(account, run.now)
    service = ObligationService(db, account=account, settings=run.settings, today=day, actor="scheduler", now=run.now)
    backfilled = False
    if run.settings.use_obligation_for_forecast and account.schedules_through is None:
        # Never backfilled (new, or lines without agreements): reads fall back to its billing lines until now.
        backfilled = await extend_schedules(db, account_id=account.id, through=service.horizon, settings=run.settings,
                                            today=day, now=run.now)
    extended = await service.extend_horizon()
    overdue = await service.mark_overdue()
    habits = await refresh_payment_habits(db, account_id=account.id, today=day, now=run.now)
    scored = await refresh_calibration(db, account=account, today=day)
    await take_snapshot(db, account_id=account.id, today=day, now=run.now, settings=run.settings)
    digest = await load_digest(db, account=account, today=day, now=run.now, settings=run.settings)
    queued = await enqueue(
        db, account_id=account.id, kind="digest", channel=account.digest_channel_id, payload=digest.to_json(),
        idempotency_key=digest_key(account.id, day), now=run.now,
    )
    return {"day": day.isoformat(), "schedules_changed": extended, "backfilled": backfilled, "overdue": overdue, "delays_changed": len(habits),
            "forecasts_scored": scored,
            "digest": "queued" if queued else "already queued", "quiet": digest.quiet}


async def exchange_rates(sessions: async_sessionmaker[AsyncSession], run: JobRun) -> dict[str, Any]:
    """The ECB reference rates: fetched with no transaction open, then stored in one."""
    rates, why = await fetch_rates(run.settings)
    if rates is None:
        return {"outcome": "skipped" if not run.settings.ecb_feed_url else "failed", "note": why}
    async with sessions() as db, db.begin():
        return await store_rates(db, rates)


async def fetch_rates(settings: Settings) -> tuple[list[Any] | None, str]:
    """The ECB rates, or None and why not (no feed configured, or it failed): the last rates stay."""
    if not settings.ecb_feed_url:
        log.info("exchange rates: no ECB feed configured (TAMIO_ECB_FEED_URL); keeping the last rates")
        return None, "no ECB feed configured; kept the last rates"
    try:
        return list(await load_ecb_rates(settings.ecb_feed_url)), "fetched"
    except Exception as exc:  # an unreachable or broken feed must not stop the others
        log.warning("exchange rates: the ECB feed %s failed (%r); keeping the last rates", settings.ecb_feed_url, exc)
        return None, f"the ECB feed failed ({type(exc).__name__}: {exc}); kept the last rates"


async def store_rates(db: AsyncSession, rates: list[Any]) -> dict[str, Any]:
    rows = [("EUR", r.currency, r.rate, r.rate_date) for r in rates]
    count = await upsert_rates(db, rows, source="ecb")
    latest = max((r.rate_date for r in rates), default=None)
    return {"rates": count, "latest": latest.isoformat() if latest else None}


async def housekeeping(sessions: async_sessionmaker[AsyncSession], run: JobRun) -> dict[str, Any]:
    """Mark claims left ``running`` for ``STALE_CLAIM`` as abandoned (their replica died mid-run); forget
    claims older than ``CLAIM_RETENTION`` (a slot that old is never due again), pipeline runs older than
    ``RUN_RETENTION`` (the critical pass alone records one per account every 5 minutes), messages
    delivered more than ``OUTBOX_RETENTION`` ago and Slack receipts older than ``RECEIPT_RETENTION``
    (a retried event or a replayed request is refused within minutes; a signature older than five
    is refused anyway)."""
    async with sessions() as db, db.begin():
        abandoned = await abandon_stale(db, started_before=run.now - STALE_CLAIM, now=run.now)
        claims = await prune(db, before=run.now - CLAIM_RETENTION)
    async with sessions() as db, db.begin():
        runs = await db.execute(delete(PipelineRun).where(PipelineRun.started_at < run.now - RUN_RETENTION)
                                .returning(PipelineRun.id))
        runs_pruned = len(runs.all())
        receipts = await db.execute(delete(SlackEventReceipt).where(SlackEventReceipt.received_at < run.now - RECEIPT_RETENTION)
                                    .returning(SlackEventReceipt.event_id))
        receipts_pruned = len(receipts.all())
    async with sessions() as db, db.begin():
        messages = await prune_delivered(db, before=run.now - OUTBOX_RETENTION)
    async with sessions() as db, db.begin():
        accounts = await purge_deactivated(db, retention=timedelta(days=run.settings.uninstall_retention_days), now=run.now)
    if accounts:
        log.info("housekeeping: deleted %d accounts whose workspaces removed Tamio more than %d days ago",
                 accounts, run.settings.uninstall_retention_days)
    if abandoned:
        log.warning("housekeeping: %d scheduler claims were left running by a replica that stopped; marked abandoned", abandoned)
    return {"claims_abandoned": abandoned, "claims_pruned": claims, "runs_pruned": runs_pruned, "messages_pruned": messages,
            "receipts_pruned": receipts_pruned, "accounts_purged": accounts}


async def xero_sync(sessions: async_sessionmaker[AsyncSession], run: JobRun) -> dict[str, Any]:
    """Every active Xero connection pulls what changed; nothing at all when there is none."""
    return await sync_every_connection(sessions, settings=run.settings, now=run.now)


CLAIM_RETENTION = timedelta(days=30)
RUN_RETENTION = timedelta(days=7)
OUTBOX_RETENTION = timedelta(days=30)
RECEIPT_RETENTION = timedelta(days=1)
STALE_CLAIM = timedelta(hours=6)  # far longer than any run takes
EVERY_MINUTE = Cadence(every=timedelta(minutes=1), grace=timedelta(seconds=50))
CRITICAL = Cadence(every=timedelta(minutes=5), grace=timedelta(minutes=4))
HOURLY = Cadence(every=timedelta(hours=1), grace=timedelta(minutes=30))
MORNING_GRID = Cadence(every=timedelta(minutes=15), grace=timedelta(hours=3))
ECB_DAILY = Cadence(every=timedelta(days=1), grace=timedelta(hours=3), offset=timedelta(hours=16, minutes=30))
NIGHTLY = Cadence(every=timedelta(days=1), grace=timedelta(hours=3), offset=timedelta(hours=3))
XERO_DAILY = Cadence(every=timedelta(days=1), grace=timedelta(hours=3), offset=timedelta(hours=4))


def default_jobs() -> dict[str, Job]:
    return {
        "critical": Job("critical", CRITICAL, for_account=critical_detections, for_accounts=critical_detections_many),
        "pipeline": Job("pipeline", HOURLY, for_account=full_pipeline, for_accounts=full_pipeline_many),
        "executions": Job("executions", EVERY_MINUTE, once=resume_executions, shardable=False),
        "morning": Job("morning", MORNING_GRID, for_account=morning, wants=morning_wanted),
        "exchange_rates": Job("exchange_rates", ECB_DAILY, once=exchange_rates, shardable=False),
        "housekeeping": Job("housekeeping", NIGHTLY, once=housekeeping, shardable=False),
        "xero_sync": Job("xero_sync", XERO_DAILY, once=xero_sync, shardable=False),
    }

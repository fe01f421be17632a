"""The detection -> preparation pipeline (design: "V4 Detection -> Preparation Pipeline").

Modes: FULL runs all twelve detection types, CRITICAL only buffer_breach, payroll_safety and
statutory_deadline, TARGETED the types named. Preparation follows unless ``skip_preparation``.
Reruns never duplicate a pending action for an alert that already has one; when an alert
resolves, its pending action is superseded. A failing rule or agent is an entry in ``errors``;
the rest of the run completes. The caller commits (jobs and the CLI do, once per account).

    result = await run_detection_preparation_cycle(db, user_id)
    result = await run_detection_preparation_cycle(db, user_id, PipelineConfig(mode=PipelineMode.CRITICAL))
    result = await run_detection_preparation_cycle(db, user_id, PipelineConfig(skip_preparation=True))

The 5-minute job runs CRITICAL for a batch of accounts in one transaction (``run_critical_cycles``),
the hourly job FULL (``run_cycles``): the same outcome per account, with the loading shared.

A FULL or TARGETED run also restates the pending actions whose basis no longer holds (``freshness``):
brought up to date in place, or superseded by a fresh action (a new card; the old card says why).
CRITICAL runs stay lean (the 5-minute pass over every account): a change to money data asks for its
own TARGETED run, the hourly FULL run follows the day, and an approval checks the basis itself.
``refresh_figures`` is the TARGETED run a change to money data asks for (``tamio.refresh``): the
cash types, the changed counterparties' types and the types of the alerts that have a pending card.

    result = await refresh_figures(db, account.id, now=now, settings=settings)   # None: nothing asked
"""

from __future__ import annotations

import enum
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ForeignKey, Index, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from tamio.accounts.models import Account
from tamio.config import Settings
from tamio.db import Base, JSONType, UTCDateTime, new_id
from tamio.detection.engine import DetectionEngine, DetectionRun, run_many
from tamio.detection.models import CRITICAL_DETECTIONS, AlertStatus, DetectionAlert, DetectionType
from tamio.detection.snapshot import FORECAST_WEEKS
from tamio.errors import NotFound
from tamio.execution import automation, closing
from tamio.execution.models import ExecutionAutomationRule
from tamio.forecast.service import load_forecast_inputs_many
from tamio.outbox.service import Outgoing, enqueue_for_accounts, enqueue_many
from tamio.pipeline_messages import announcements_of, enqueue_messages, headed
from tamio.preparation.basis import load_bases
from tamio.preparation.context import PreparationContext, load_contexts
from tamio.preparation.engine import OpenAction, open_actions_of, prepare_actions
from tamio.preparation.models import ActionStatus, PreparedAction
from tamio.preparation.restating import announce
from tamio.process import collector_paused
from tamio.refresh import service as refresh
from tamio.refresh.service import CASH, CLIENTS, VENDORS

OPEN_ALERT_STATUSES = (AlertStatus.ACTIVE, AlertStatus.ACKNOWLEDGED)
# The detection types a refresh runs for each scope of change (``tamio.refresh.service``).
SCOPE_TYPES: dict[int, tuple[DetectionType, ...]] = {
    CASH: (DetectionType.BUFFER_BREACH, DetectionType.RUNWAY_THRESHOLD, DetectionType.PAYROLL_SAFETY,
           DetectionType.PAYMENT_TIMING_CONFLICT, DetectionType.STATUTORY_DEADLINE),
    CLIENTS: (DetectionType.LATE_PAYMENT, DetectionType.UNEXPECTED_REVENUE, DetectionType.CLIENT_CHURN,
              DetectionType.REVENUE_VARIANCE),
    VENDORS: (DetectionType.UNEXPECTED_EXPENSE, DetectionType.VENDOR_TERMS_EXPIRING, DetectionType.HEADCOUNT_CHANGE),
}


class PipelineRun(Base):
    """One run of the pipeline for one account: what it found and prepared, and how long it took."""

    __tablename__ = "pipeline_runs"
    __table_args__ = (Index("ix_pipeline_runs_user_started", "user_id", "started_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("run"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(20))
    trigger: Mapped[str] = mapped_column(String(40), default="manual")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    alerts_detected: Mapped[int] = mapped_column(default=0)
    actions_prepared: Mapped[int] = mapped_column(default=0)
    detection_duration_ms: Mapped[int] = mapped_column(default=0)
    preparation_duration_ms: Mapped[int] = mapped_column(default=0)
    total_duration_ms: Mapped[int] = mapped_column(default=0)
    error_count: Mapped[int] = mapped_column(default=0)
    result: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class PipelineMode(str, enum.Enum):
    FULL = "full"
    CRITICAL = "critical"
    TARGETED = "targeted"


@dataclass(frozen=True)
class PipelineConfig:
    mode: PipelineMode = PipelineMode.FULL
    detection_types: tuple[DetectionType, ...] = ()
    skip_preparation: bool = False

    def types(self) -> tuple[DetectionType, ...]:
        if self.mode == PipelineMode.CRITICAL:
            return CRITICAL_DETECTIONS
        if self.mode == PipelineMode.TARGETED:
            if not self.detection_types:
                raise ValueError("a targeted run needs at least one detection type")
            return tuple(self.detection_types)
        return tuple(DetectionType)

    @property
    def restates(self) -> bool:
        """Whether preparation restates pending actions whose basis no longer holds (all but CRITICAL)."""
        return self.mode != PipelineMode.CRITICAL


@dataclass
class PipelineResult:
    user_id: str
    run_at: datetime
    mode: PipelineMode
    alerts_detected: int = 0
    alerts_by_severity: dict[str, int] = field(default_factory=dict)
    alerts_by_type: dict[str, int] = field(default_factory=dict)
    actions_prepared: int = 0
    actions_by_type: dict[str, int] = field(default_factory=dict)
    linked_action_groups: int = 0
    detection_duration_ms: int = 0
    preparation_duration_ms: int = 0
    total_duration_ms: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["run_at"] = self.run_at.isoformat()
        data["mode"] = self.mode.value
        return data


def _ms(start: float) -> int:
    return int(round((time.perf_counter() - start) * 1000))


async def run_detection_preparation_cycle(
    db: AsyncSession,
    user_id: str,
    config: PipelineConfig | None = None,
    *,
    now: datetime,
    settings: Settings,
    today: date | None = None,
    trigger: str = "manual",
) -> PipelineResult:
    """``now`` and ``settings`` come from the edge that runs it (a listener, a job, a command); ``today``
    defaults to ``now``'s date in the account's time zone."""
    config = config or PipelineConfig()
    account = await db.get(Account, user_id)
    if account is None:
        raise NotFound(f"There is no account `{user_id}`.")
    today = today or now.astimezone(ZoneInfo(account.timezone)).date()
    result = PipelineResult(user_id=user_id, run_at=now, mode=config.mode)
    started = time.perf_counter()
    with collector_paused():  # a run makes and drops tens of thousands of objects: ``tamio.process``
        engine = DetectionEngine(db, user_id, today=today, now=now, settings=settings)
        run = await engine.run(config.types())
        result.detection_duration_ms = _ms(started)
        await _after_detection(db, account, run, config, result, today=today, now=now, settings=settings, trigger=trigger)
        result.total_duration_ms = _ms(started)
        db.add(_run_row(result, config, trigger))
        await db.flush()
    return result


async def refresh_figures(
    db: AsyncSession, account_id: str, *, now: datetime, settings: Settings, trigger: str = "refresh",
) -> PipelineResult | None:
    """Answer the account's refresh request, if it still has one: one TARGETED run, then the request
    is dropped unless another came in meanwhile. One run per account at a time (``refresh.take_turn``):
    a replica finding another one on it leaves the account to that one, so two replicas never restate
    the same cards at once."""
    if not await refresh.take_turn(db, account_id=account_id):
        return None  # another replica is refreshing it (its request, or a newer one, stays for the next drain)
    request = await refresh.current(db, account_id=account_id)
    if request is None:
        return None
    types = {t for scope, kinds in SCOPE_TYPES.items() if request.scopes & scope for t in kinds}
    carded = await db.execute(
        select(DetectionAlert.detection_type).join(PreparedAction, PreparedAction.alert_id == DetectionAlert.id)
        .where(PreparedAction.user_id == account_id, PreparedAction.status == ActionStatus.PENDING).distinct()
    )
    types |= set(carded.scalars())
    ordered = tuple(t for t in DetectionType if t in types)
    account = await db.get(Account, account_id)
    if account is None:
        raise NotFound(f"There is no account `{account_id}`.")
    # As a batch of one: detection and preparation share the forecast's inputs (loaded once, not twice:
    # a tenth of a large account's refresh); what it leaves is what its own cycle would.
    results = await run_cycles(db, [account], PipelineConfig(mode=PipelineMode.TARGETED, detection_types=ordered),
                               today={account_id: now.astimezone(ZoneInfo(account.timezone)).date()}, now=now, settings=settings,
                               trigger=trigger)
    result = results[account_id]
    # The alerts' figures may have moved in place (nothing new to announce): App Home follows them.
    await enqueue_many(db, account_id=account_id, now=now, messages=[Outgoing("home_refresh", {}, new_id("home_refresh:refresh"))])
    await refresh.done(db, account_id=account_id, generation=request.generation)
    return result


async def run_critical_cycles(
    db: AsyncSession,
    accounts: Sequence[Account],
    *,
    today: Mapping[str, date],
    now: datetime,
    settings: Settings,
    trigger: str = "manual",
) -> dict[str, PipelineResult]:
    """``run_detection_preparation_cycle`` in CRITICAL mode for many accounts in one transaction."""
    return await run_cycles(db, accounts, PipelineConfig(mode=PipelineMode.CRITICAL), today=today, now=now, settings=settings,
                            trigger=trigger)


async def run_cycles(
    db: AsyncSession,
    accounts: Sequence[Account],
    config: PipelineConfig,
    *,
    today: Mapping[str, date],
    now: datetime,
    settings: Settings,
    trigger: str = "manual",
) -> dict[str, PipelineResult]:
    """``run_detection_preparation_cycle`` for many accounts in one transaction (the 5-minute critical
    pass, the hourly full one).

    Each account ends with what its own cycle would leave (alerts, superseded actions, outbox rows,
    prepared actions, its PipelineRun), but the detection loads for the whole batch at once
    (``run_many``), and preparation is entered only by accounts with an open alert that has no open
    action yet (for the others it would find nothing to do), with their preparation contexts loaded
    together. Whatever fails raises: the caller rolls the batch back and runs its accounts one by one.
    """
    started = time.perf_counter()
    days = {a.id: today[a.id] for a in accounts}
    # The forecasts' inputs once for detection and preparation (nothing between them moves money).
    inputs = await load_forecast_inputs_many(db, days, weeks=FORECAST_WEEKS, settings=settings)
    runs = await run_many(db, days, config.types(), now=now, settings=settings, inputs=inputs)
    detection_ms = _ms(started) // max(1, len(accounts))
    open_ids = [a.id for run in runs.values() for a in run.alerts if a.status in OPEN_ALERT_STATUSES]
    # The open actions of every open alert, read once for the batch: preparation takes each account's share.
    covered = await open_actions_of(db, open_ids)
    # Contexts for the accounts with an open alert to prepare; a restating run also checks the cards of
    # the others with an open alert (they may rest on old figures) on their bases, worked out without
    # a context (an account whose cards turn out stale builds its own).
    preparing = [
        a.id for a in accounts if any(alert.status in OPEN_ALERT_STATUSES and alert.id not in covered for alert in runs[a.id].alerts)
    ]
    contexts = await load_contexts(db, {i: today[i] for i in preparing}, settings=settings, inputs=inputs,
                                   snapshots={i: s for i in preparing if (s := runs[i].snapshot) is not None})
    checking = [
        a.id for a in accounts
        if config.restates and a.id not in contexts and any(alert.status in OPEN_ALERT_STATUSES for alert in runs[a.id].alerts)
    ]
    bases = await load_bases(db, {i: s for i in checking if (s := runs[i].snapshot) is not None and s.loaded is not None
                                  and s.today == today[i]})
    automated = await _automated(db, [a.id for a in accounts])
    results: dict[str, PipelineResult] = {}
    rows: list[PipelineRun] = []
    outbox: list[tuple[str | None, Outgoing]] = []
    for account in accounts:
        account_started = time.perf_counter()
        result = PipelineResult(user_id=account.id, run_at=now, mode=config.mode, detection_duration_ms=detection_ms)
        await _after_detection(db, account, runs[account.id], config, result, today=today[account.id], now=now,
                               settings=settings, covered=covered, context=contexts.get(account.id), basis=bases.get(account.id),
                               outbox=outbox, trigger=trigger, automated=account.id in automated)
        result.total_duration_ms = detection_ms + _ms(account_started)
        rows.append(_run_row(result, config, trigger))
        results[account.id] = result
    await enqueue_for_accounts(db, outbox, now=now)
    db.add_all(rows)
    await db.flush()
    return results


async def _after_detection(
    db: AsyncSession, account: Account, run: DetectionRun, config: PipelineConfig, result: PipelineResult, *,
    today: date, now: datetime, settings: Settings, covered: Mapping[str, list[OpenAction]] | None = None,
    context: PreparationContext | None = None, outbox: list[tuple[str | None, Outgoing]] | None = None, trigger: str = "manual",
    automated: bool | None = None, basis: str | None = None,
) -> None:
    """What follows detection for one account: the result's counts, superseding the actions of
    resolved alerts, announcements, then preparation: skipped when every open alert is in
    ``covered`` (the open actions of the batch's open alerts, by alert; preparation reads
    its own from it), nothing resolved and no restating, for then
    ``prepare_actions`` would do nothing; ``context``, when given, is the account's preparation context loaded ahead
    (``basis``: the basis of its cards, worked out ahead without one);
    ``outbox``, when given, collects the messages for the caller to write (execution never reads them);
    ``automated``, when given, is whether the account has an automatic rule on (the batch looks once for all)."""
    alerts: list[DetectionAlert] = list(run.alerts)
    result.alerts_detected = len(alerts)
    result.alerts_by_severity = dict(Counter(a.severity.value for a in alerts))
    result.alerts_by_type = dict(Counter(a.detection_type.value for a in alerts))
    result.errors += [{"stage": "detection", "type": str(getattr(e, "detection_type", "")), "error": str(getattr(e, "error", e))} for e in run.errors]
    await closing.supersede_resolved(db, account=account, now=now, resolved=list(getattr(run, "resolved", [])))
    announcements = announcements_of(account, run)
    new_alerts = list(getattr(run, "new", []))
    if config.skip_preparation:
        await enqueue_messages(db, account, headed(account, trigger, [], new_alerts, now) + announcements, now=now, outbox=outbox)
        return
    prep_started = time.perf_counter()
    open_alerts = [a for a in alerts if a.status in OPEN_ALERT_STATUSES]
    if covered is not None and not config.restates and not run.resolved and all(a.id in covered for a in open_alerts):
        await enqueue_messages(db, account, headed(account, trigger, [], new_alerts, now) + announcements, now=now, outbox=outbox)
        return
    mine = None if covered is None else {a.id: covered[a.id] for a in open_alerts if a.id in covered}
    # The context is built from the run's snapshot only when something is to be prepared or restated.
    prepared = await prepare_actions(db, account=account, alerts=open_alerts, today=today, now=now, settings=settings,
                                     context=context, restate=config.restates, snapshot=run.snapshot, basis=basis,
                                     open_actions=mine)
    await closing.supersede_replaced(db, account=account, now=now, replaced=prepared.replaced)
    await announce(db, account=account, run=prepared, now=now)
    result.actions_prepared = len(prepared.actions)
    result.actions_by_type = dict(Counter(a.action_type.value for a in prepared.actions))
    result.linked_action_groups = prepared.linked_action_groups
    result.errors += [{"stage": "preparation", "type": e.detection_type, "error": e.error} for e in prepared.errors]
    cards = [Outgoing("action_card", {"action_id": a.id}, f"card:{a.id}", account.digest_channel_id) for a in prepared.actions]
    changed = [*prepared.actions, *prepared.refreshed, *(old for old, _ in prepared.replaced)]
    if changed:  # App Home's queue shows them
        cards.append(Outgoing("home_refresh", {}, f"home_refresh:cards:{changed[0].id}:v{changed[0].version}"))
    heading = headed(account, trigger, prepared.actions, new_alerts, now)
    await enqueue_messages(db, account, heading + announcements + cards, now=now, outbox=outbox)
    await _auto_execute(db, account=account, actions=prepared.actions, now=now, settings=settings, automated=automated)
    result.preparation_duration_ms = _ms(prep_started)


def _run_row(result: PipelineResult, config: PipelineConfig, trigger: str) -> PipelineRun:
    return PipelineRun(
        user_id=result.user_id, mode=config.mode.value, trigger=trigger, started_at=result.run_at,
        alerts_detected=result.alerts_detected, actions_prepared=result.actions_prepared,
        detection_duration_ms=result.detection_duration_ms, preparation_duration_ms=result.preparation_duration_ms,
        total_duration_ms=result.total_duration_ms, error_count=len(result.errors), result=result.to_json(),
    )


async def _automated(db: AsyncSession, account_ids: Sequence[str]) -> set[str]:
    """Which of the accounts have an automatic rule on (a batch asks once, not once per account)."""
    if not account_ids:
        return set()
    rows = await db.execute(
        select(ExecutionAutomationRule.user_id).where(ExecutionAutomationRule.user_id.in_(list(account_ids)),
                                                      ExecutionAutomationRule.auto_execute.is_(True)).distinct()
    )
    return set(rows.scalars())


async def _auto_execute(db: AsyncSession, *, account: Account, actions: list[PreparedAction], now: datetime, settings: Settings,
                        automated: bool | None = None) -> None:
    maybe = getattr(automation, "maybe_auto_execute", None)
    if maybe is None or not actions:
        return
    if automated is None:
        automated = bool(await _automated(db, [account.id]))
    if not automated:  # nothing is automatic for this account: no rule to check per action
        return
    for action in actions:
        await maybe(db, account=account, action=action, now=now, settings=settings)

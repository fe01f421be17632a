"""The detection engine: load the account once, run the rules asked for, persist what they find.

``evaluate`` is the pure core: it runs rules from ``rules.ALL_RULES`` over a snapshot, each with the
effective configuration (safety mode applied, then that type's ``DetectionRule`` override), and
turns a rule that raises into a ``RuleError`` while the others still run. A type the account has
switched off is not run, and its open alerts are resolved (the account no longer wants them). An
underpayment on an invoice late_payment reports is left to that alert (one card for one debt).
``DetectionEngine`` wraps it for one account: configuration and rule settings (2 queries), the
snapshot (a fixed number), then ``service.persist_findings``. It never commits and posts nothing:
whoever announces alerts reads ``new``, ``escalated`` and ``resolved`` of the run.

    engine = DetectionEngine(session, account.id, today=date(2026, 12, 7), now=now, settings=settings)
    run = await engine.run_all_detections()          # the twelve types
    run = await engine.run_critical_detections()     # buffer_breach, payroll_safety, statutory_deadline
    for alert in run:                                # EMERGENCY first
        print(f"{alert.severity.value}: {alert.detection_type.value} - {alert.entity_name}")

``run_many`` is a run for many accounts at once (the 5-minute critical job, the hourly full one):
the same rules, with configurations, rule settings, snapshots and alerts loaded for the whole batch
in a fixed number of queries; ``run_critical_many`` is its critical case, over light snapshots
(``load_critical_snapshots``).

    runs = await run_critical_many(session, {account.id: today}, now=now, settings=settings)
    runs = await run_many(session, {account.id: today}, tuple(DetectionType), now=now, settings=settings)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import UserConfiguration
from tamio.accounts.service import get_user_configuration
from tamio.config import Settings
from tamio.detection.configuration import EffectiveConfig, effective_config, with_override
from tamio.detection.findings import Finding
from tamio.detection.models import (
    CRITICAL_DETECTIONS,
    SEVERITY_RANK,
    DetectionAlert,
    DetectionRule,
    DetectionType,
)
from tamio.detection.rules import ALL_RULES
from tamio.detection.rules_counterparty import days_reported_late
from tamio.detection.service import persist_findings, persist_findings_many
from tamio.detection.snapshot import AccountSnapshot, load_critical_snapshots, load_snapshot, load_snapshots
from tamio.forecast.service import ForecastInputs

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RuleError:
    detection_type: str  # the type's value, e.g. "late_payment"
    error: str


@dataclass(frozen=True)
class RuleSetting:
    """An account's DetectionRule row for one type: switched off, or its threshold replaced."""

    enabled: bool = True
    threshold: Decimal | None = None


@dataclass(frozen=True)
class Evaluation:
    findings: tuple[Finding, ...]
    errors: tuple[RuleError, ...]
    ran: tuple[DetectionType, ...]  # types whose rule completed
    switched_off: tuple[DetectionType, ...] = ()  # types asked for that the account's DetectionRule disables

    @property
    def settled(self) -> tuple[DetectionType, ...]:
        """The types whose open alerts this run settles: those that ran, and those switched off (none left)."""
        return self.ran + self.switched_off


def finding_order(finding: Finding) -> tuple[int, date, str]:
    return SEVERITY_RANK[finding.severity], finding.due_date or date.max, finding.title


def evaluate(
    snapshot: AccountSnapshot,
    types: Iterable[DetectionType],
    *,
    today: date,
    config: EffectiveConfig,
    settings: Mapping[DetectionType, RuleSetting] | None = None,
) -> Evaluation:
    """Run the rules of ``types`` (minus those switched off) over ``snapshot``; pure."""
    wanted = set(types)
    settings = settings or {}
    findings: list[Finding] = []
    errors: list[RuleError] = []
    ran: list[DetectionType] = []
    switched_off: list[DetectionType] = []
    for detection_type, rule in ALL_RULES:
        setting = settings.get(detection_type, RuleSetting())
        if detection_type not in wanted:
            continue
        if not setting.enabled:
            switched_off.append(detection_type)
            continue
        try:
            found = rule(snapshot, today=today, config=with_override(config, detection_type, setting.threshold))
        except Exception as exc:  # one rule failing must not stop the others
            log.exception("detection rule %s failed for account %s", detection_type.value, snapshot.account_id)
            errors.append(RuleError(detection_type.value, f"{type(exc).__name__}: {exc}"))
            continue
        findings.extend(found)
        ran.append(detection_type)
    findings = _one_card_per_debt(findings, snapshot, today=today, config=config, late=settings.get(DetectionType.LATE_PAYMENT, RuleSetting()))
    findings.sort(key=finding_order)
    return Evaluation(findings=tuple(findings), errors=tuple(errors), ran=tuple(ran), switched_off=tuple(switched_off))


def _one_card_per_debt(
    findings: list[Finding], snapshot: AccountSnapshot, *, today: date, config: EffectiveConfig, late: RuleSetting
) -> list[Finding]:
    """An underpayment on an invoice that late_payment reports, as the account has it set (on, with its
    threshold), is that alert's: whether or not this run asked for late_payment, its alert stands."""

    def underpaid(f: Finding) -> bool:
        return f.detection_type == DetectionType.UNEXPECTED_REVENUE and f.context.get("variance_kind") == "under"

    if not late.enabled or not any(underpaid(f) for f in findings):
        return findings
    try:
        threshold = with_override(config, DetectionType.LATE_PAYMENT, late.threshold).late_payment_threshold_days
    except ArithmeticError:  # an override that is not a number: late_payment's own run reports it
        return findings
    receivables = {s.id: s for s in snapshot.receivables}

    def reported(f: Finding) -> bool:
        s = receivables.get(str(f.context.get("schedule_id") or ""))
        return s is not None and days_reported_late(s, snapshot, today=today, threshold=threshold) is not None

    return [f for f in findings if not (underpaid(f) and reported(f))]


@dataclass
class DetectionRun:
    alerts: list[DetectionAlert]  # the open alerts of this run's findings, EMERGENCY first
    findings: tuple[Finding, ...]
    errors: list[RuleError]
    new: list[DetectionAlert] = field(default_factory=list)
    escalated: list[DetectionAlert] = field(default_factory=list)
    resolved: list[DetectionAlert] = field(default_factory=list)
    ran: tuple[DetectionType, ...] = ()
    duration_ms: int = 0
    snapshot: AccountSnapshot | None = field(default=None, repr=False)  # what the rules read (preparation builds on it)

    def __iter__(self) -> Iterator[DetectionAlert]:
        return iter(self.alerts)

    def __len__(self) -> int:
        return len(self.alerts)


async def load_rule_settings(session: AsyncSession, *, account_id: str) -> dict[DetectionType, RuleSetting]:
    rows = await session.execute(
        select(DetectionRule.detection_type, DetectionRule.enabled, DetectionRule.threshold_override).where(
            DetectionRule.user_id == account_id
        )
    )
    return {DetectionType(t): RuleSetting(enabled=bool(on), threshold=threshold) for t, on, threshold in rows}


class DetectionEngine:
    def __init__(
        self, session: AsyncSession, account_id: str, *, today: date, now: datetime, settings: Settings
    ) -> None:
        self.session = session
        self.account_id = account_id
        self.today = today
        self.now = now
        self.settings = settings

    async def run_all_detections(self) -> DetectionRun:
        return await self.run(tuple(DetectionType))

    async def run_critical_detections(self) -> DetectionRun:
        return await self.run(CRITICAL_DETECTIONS)

    async def evaluate(self, types: Iterable[DetectionType]) -> Evaluation:
        """What the rules of ``types`` find now, without touching the alerts (a check of their figures)."""
        return (await self._evaluate(types))[1]

    async def _evaluate(self, types: Iterable[DetectionType]) -> tuple[AccountSnapshot, Evaluation]:
        wanted = tuple(DetectionType(t) for t in types)
        config = effective_config(await get_user_configuration(self.session, account_id=self.account_id))
        rule_settings = await load_rule_settings(self.session, account_id=self.account_id)
        snapshot = await load_snapshot(self.session, self.account_id, today=self.today, settings=self.settings)
        return snapshot, evaluate(snapshot, wanted, today=self.today, config=config, settings=rule_settings)

    async def run(self, types: Iterable[DetectionType]) -> DetectionRun:
        started = time.perf_counter()
        snapshot, evaluation = await self._evaluate(types)
        persisted = await persist_findings(
            self.session, account_id=self.account_id, findings=evaluation.findings, ran=evaluation.settled, now=self.now
        )
        return DetectionRun(
            alerts=persisted.alerts,
            findings=evaluation.findings,
            errors=list(evaluation.errors),
            new=persisted.new,
            escalated=persisted.escalated,
            resolved=persisted.resolved,
            ran=evaluation.ran,
            duration_ms=int(round((time.perf_counter() - started) * 1000)),
            snapshot=snapshot,
        )


async def run_critical_many(
    session: AsyncSession, today: Mapping[str, date], *, now: datetime, settings: Settings
) -> dict[str, DetectionRun]:
    """``DetectionEngine(...).run_critical_detections()`` for each account of ``today`` (id -> its day).

    What each account gets is what that call gives it (the same rules, configuration, overrides and
    alerts); the loading is shared. See ``service.persist_findings_many`` for a conflicting insert.
    """
    return await run_many(session, today, CRITICAL_DETECTIONS, now=now, settings=settings)


async def run_many(
    session: AsyncSession, today: Mapping[str, date], types: Iterable[DetectionType], *, now: datetime,
    settings: Settings, inputs: Mapping[str, ForecastInputs] | None = None,
) -> dict[str, DetectionRun]:
    """``DetectionEngine(...).run(types)`` for each account of ``today`` (id -> its day), the loading
    shared: the critical types over light snapshots (``load_critical_snapshots``), any other over full
    ones (``load_snapshots``), each in a fixed number of queries for the whole batch. ``inputs``: the
    forecasts' inputs for those days, when the caller has loaded them (``calculate_forecasts``)."""
    started = time.perf_counter()
    wanted_types = tuple(DetectionType(t) for t in types)
    light = set(wanted_types) <= set(CRITICAL_DETECTIONS)
    ids = sorted(today)
    if not ids:
        return {}
    rows = await session.execute(select(UserConfiguration).where(UserConfiguration.user_id.in_(ids)))
    configurations = {c.user_id: c for c in rows.scalars()}
    for account_id in ids:
        if account_id not in configurations:  # created with the defaults, as a single run does
            configurations[account_id] = await get_user_configuration(session, account_id=account_id)
    rule_settings: dict[str, dict[DetectionType, RuleSetting]] = {}
    for account_id, kind, on, threshold in await session.execute(
        select(DetectionRule.user_id, DetectionRule.detection_type, DetectionRule.enabled, DetectionRule.threshold_override)
        .where(DetectionRule.user_id.in_(ids))
    ):
        rule_settings.setdefault(account_id, {})[DetectionType(kind)] = RuleSetting(enabled=bool(on), threshold=threshold)
    configs = {i: effective_config(configurations[i]) for i in ids}
    if light:
        wanted = {i: (today[i], today[i] + timedelta(days=_days_read(configs[i], rule_settings.get(i, {})))) for i in ids}
        snapshots = await load_critical_snapshots(session, wanted, settings=settings, inputs=inputs)
    else:
        snapshots = await load_snapshots(session, today, settings=settings, inputs=inputs)
    evaluations = {
        i: evaluate(snapshots[i], wanted_types, today=today[i], config=configs[i], settings=rule_settings.get(i))
        for i in ids
    }
    persisted = await persist_findings_many(session, {i: (e.findings, e.settled) for i, e in evaluations.items()}, now=now)
    duration_ms = int(round((time.perf_counter() - started) * 1000 / len(ids)))
    return {
        i: DetectionRun(
            alerts=persisted[i].alerts, findings=evaluations[i].findings, errors=list(evaluations[i].errors),
            new=persisted[i].new, escalated=persisted[i].escalated, resolved=persisted[i].resolved,
            ran=evaluations[i].ran, duration_ms=duration_ms, snapshot=snapshots[i],
        )
        for i in ids
    }


def _days_read(config: EffectiveConfig, settings: Mapping[DetectionType, RuleSetting]) -> int:
    """How many days past today the critical rules look at payables (payroll and statutory notice)."""
    def overridden(kind: DetectionType) -> EffectiveConfig:
        return with_override(config, kind, settings.get(kind, RuleSetting()).threshold)

    return max(
        overridden(DetectionType.PAYROLL_SAFETY).payroll_check_days_before,
        overridden(DetectionType.STATUTORY_DEADLINE).statutory_notice_days,
        0,
    )

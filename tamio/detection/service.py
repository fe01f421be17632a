"""Findings become alerts: upserted by fingerprint, resolved when they stop, escalated when they rise.

At most one open (active or acknowledged) alert exists per fingerprint (a partial unique index
enforces it). For the detection types that ran to completion in a run:

- a finding with an open alert updates it (last_detected_at, severity, amount, title, explanation,
  due date, context); a rise in severity escalates it (``escalation``);
- a finding without one inserts a new alert, unless a dismissed alert with that fingerprint is
  still remembered (detected within ``DISMISSAL_MEMORY``) and the finding is no more urgent;
- an open alert with no finding is resolved at ``now``.

Types that were not run, or whose rule raised, keep their alerts as they are. The engine passes a
type the account has switched off as run with nothing found, so its open alerts resolve. Two runs
racing on one account (two replicas) cannot duplicate an alert: inserts go through a savepoint,
and a unique-index conflict turns the insert into an update of the row the other run committed.
Never commits; the caller owns the transaction.

    persisted = await persist_findings(session, account_id=account.id, findings=findings,
                                       ran=(DetectionType.LATE_PAYMENT,), now=now)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.bulk import insert_objects, slices
from tamio.db import core_table, new_id
from tamio.detection.escalation import change_severity, reopens_dismissed
from tamio.detection.findings import Finding, to_minor_units
from tamio.detection.models import SEVERITY_RANK, AlertStatus, DetectionAlert, DetectionType
from tamio.statements import account_params, account_scope

OPEN = (AlertStatus.ACTIVE, AlertStatus.ACKNOWLEDGED)
DISMISSAL_MEMORY = timedelta(days=120)
INSERT_ATTEMPTS = 3


@dataclass
class PersistedAlerts:
    alerts: list[DetectionAlert] = field(default_factory=list)  # open alerts of this run's findings
    new: list[DetectionAlert] = field(default_factory=list)
    escalated: list[DetectionAlert] = field(default_factory=list)
    resolved: list[DetectionAlert] = field(default_factory=list)


def alert_order(alert: DetectionAlert) -> tuple[int, date, str]:
    """EMERGENCY first, then the nearest due date, then the title."""
    return SEVERITY_RANK[alert.severity], alert.due_date or date.max, alert.title


def most_urgent_per_fingerprint(findings: Iterable[Finding]) -> dict[str, Finding]:
    chosen: dict[str, Finding] = {}
    for finding in findings:
        seen = chosen.get(finding.fingerprint)
        if seen is None or SEVERITY_RANK[finding.severity] < SEVERITY_RANK[seen.severity]:
            chosen[finding.fingerprint] = finding
    return chosen


def _amount(finding: Finding) -> Decimal | None:
    if finding.amount is None:
        return None
    return to_minor_units(finding.amount, finding.currency) if finding.currency else finding.amount


def _fields(finding: Finding) -> dict[str, Any]:
    """What a finding says of its alert, as the alert's columns (written new, refreshed, or compared)."""
    return {
        "entity_type": finding.entity_type, "entity_id": finding.entity_id, "entity_name": finding.entity_name[:300],
        "title": finding.title[:300], "explanation": finding.explanation, "amount": _amount(finding), "currency": finding.currency,
        "due_date": finding.due_date, "context": dict(finding.context),
    }


def _apply(alert: DetectionAlert, finding: Finding, now: datetime) -> bool:
    """Refresh an open alert from a rerun's finding; True when its severity rose."""
    rose = change_severity(alert, finding.severity)
    for name, value in _fields(finding).items():
        setattr(alert, name, value)
    alert.last_detected_at = now
    alert.updated_at = now
    return rose


def _new_alert(account_id: str, finding: Finding, now: datetime) -> dict[str, Any]:
    """A new alert's row (every column, so one statement inserts them all)."""
    return {
        "id": new_id("alr"), "user_id": account_id, "detection_type": finding.detection_type, "severity": finding.severity,
        "status": AlertStatus.ACTIVE, "fingerprint": finding.fingerprint, **_fields(finding), "escalated": False,
        "escalation_count": 0, "previous_severity": None, "first_detected_at": now, "last_detected_at": now, "resolved_at": None,
        "announced_at": None, "announced_severity": None, "created_at": now, "updated_at": now,
    }


async def _open_alerts(session: AsyncSession, account_id: str, fingerprints: Sequence[str]) -> dict[str, DetectionAlert]:
    rows = await session.execute(
        select(DetectionAlert).where(
            DetectionAlert.user_id == account_id, DetectionAlert.status.in_(OPEN), DetectionAlert.fingerprint.in_(list(fingerprints))
        )
    )
    return {a.fingerprint: a for a in rows.scalars()}


@cache
def _alerts_select(single: bool) -> Any:
    """Open alerts of ``:types``, and dismissed ones seen since ``:remembered``: the latest first per
    fingerprint. Built once per shape (``tamio.statements``)."""
    return (
        select(DetectionAlert)
        .where(
            account_scope(DetectionAlert.user_id, single),
            DetectionAlert.detection_type.in_(bindparam("types", expanding=True)),
            or_(
                DetectionAlert.status.in_(OPEN),
                and_(DetectionAlert.status == AlertStatus.DISMISSED, DetectionAlert.last_detected_at >= bindparam("remembered")),
            ),
        )
        .order_by(DetectionAlert.last_detected_at.desc(), DetectionAlert.id)
    )


async def _known_alerts(session: AsyncSession, account_ids: Sequence[str], types: Sequence[DetectionType], now: datetime) -> Any:
    """The alerts of ``account_ids`` that a run of ``types`` reconciles (``_alerts_select``), as ORM objects."""
    return (await session.execute(_alerts_select(len(account_ids) == 1), {
        **account_params(account_ids), "types": list(types), "remembered": now - DISMISSAL_MEMORY,
    })).scalars()


def _unchanged(alert: DetectionAlert, finding: Finding) -> bool:
    """Whether refreshing ``alert`` from ``finding`` (``_apply``) would change nothing but when it was last seen."""
    known = alert.__dict__  # every column is loaded: read as stored, without the attribute machinery (565 alerts a run)
    return known["severity"] == finding.severity and all(known[name] == value for name, value in _fields(finding).items())


@dataclass
class _Plan:
    """What a run's findings do to the known alerts: the ORM objects changed in place (to flush), the
    alerts found again as they were (``seen``: open ones, and dismissed ones whose dismissal holds),
    and the findings left to insert."""

    result: PersistedAlerts
    to_insert: list[Finding]
    seen: list[DetectionAlert] = field(default_factory=list)


def _reconcile(
    known: Iterable[DetectionAlert], findings: Iterable[Finding], ran_types: tuple[DetectionType, ...], now: datetime
) -> _Plan:
    """Apply findings to the known alerts (in ``_alerts_select`` order); what is left to insert."""
    plan = _Plan(PersistedAlerts(), [])
    result = plan.result
    wanted = {fp: f for fp, f in most_urgent_per_fingerprint(findings).items() if f.detection_type in ran_types}
    open_by_fp: dict[str, DetectionAlert] = {}
    dismissed_by_fp: dict[str, DetectionAlert] = {}
    for row in known:
        if row.detection_type not in ran_types:
            continue
        target = open_by_fp if row.status in OPEN else dismissed_by_fp
        target.setdefault(row.fingerprint, row)

    for fingerprint, finding in wanted.items():
        alert = open_by_fp.get(fingerprint)
        if alert is not None:
            if _unchanged(alert, finding):
                plan.seen.append(alert)
            elif _apply(alert, finding, now):
                result.escalated.append(alert)
            result.alerts.append(alert)
            continue
        dismissed = dismissed_by_fp.get(fingerprint)
        if dismissed is not None and not reopens_dismissed(dismissed, finding.severity):
            plan.seen.append(dismissed)  # the dismissal holds while the problem lasts
            continue
        plan.to_insert.append(finding)
    for fingerprint, alert in open_by_fp.items():
        if fingerprint not in wanted:
            alert.status = AlertStatus.RESOLVED
            alert.resolved_at = now
            alert.updated_at = now
            result.resolved.append(alert)
    return plan


async def _write_seen(session: AsyncSession, seen: Sequence[DetectionAlert], now: datetime) -> None:
    """The alerts found again as they were: their times moved by one UPDATE per ``IN_LIST`` rows, not one
    per row, and their objects told so without being marked changed (nothing left to flush)."""
    table = core_table(DetectionAlert)
    for ids in slices([a.id for a in seen]):
        await session.execute(update(table).where(table.c.id.in_(ids)).values(last_detected_at=now, updated_at=now))
    for alert in seen:  # unchanged objects: their loaded values replaced as ``set_committed_value`` would, a tenth of the cost
        known = alert.__dict__
        known["last_detected_at"] = known["updated_at"] = now


async def persist_findings(
    session: AsyncSession, *, account_id: str, findings: Iterable[Finding], ran: Iterable[DetectionType], now: datetime
) -> PersistedAlerts:
    ran_types = tuple(dict.fromkeys(ran))
    if not ran_types:
        return PersistedAlerts()
    plan = _reconcile(await _known_alerts(session, [account_id], ran_types, now), findings, ran_types, now)
    await session.flush()
    await _write_seen(session, plan.seen, now)
    await _insert(session, account_id, plan.to_insert, now, plan.result)
    plan.result.alerts.sort(key=alert_order)
    return plan.result


async def persist_findings_many(
    session: AsyncSession, found: Mapping[str, tuple[Iterable[Finding], Iterable[DetectionType]]], *, now: datetime
) -> dict[str, PersistedAlerts]:
    """``persist_findings`` for many accounts (id -> its findings and the types that ran): one query
    and one flush for all. New alerts go in without a savepoint: if another run committed one of
    them first, the unique index raises ``IntegrityError`` and the whole transaction is spoiled, so
    the caller rolls back and persists those accounts one by one (``persist_findings`` handles it).
    """
    ran_by_account = {a: tuple(dict.fromkeys(ran)) for a, (_, ran) in found.items()}
    types = sorted({t for ran in ran_by_account.values() for t in ran}, key=lambda t: t.value)
    ids = sorted(a for a, ran in ran_by_account.items() if ran)
    known: dict[str, list[DetectionAlert]] = {}
    if ids:
        for row in await _known_alerts(session, ids, types, now):
            known.setdefault(row.user_id, []).append(row)
    plans: dict[str, _Plan] = {}
    for account_id, (findings, _) in found.items():
        ran_types = ran_by_account[account_id]
        plans[account_id] = _reconcile(known.get(account_id, ()), findings, ran_types, now) if ran_types else _Plan(PersistedAlerts(), [])
    await session.flush()  # updates (resolutions among them) go before inserts: the open-fingerprint index holds
    await _write_seen(session, [a for p in plans.values() for a in p.seen], now)
    inserted = iter(await insert_objects(session, DetectionAlert, [_new_alert(i, f, now) for i, p in plans.items() for f in p.to_insert]))
    for plan in plans.values():
        rows = [next(inserted) for _ in plan.to_insert]
        plan.result.new.extend(rows)
        plan.result.alerts.extend(rows)
        plan.result.alerts.sort(key=alert_order)
    return {account_id: plan.result for account_id, plan in plans.items()}


async def _insert(session: AsyncSession, account_id: str, findings: list[Finding], now: datetime, result: PersistedAlerts) -> None:
    """Insert new alerts; if another run committed one of them first, update that one instead."""
    pending = findings
    for attempt in range(INSERT_ATTEMPTS):
        if not pending:
            return
        if attempt:
            raced = await _open_alerts(session, account_id, [f.fingerprint for f in pending])
            for finding in pending:
                alert = raced.get(finding.fingerprint)
                if alert is not None:
                    if _apply(alert, finding, now):
                        result.escalated.append(alert)
                    result.alerts.append(alert)
            await session.flush()
            pending = [f for f in pending if f.fingerprint not in raced]
            if not pending:
                return
        try:
            async with session.begin_nested():
                rows = await insert_objects(session, DetectionAlert, [_new_alert(account_id, f, now) for f in pending])
        except IntegrityError:
            if attempt == INSERT_ATTEMPTS - 1:
                raise
            continue
        result.new.extend(rows)
        result.alerts.extend(rows)
        return

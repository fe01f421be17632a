"""The detection -> preparation pipeline (design: "V4 Detection -> Preparation Pipeline").

Modes: FULL runs all twelve detection types, CRITICAL only buffer_breach, payroll_safety and
statutory_deadline, TARGETED the types named. Preparation follows unless ``skip_preparation``.
Reruns never duplicate a pending action for an alert that already has one; when an alert
resolves, its pending action is superseded. A failing rule or agent is an entry in ``errors``;
the rest of the run completes. The caller commits (jobs and the CLI do, once per account).

    result = await run_detection_preparation_cycle(db, user_id)
    result = await run_detection_preparation_cycle(db, user_id, PipelineConfig(mode=PipelineMode.CRITICAL))
    result = await run_detection_preparation_cycle(db, user_id, PipelineConfig(skip_preparation=True))
"""

from __future__ import annotations

import enum
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account
from tamio.config import Settings
from tamio.db import utcnow
from tamio.detection.engine import DetectionEngine
from tamio.detection.models import CRITICAL_DETECTIONS, AlertStatus, DetectionAlert, DetectionType
from tamio.errors import NotFound
from tamio.execution.models import ExecutionAutomationRule
from tamio.outbox.service import Outgoing, enqueue_many
from tamio.preparation.engine import prepare_actions
from tamio.preparation.models import ActionStatus, PreparedAction
from tamio.scheduler.models import PipelineRun


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
    today: date | None = None,
    now: datetime | None = None,
    settings: Settings | None = None,
    trigger: str = "manual",
) -> PipelineResult:
    config = config or PipelineConfig()
    settings = settings or Settings()
    now = now or utcnow()
    account = await db.get(Account, user_id)
    if account is None:
        raise NotFound(f"There is no account `{user_id}`.")
    today = today or now.astimezone(ZoneInfo(account.timezone)).date()
    result = PipelineResult(user_id=user_id, run_at=now, mode=config.mode)
    started = time.perf_counter()

    engine = DetectionEngine(db, user_id, today=today, now=now, settings=settings)
    run = await engine.run(config.types())
    result.detection_duration_ms = _ms(started)
    alerts: list[DetectionAlert] = list(run.alerts)
    result.alerts_detected = len(alerts)
    result.alerts_by_severity = dict(Counter(a.severity.value for a in alerts))
    result.alerts_by_type = dict(Counter(a.detection_type.value for a in alerts))
    result.errors += [{"stage": "detection", "type": str(getattr(e, "detection_type", "")), "error": str(getattr(e, "error", e))} for e in run.errors]
    await _supersede_resolved(db, account=account, now=now, resolved=list(getattr(run, "resolved", [])))
    await enqueue_many(db, account_id=account.id, messages=_announcements(account, run), now=now)

    if not config.skip_preparation:
        prep_started = time.perf_counter()
        open_alerts = [a for a in alerts if a.status in (AlertStatus.ACTIVE, AlertStatus.ACKNOWLEDGED)]
        prepared = await prepare_actions(db, account=account, alerts=open_alerts, today=today, now=now, settings=settings)
        result.actions_prepared = len(prepared.actions)
        result.actions_by_type = dict(Counter(a.action_type.value for a in prepared.actions))
        result.linked_action_groups = prepared.linked_action_groups
        result.errors += [{"stage": "preparation", "type": e.detection_type, "error": e.error} for e in prepared.errors]
        cards = [Outgoing("action_card", {"action_id": a.id}, f"card:{a.id}", account.digest_channel_id) for a in prepared.actions]
        await enqueue_many(db, account_id=account.id, messages=cards, now=now)
        await _auto_execute(db, account=account, actions=prepared.actions, now=now, settings=settings)
        result.preparation_duration_ms = _ms(prep_started)

    result.total_duration_ms = _ms(started)
    db.add(
        PipelineRun(
            user_id=user_id, mode=config.mode.value, trigger=trigger, started_at=now, alerts_detected=result.alerts_detected,
            actions_prepared=result.actions_prepared, detection_duration_ms=result.detection_duration_ms,
            preparation_duration_ms=result.preparation_duration_ms, total_duration_ms=result.total_duration_ms,
            error_count=len(result.errors), result=result.to_json(),
        )
    )
    await db.flush()
    return result


async def _supersede_resolved(db: AsyncSession, *, account: Account, now: datetime, resolved: list[Any]) -> None:
    ids = [getattr(a, "id", a) for a in resolved]
    if not ids:
        return
    actions = (
        await db.execute(
            select(PreparedAction).where(
                PreparedAction.user_id == account.id, PreparedAction.alert_id.in_(ids), PreparedAction.status == ActionStatus.PENDING
            )
        )
    ).scalars().all()
    from tamio.execution import lifecycle

    for action in actions:
        await lifecycle.supersede(db, account=account, action_id=action.id, now=now, reason="its alert resolved")


def _announcements(account: Account, run: Any) -> list[Outgoing]:
    """New and escalated alerts are announced once per state; resolved ones update their card."""
    channel = account.digest_channel_id
    messages = [
        Outgoing("alert_new", {"alert_id": a.id}, f"alert:{a.id}:new", channel) for a in getattr(run, "new", [])
    ]
    messages += [
        Outgoing("alert_escalated", {"alert_id": a.id, "severity": a.severity.value}, f"alert:{a.id}:escalated:{a.escalation_count}", channel)
        for a in getattr(run, "escalated", [])
    ]
    messages += [
        Outgoing("alert_resolved", {"alert_id": a.id}, f"alert:{a.id}:resolved", channel) for a in getattr(run, "resolved", [])
    ]
    return messages


async def _auto_execute(db: AsyncSession, *, account: Account, actions: list[PreparedAction], now: datetime, settings: Settings) -> None:
    from tamio.execution import automation

    maybe = getattr(automation, "maybe_auto_execute", None)
    if maybe is None or not actions:
        return
    enabled = (
        await db.execute(
            select(ExecutionAutomationRule.id).where(ExecutionAutomationRule.user_id == account.id, ExecutionAutomationRule.auto_execute.is_(True)).limit(1)
        )
    ).first()
    if enabled is None:  # nothing is automatic for this account: no rule to check per action
        return
    for action in actions:
        await maybe(db, account=account, action=action, now=now, settings=settings)

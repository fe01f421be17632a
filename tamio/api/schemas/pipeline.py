"""Bodies of the pipeline routes: runs, their health, the action queue and decisions on actions.

``PipelineResultOut`` is ``PipelineResult.to_json()`` field for field; ``ActionOut`` carries the
action's options and the links to other actions (design: PreparedAction, ActionOption,
LinkedAction); ``DecisionOut`` is what a Slack click answers with, from the same lifecycle.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field, model_validator

from tamio.api.types import (
    BODY_CONFIG,
    OUT_CONFIG,
    QUERY_CONFIG,
    DecimalOut,
    Id,
    MessageBody,
    MoneyOut,
    Reason,
    Subject,
    decimal_out,
    optional_money_out,
)
from tamio.detection.models import DetectionType
from tamio.execution.views import ActionView, Link
from tamio.pipeline import PipelineConfig, PipelineMode
from tamio.preparation.models import ActionOption, ActionStatus, ActionType, LinkType


class PipelineRunIn(BaseModel):
    """PipelineConfig: which detections to run, and whether to prepare actions for what they find."""

    model_config = BODY_CONFIG
    mode: PipelineMode = PipelineMode.FULL
    detection_types: list[DetectionType] = Field(default_factory=list, max_length=len(DetectionType))
    skip_preparation: bool = False

    @model_validator(mode="after")
    def _targeted_needs_types(self) -> PipelineRunIn:
        if self.mode == PipelineMode.TARGETED and not self.detection_types:
            raise ValueError("a targeted run needs detection_types, e.g. [\"late_payment\"]")
        if self.mode != PipelineMode.TARGETED and self.detection_types:
            raise ValueError("detection_types are for mode \"targeted\"; leave them out for full and critical runs")
        return self

    def config(self) -> PipelineConfig:
        return PipelineConfig(mode=self.mode, detection_types=tuple(dict.fromkeys(self.detection_types)), skip_preparation=self.skip_preparation)


class CriticalRunIn(BaseModel):
    model_config = BODY_CONFIG
    skip_preparation: bool = False


class PipelineError(BaseModel):
    stage: str
    type: str
    error: str


class PipelineResultOut(BaseModel):
    """What one run found and prepared (PipelineResult.to_json())."""

    model_config = OUT_CONFIG
    user_id: str
    run_at: datetime
    mode: PipelineMode
    alerts_detected: int
    alerts_by_severity: dict[str, int]
    alerts_by_type: dict[str, int]
    actions_prepared: int
    actions_by_type: dict[str, int]
    linked_action_groups: int
    detection_duration_ms: int
    preparation_duration_ms: int
    total_duration_ms: int
    errors: list[PipelineError]


class PipelineRunOut(BaseModel):
    model_config = OUT_CONFIG
    id: str
    mode: str
    trigger: str
    started_at: datetime
    alerts_detected: int
    actions_prepared: int
    detection_duration_ms: int
    preparation_duration_ms: int
    total_duration_ms: int
    error_count: int


class OutboxBacklogOut(BaseModel):
    """This account's messages waiting to be posted or mailed."""

    model_config = OUT_CONFIG
    pending: int
    sending: int
    dead: int
    oldest_pending_at: datetime | None


class SchedulerClaimOut(BaseModel):
    """A scheduled job's claimed slot (one replica ran it); errors stay in the server log."""

    model_config = OUT_CONFIG
    job_name: str
    slot: datetime
    claimed_by: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str


class PipelineHealthOut(BaseModel):
    model_config = OUT_CONFIG
    last_runs: list[PipelineRunOut]
    runs_considered: int
    runs_with_errors: int
    error_count: int
    average_total_duration_ms: int | None
    max_total_duration_ms: int | None
    last_run_at: datetime | None
    outbox: OutboxBacklogOut
    scheduler_claims: list[SchedulerClaimOut]


class HealthQuery(BaseModel):
    model_config = QUERY_CONFIG
    limit: int = Field(20, ge=1, le=200, description="how many recent runs to show")


class ActionQuery(BaseModel):
    model_config = QUERY_CONFIG
    status: ActionStatus | None = Field(None, description="only actions in this status (default: all)")
    type: ActionType | None = Field(None, description="only actions of this type")
    limit: int = Field(100, ge=1, le=500)


class OptionOut(BaseModel):
    model_config = OUT_CONFIG
    id: str
    rank: int
    kind: str
    title: str
    description: str
    amount: MoneyOut | None
    currency: str | None
    counterparty_type: str | None
    counterparty_id: str | None
    counterparty_name: str | None
    recipient_email: str | None
    draft_subject: str | None
    draft_body: str | None
    draft_tone: str | None
    relationship_risk: DecimalOut
    operational_risk: DecimalOut
    financial_cost: DecimalOut
    composite_risk: DecimalOut
    risk_level: str
    forecast_lowest_balance: MoneyOut | None
    forecast_lowest_week: date | None
    params: dict[str, Any]


class LinkOut(BaseModel):
    model_config = OUT_CONFIG
    id: str
    source_action_id: str
    target_action_id: str
    link_type: LinkType
    group_id: str
    reason: str


class ApprovalOut(BaseModel):
    model_config = OUT_CONFIG
    member_id: str
    option_id: str
    approved_at: datetime


class ActionOut(BaseModel):
    model_config = OUT_CONFIG
    id: str
    alert_id: str | None
    action_type: ActionType
    status: ActionStatus
    severity: str
    title: str
    summary: str
    amount: MoneyOut | None
    currency: str | None
    counterparty_type: str | None
    counterparty_id: str | None
    counterparty_name: str | None
    tags: list[str]
    priority: int
    deadline: date | None
    approvals_required: int
    requires_admin: bool
    approvals: list[ApprovalOut]
    chosen_option_id: str | None
    decided_by_member_id: str | None
    decided_at: datetime | None
    auto_executed: bool
    edited_subject: str | None
    edited_body: str | None
    version: int
    executed_at: datetime | None
    last_error: str | None
    expires_at: datetime | None
    created_at: datetime
    options: list[OptionOut]
    links: list[LinkOut]
    decided_by: str | None = Field(None, description='who decided, as cards name them: "@maria", "automation", "Tamio"; null while undecided')
    history_line: str = Field("", description='what happened with its client or vendor, as its card says: "Chased 2x, last 3 Dec by @maria"')
    forecast_basis: str | None = Field(None, description="digest of the forecast inputs its figures were prepared on; approving "
                                       "once they changed is refused (409) with the fresh action")


class ActionList(BaseModel):
    model_config = OUT_CONFIG
    actions: list[ActionOut]


class ApproveIn(BaseModel):
    """Approve one option; an edited subject or body replaces the drafted message."""

    model_config = BODY_CONFIG
    option_id: Id
    edited_subject: Subject | None = None
    edited_body: MessageBody | None = None


class DraftIn(BaseModel):
    """An edited message for one option (default: the first option that sends one)."""

    model_config = BODY_CONFIG
    option_id: Id | None = None
    subject: Subject
    body: MessageBody


class SkipIn(BaseModel):
    model_config = BODY_CONFIG
    reason: Reason | None = None


class ExecutionOut(BaseModel):
    """The first attempt at carrying out an approved action, made right after the approval committed."""

    model_config = OUT_CONFIG
    status: str = Field(description="executed, failed, or executing (a retry is scheduled)")
    attempts: int
    message: str
    error: str | None


class DecisionOut(BaseModel):
    """What the decision did (the same answer a Slack click gets)."""

    model_config = OUT_CONFIG
    outcome: str = Field(description="approved, awaiting_second_approval, skipped, retrying or draft_edited")
    action_id: str
    option_id: str | None
    status: str = Field(description="the action's status afterwards")
    approvals_given: int
    approvals_required: int
    decided_by: str
    decided_by_member_id: str | None
    decided_at: datetime
    message: str
    execution: ExecutionOut | None = Field(None, description="present when the approval completed")


def option_out(option: ActionOption) -> OptionOut:
    return OptionOut(
        id=option.id, rank=option.rank, kind=option.kind, title=option.title, description=option.description or "",
        amount=optional_money_out(option.amount, option.currency), currency=option.currency,
        counterparty_type=option.counterparty_type, counterparty_id=option.counterparty_id,
        counterparty_name=option.counterparty_name, recipient_email=option.recipient_email,
        draft_subject=option.draft_subject, draft_body=option.draft_body, draft_tone=option.draft_tone,
        relationship_risk=decimal_out(option.relationship_risk) or "0", operational_risk=decimal_out(option.operational_risk) or "0",
        financial_cost=decimal_out(option.financial_cost) or "0", composite_risk=decimal_out(option.composite_risk) or "0",
        risk_level=option.risk_level, forecast_lowest_balance=optional_money_out(option.forecast_lowest_balance, option.currency),
        forecast_lowest_week=option.forecast_lowest_week, params=dict(option.params or {}),
    )


def link_out(link: Link) -> LinkOut:
    return LinkOut(
        id=link.id, source_action_id=link.source_action_id, target_action_id=link.target_action_id,
        link_type=link.link_type, group_id=link.group_id, reason=link.reason,
    )


def action_out(view: ActionView) -> ActionOut:
    """The core's view of the action (``tamio.execution.views``), as JSON."""
    action = view.action
    return ActionOut(
        id=action.id, alert_id=action.alert_id, action_type=action.action_type, status=action.status,
        severity=action.severity.value, title=action.title, summary=action.summary or "",
        amount=optional_money_out(action.amount, action.currency), currency=action.currency,
        counterparty_type=action.counterparty_type, counterparty_id=action.counterparty_id,
        counterparty_name=action.counterparty_name, tags=list(action.tags or []), priority=action.priority,
        deadline=action.deadline, approvals_required=action.approvals_required, requires_admin=action.requires_admin,
        approvals=[ApprovalOut(member_id=a.member_id, option_id=a.option_id, approved_at=a.at) for a in view.approvals],
        chosen_option_id=action.chosen_option_id, decided_by_member_id=action.decided_by_member_id,
        decided_at=action.decided_at, auto_executed=action.auto_executed, edited_subject=action.edited_subject,
        edited_body=action.edited_body, version=action.version, executed_at=action.executed_at, last_error=action.last_error,
        expires_at=action.expires_at, created_at=action.created_at,
        options=[option_out(o) for o in view.options], links=[link_out(link) for link in view.links],
        decided_by=view.decider, history_line=view.history_line, forecast_basis=view.basis,
    )

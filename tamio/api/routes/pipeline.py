"""``/api/v1/pipeline``: run detection and preparation, see how runs went, and decide on actions.

Deciding goes through ``tamio.execution.lifecycle`` exactly as a Slack click does: the same roles
(payroll needs an admin), dual control, and compare-and-set, so an API approval and a click at the
same moment cannot both win; and the same outbox rows, so the card in Slack shows the decision. Once an approval completes and commits, the first attempt at carrying
it out runs (``execute_action``) and its outcome is part of the answer. Health is the account's own: its runs, its outbox messages; the
scheduler's claims are shown without their error text, which may name other accounts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pydantic import BaseModel
from sqlalchemy import func, select

from tamio.accounts.permissions import Operation
from tamio.api.registry import Call, Router
from tamio.api.schemas.pipeline import (
    ActionList,
    ActionOut,
    ActionQuery,
    ApproveIn,
    CriticalRunIn,
    DecisionOut,
    DraftIn,
    ExecutionOut,
    HealthQuery,
    OutboxBacklogOut,
    PipelineHealthOut,
    PipelineResultOut,
    PipelineRunIn,
    PipelineRunOut,
    SchedulerClaimOut,
    SkipIn,
    action_out,
)
from tamio.errors import Conflict
from tamio.execution import lifecycle, views
from tamio.execution.drafts import edit_draft
from tamio.execution.queries import QUEUE_ORDER
from tamio.execution.service import execute_action
from tamio.outbox.models import OutboxMessage
from tamio.outbox.service import DEAD, PENDING, SENDING
from tamio.pipeline import (
    PipelineConfig,
    PipelineMode,
    PipelineResult,
    PipelineRun,
    run_detection_preparation_cycle,
)
from tamio.preparation.models import PreparedAction
from tamio.scheduler.models import SchedulerClaim

log = logging.getLogger("tamio.api")
router = Router("Pipeline")


def _result_out(result: PipelineResult) -> PipelineResultOut:
    return PipelineResultOut.model_validate(result.to_json())


async def _run(call: Call, config: PipelineConfig) -> PipelineResultOut:
    result = await run_detection_preparation_cycle(
        call.db, call.account.id, config, today=call.today, now=call.now, settings=call.settings, trigger="api"
    )
    return _result_out(result)


@router.route(
    "POST", "/pipeline/run", body=PipelineRunIn, response=PipelineResultOut, permission=Operation.RUN_CHECKS, summary="Run the pipeline"
)
async def run_pipeline(call: Call) -> PipelineResultOut:
    """Run detection (all types, the critical ones, or those named) and prepare actions for what it finds."""
    return await _run(call, call.body(PipelineRunIn).config())


@router.route(
    "POST", "/pipeline/run-critical", body=CriticalRunIn, response=PipelineResultOut, permission=Operation.RUN_CHECKS,
    summary="Run the critical detections",
)
async def run_critical(call: Call) -> PipelineResultOut:
    """Only buffer breach, payroll safety and statutory deadlines: the checks that cannot wait."""
    body = call.body(CriticalRunIn)
    return await _run(call, PipelineConfig(mode=PipelineMode.CRITICAL, skip_preparation=body.skip_preparation))


@router.route("GET", "/pipeline/health", query=HealthQuery, response=PipelineHealthOut, summary="See how the pipeline runs")
async def pipeline_health(call: Call) -> PipelineHealthOut:
    """Recent runs with their durations and errors, this account's outbox backlog, and the scheduler's claims."""
    limit = call.query(HealthQuery).limit
    runs = (
        await call.db.execute(
            select(PipelineRun).where(PipelineRun.user_id == call.account.id)
            .order_by(PipelineRun.started_at.desc(), PipelineRun.id).limit(limit)
        )
    ).scalars().all()
    counts: dict[str, int] = {
        status: int(count)
        for status, count in (
            await call.db.execute(
                select(OutboxMessage.status, func.count()).where(OutboxMessage.user_id == call.account.id).group_by(OutboxMessage.status)
            )
        ).all()
    }
    oldest = (
        await call.db.execute(
            select(func.min(OutboxMessage.created_at)).where(OutboxMessage.user_id == call.account.id, OutboxMessage.status == PENDING)
        )
    ).scalar_one()
    claims = (
        await call.db.execute(select(SchedulerClaim).order_by(SchedulerClaim.started_at.desc(), SchedulerClaim.id).limit(20))
    ).scalars().all()
    durations = [run.total_duration_ms for run in runs]
    return PipelineHealthOut(
        last_runs=[
            PipelineRunOut(
                id=run.id, mode=run.mode, trigger=run.trigger, started_at=run.started_at, alerts_detected=run.alerts_detected,
                actions_prepared=run.actions_prepared, detection_duration_ms=run.detection_duration_ms,
                preparation_duration_ms=run.preparation_duration_ms, total_duration_ms=run.total_duration_ms,
                error_count=run.error_count,
            )
            for run in runs
        ],
        runs_considered=len(runs),
        runs_with_errors=sum(1 for run in runs if run.error_count),
        error_count=sum(run.error_count for run in runs),
        average_total_duration_ms=round(sum(durations) / len(durations)) if durations else None,
        max_total_duration_ms=max(durations) if durations else None,
        last_run_at=runs[0].started_at if runs else None,
        outbox=OutboxBacklogOut(
            pending=int(counts.get(PENDING, 0)), sending=int(counts.get(SENDING, 0)), dead=int(counts.get(DEAD, 0)),
            oldest_pending_at=oldest,
        ),
        scheduler_claims=[
            SchedulerClaimOut(
                job_name=claim.job_name, slot=claim.slot, claimed_by=claim.claimed_by, started_at=claim.started_at,
                finished_at=claim.finished_at, outcome=claim.outcome,
            )
            for claim in claims
        ],
    )


async def _actions_out(call: Call, action_ids: Sequence[str]) -> list[ActionOut]:
    """The core's views of the actions (as their cards and the CLI show them), in a fixed number of queries."""
    return [action_out(view) for view in await views.action_views(call.db, account_id=call.account.id, action_ids=action_ids)]


@router.route("GET", "/pipeline/actions", query=ActionQuery, response=ActionList, summary="List the action queue", current=True)
async def list_actions(call: Call) -> ActionList:
    """Prepared actions, those waiting for a person first (the most urgent, then the nearest deadline),
    then the decided ones, the most recently changed first; each with its options and links; filter by
    status and type."""
    query = call.query(ActionQuery)
    stmt = select(PreparedAction).where(PreparedAction.user_id == call.account.id)
    if query.status is not None:
        stmt = stmt.where(PreparedAction.status == query.status)
    if query.type is not None:
        stmt = stmt.where(PreparedAction.action_type == query.type)
    stmt = stmt.order_by(*QUEUE_ORDER).limit(query.limit)
    ids = (await call.db.execute(stmt.with_only_columns(PreparedAction.id))).scalars().all()
    return ActionList(actions=await _actions_out(call, ids))


@router.route("GET", "/pipeline/actions/{action_id}", response=ActionOut, summary="Get an action", current=True)
async def get_action(call: Call) -> ActionOut:
    """One prepared action with its options, links and approvals so far."""
    return action_out(await views.action_view(call.db, account_id=call.account.id, action_id=call.path["action_id"]))


def _decision_out(decision: lifecycle.Decision) -> DecisionOut:
    return DecisionOut(
        outcome=decision.outcome, action_id=decision.action_id, option_id=decision.option_id, status=decision.status,
        approvals_given=decision.approvals_given, approvals_required=decision.approvals_required,
        decided_by=decision.decided_by, decided_by_member_id=decision.decided_by_member_id,
        decided_at=decision.decided_at, message=decision.message,
    )


@router.route(
    "POST", "/pipeline/actions/{action_id}/approve", body=ApproveIn, response=DecisionOut, permission=Operation.APPROVE,
    errors=(409,), summary="Approve an action",
)
async def approve_action(call: Call) -> DecisionOut:
    """Approve one option, optionally with an edited draft. Dual control: at or above the account's threshold
    the action waits for a second, different approver of the same option. 409 when someone decided first."""
    body = call.body(ApproveIn)
    decision = await lifecycle.approve(
        call.db, account=call.account, member=call.member, action_id=call.path["action_id"], option_id=body.option_id,
        edited_subject=body.edited_subject, edited_body=body.edited_body, now=call.now, settings=call.settings,
    )
    if decision.outcome == "figures_changed":
        replaced_by = decision.replaced_by

        async def refuse(answer: BaseModel) -> BaseModel:
            """After the commit (the stale action is superseded by the fresh one): 409 with where the fresh one is."""
            hint = (f"The fresh action is {replaced_by}: GET /api/v1/pipeline/actions/{replaced_by}." if replaced_by
                    else "With the figures as they are now there is nothing left to propose.")
            raise Conflict(decision.message, hint=hint)

        call.after_commit(refuse)
    else:
        _carry_out_after_commit(call, decision)
    return _decision_out(decision)


def _carry_out_after_commit(call: Call, decision: lifecycle.Decision) -> None:
    """The first attempt, after the decision committed; the resume job retries whatever this leaves.
    Each transition of the attempt queues the card's update in Slack itself."""
    if decision.outcome not in ("approved", "retrying") or call.sessions is None:
        return
    sessions, settings, account_id, now = call.sessions, call.settings, call.account.id, call.now

    async def carry_out(answer: BaseModel) -> BaseModel:
        assert isinstance(answer, DecisionOut)
        try:
            outcome = await execute_action(sessions, account_id=account_id, action_id=decision.action_id, now=now, settings=settings)
        except Exception:
            log.exception("executing action %s after its API decision failed; the resume job will retry", decision.action_id)
            return answer
        execution = ExecutionOut(status=outcome.status, attempts=outcome.attempts, message=outcome.message, error=outcome.error)
        return answer.model_copy(update={"execution": execution, "status": outcome.status})

    call.after_commit(carry_out)


@router.route(
    "POST", "/pipeline/actions/{action_id}/skip", body=SkipIn, response=DecisionOut, permission=Operation.APPROVE,
    errors=(409,), summary="Skip an action",
)
async def skip_action(call: Call) -> DecisionOut:
    """Decide not to do it; it stays visible as skipped, with who and why. 409 when someone decided first."""
    body = call.body(SkipIn)
    decision = await lifecycle.skip(
        call.db, account=call.account, member=call.member, action_id=call.path["action_id"], now=call.now, reason=body.reason
    )
    return _decision_out(decision)


@router.route(
    "POST", "/pipeline/actions/{action_id}/retry", response=DecisionOut, permission=Operation.APPROVE, errors=(409,),
    summary="Retry a failed action",
)
async def retry_action(call: Call) -> DecisionOut:
    """Carry out a failed action again (after fixing what made it fail); the first attempt's outcome is in the answer.
    409 when it is not failed."""
    decision = await lifecycle.retry(call.db, account=call.account, member=call.member, action_id=call.path["action_id"], now=call.now)
    _carry_out_after_commit(call, decision)
    return _decision_out(decision)


@router.route(
    "POST", "/pipeline/actions/{action_id}/draft", body=DraftIn, response=DecisionOut, permission=Operation.APPROVE, errors=(409,),
    summary="Edit the draft of an action",
)
async def edit_action_draft(call: Call) -> DecisionOut:
    """Save an edited subject and body for one option's message (default: the first option that sends one);
    it is sent as written when that option is approved. 409 when someone decided first."""
    body = call.body(DraftIn)
    decision = await edit_draft(call.db, account=call.account, member=call.member, action_id=call.path["action_id"],
                                option_id=body.option_id, subject=body.subject, body=body.body, now=call.now)
    return _decision_out(decision)

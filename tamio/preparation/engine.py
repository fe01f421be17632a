"""PreparationEngine: turn alerts into prepared actions with ranked options, and link them.

One agent per detection type (the design document's "Agent Workflows" table, plus excess cash
allocation for unexpected revenue and payment prioritization for timing conflicts). An alert that
already has an open action gets no second one, unless (``restate=True``) that action is pending and
was prepared on a basis that no longer holds (``freshness``): it is then prepared again, brought up
to date in place when its figures are the same (``run.refreshed``), else replaced by a fresh action
(``run.replaced``: the caller supersedes the old one). Every action stores the basis it was prepared
on. A failing agent is an error of the run; the others go on. Never commits: the caller owns the
transaction.

    run = await prepare_actions(db, account=account, alerts=alerts, today=today, now=now, settings=settings)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account
from tamio.bulk import insert_objects, insert_rows, slices
from tamio.config import Settings
from tamio.db import new_id
from tamio.detection.models import DetectionAlert
from tamio.detection.snapshot import AccountSnapshot
from tamio.preparation import agents_cash as cash
from tamio.preparation import agents_counterparty as party
from tamio.preparation import agents_payroll as payroll
from tamio.preparation.alerts import AlertView
from tamio.preparation.basis import load_bases
from tamio.preparation.context import PreparationContext, jsonable, load_context
from tamio.preparation.drafts import ActionDraft
from tamio.preparation.freshness import bring_up_to_date, figures_of, figures_of_draft, forecast_basis
from tamio.preparation.linking import Link, LinkCandidate, candidate_of, find_links, groups
from tamio.preparation.models import (
    ActionOption,
    ActionStatus,
    ActionType,
    LinkedAction,
    LinkType,
    PreparedAction,
)

log = logging.getLogger(__name__)

Agent = Callable[[AlertView, PreparationContext], ActionDraft | None]

AGENTS: dict[str, Agent] = {
    "late_payment": party.invoice_followup_agent,
    "payroll_safety": payroll.payroll_safety_agent,
    "buffer_breach": cash.buffer_response_agent,
    "vendor_terms_expiring": party.vendor_payment_agent,
    "statutory_deadline": cash.statutory_payment_agent,
    "client_churn": party.client_retention_agent,
    "unexpected_expense": party.expense_review_agent,
    "revenue_variance": party.revenue_variance_agent,
    "runway_threshold": cash.runway_response_agent,
    "headcount_change": party.headcount_review_agent,
    "unexpected_revenue": cash.excess_cash_agent,
    "payment_timing_conflict": cash.payment_prioritization_agent,
}

OPEN_ACTION_STATUSES = (ActionStatus.PENDING, ActionStatus.APPROVED, ActionStatus.EXECUTING)
ADMIN_ONLY = ("payroll_contingency", "payroll_confirmation")


@dataclass(frozen=True)
class AgentError:
    alert_id: str
    detection_type: str
    error: str


@dataclass
class PreparationRun:
    actions: list[PreparedAction] = field(default_factory=list)
    errors: list[AgentError] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)  # stored as LinkedAction rows
    linked_action_groups: int = 0
    basis: str | None = None  # what this run's actions were prepared on
    refreshed: list[PreparedAction] = field(default_factory=list)  # restated in place; their cards changed
    # (stale pending action, the action replacing it or None when nothing is left to propose)
    replaced: list[tuple[PreparedAction, PreparedAction | None]] = field(default_factory=list)


def approvals_required(account: Account, draft: ActionDraft) -> int:
    """What the card's first option needs: dual control measures the money an option moves (the
    approval recomputes it for the option chosen), not the problem's size."""
    first = draft.options[0] if draft.options else None
    amount, currency = (first.amount, first.currency) if first is not None and first.amount is not None else (draft.amount, draft.currency)
    amount = amount if amount is not None else Decimal(0)
    same_currency = currency in (None, account.base_currency)
    return 2 if same_currency and amount >= account.dual_approval_threshold else 1


class OpenAction(NamedTuple):
    """An open action, as far as preparation needs to know (which alert, which state, which basis)."""

    id: str
    alert_id: str
    status: ActionStatus
    forecast_basis: str | None


async def open_actions_of(db: AsyncSession, alert_ids: Sequence[str]) -> dict[str, list[OpenAction]]:
    """The open actions (pending, approved or executing) of these alerts, by alert id: one query of
    four columns (a steady run looks at every card; the few it restates are loaded whole)."""
    if not alert_ids:
        return {}
    found: dict[str, list[OpenAction]] = {}
    for ids in slices(alert_ids):
        rows = await db.execute(
            select(PreparedAction.id, PreparedAction.alert_id, PreparedAction.status, PreparedAction.forecast_basis)
            .where(PreparedAction.alert_id.in_(ids), PreparedAction.status.in_(OPEN_ACTION_STATUSES))
        )
        for action_id, alert_id, status, basis in rows:
            if alert_id:
                found.setdefault(alert_id, []).append(OpenAction(action_id, alert_id, status, basis))
    return found


@dataclass(slots=True)
class StoredOption:
    """What linking reads of an option written by this run (``linking.OptionLike``)."""

    kind: str
    params: Any
    counterparty_id: str | None
    forecast_lowest_balance: Decimal | None


def _rows(account: Account, alert: DetectionAlert, draft: ActionDraft, now: datetime, basis: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The action's row and its options' rows (the same keys in each, so one statement writes each
    kind; the columns left out take their defaults)."""
    action_id = new_id("act")
    action = {
        "id": action_id, "user_id": account.id, "alert_id": alert.id, "action_type": ActionType(draft.action_type),
        "status": ActionStatus.PENDING, "severity": alert.severity, "title": draft.title[:300], "summary": draft.summary,
        "amount": draft.amount, "currency": draft.currency, "counterparty_type": draft.counterparty_type,
        "counterparty_id": draft.counterparty_id,
        "counterparty_name": (draft.counterparty_name or None) and draft.counterparty_name[:200],
        "tags": sorted(set(draft.tags)), "priority": {"emergency": 0, "this_week": 1, "upcoming": 2}[alert.severity.value],
        "deadline": draft.deadline, "approvals_required": approvals_required(account, draft),
        "requires_admin": draft.action_type in ADMIN_ONLY, "forecast_basis": basis, "created_at": now, "updated_at": now,
    }
    options = [
        {
            "id": new_id("opt"), "action_id": action_id, "rank": rank, "kind": o.kind, "title": o.title[:300],
            "description": o.description, "amount": o.amount, "currency": o.currency, "counterparty_type": o.counterparty_type,
            "counterparty_id": o.counterparty_id, "counterparty_name": (o.counterparty_name or None) and o.counterparty_name[:200],
            "recipient_email": o.recipient_email, "draft_subject": o.draft_subject[:300] if o.draft_subject else None,
            "draft_body": o.draft_body, "draft_recipe": o.draft.to_json() if o.draft is not None else None,
            "draft_tone": o.draft_tone, "relationship_risk": o.risk.relationship, "operational_risk": o.risk.operational,
            "financial_cost": o.risk.financial, "composite_risk": o.risk.composite, "risk_level": o.risk.level,
            "forecast_lowest_balance": o.forecast.lowest_closing_balance, "forecast_lowest_week": o.forecast.lowest_week_start,
            "params": jsonable(o.params), "created_at": now,
        }
        for rank, o in enumerate(draft.options, start=1)
    ]
    return action, options


async def prepare_actions(
    db: AsyncSession,
    *,
    account: Account,
    alerts: Sequence[DetectionAlert],
    today: date,
    now: datetime,
    settings: Settings,
    context: PreparationContext | None = None,
    restate: bool = False,
    snapshot: AccountSnapshot | None = None,
    basis: str | None = None,
    open_actions: Mapping[str, list[OpenAction]] | None = None,
) -> PreparationRun:
    """``snapshot``: the run's detection snapshot (as of ``today``), which the context is built from
    when there is something to prepare, and the pending cards' basis checked on without one;
    ``basis``: that basis when the caller worked it out (a batch does, for all its accounts at once);
    ``open_actions``: the open actions of ``alerts`` (``open_actions_of``) when the caller read them
    (a batch reads them once for all its accounts), else they are read here."""
    run = PreparationRun()
    open_by_alert = open_actions if open_actions is not None else await open_actions_of(db, [a.id for a in alerts])
    ctx = context
    if snapshot is not None and (snapshot.loaded is None or snapshot.today != today):
        snapshot = None  # a critical pass's light one, or of another day: the context loads its own
    stale: dict[str, PreparedAction] = {}
    if restate:
        pending = [a for actions in open_by_alert.values() for a in actions if a.status == ActionStatus.PENDING and a.forecast_basis]
        if pending:
            if ctx is None and basis is not None:
                run.basis = basis
            elif ctx is None and snapshot is not None:  # checked without a context: most runs have nothing to restate
                run.basis = (await load_bases(db, {account.id: snapshot}))[account.id]
            else:
                ctx = ctx or await load_context(db, account_id=account.id, today=today, settings=settings)
                run.basis = forecast_basis(ctx)
            stale = await _whole(db, {a.alert_id: a.id for a in pending if a.forecast_basis != run.basis})
    todo = [a for a in alerts if a.id not in open_by_alert or (a.id in stale and len(open_by_alert[a.id]) == 1)]
    if not todo:
        return run
    ctx = ctx or await load_context(db, account_id=account.id, today=today, settings=settings, snapshot=snapshot)
    run.basis = run.basis or forecast_basis(ctx)
    candidates: list[LinkCandidate] = []
    action_rows: list[dict[str, Any]] = []
    option_rows: list[dict[str, Any]] = []
    replacing: list[PreparedAction | None] = []  # per new action, the stale one it replaces
    stale_options = await _options_of(db, [a.id for a in stale.values()])
    for alert in todo:
        agent = AGENTS.get(alert.detection_type.value)
        if agent is None:
            continue
        try:
            draft = agent(AlertView.of(alert), ctx)
        except Exception as exc:  # one agent failing must not stop the run
            log.exception("agent for %s failed on alert %s", alert.detection_type.value, alert.id)
            run.errors.append(AgentError(alert.id, alert.detection_type.value, f"{type(exc).__name__}: {exc}"))
            continue
        old = stale.get(alert.id)
        if draft is None or not draft.options:
            if old is not None:
                run.replaced.append((old, None))
            continue
        if old is not None and figures_of(old, stale_options.get(old.id, [])) == figures_of_draft(draft):
            if bring_up_to_date(old, stale_options[old.id], draft, basis=run.basis, now=now):
                run.refreshed.append(old)
            continue
        action, options = _rows(account, alert, draft, now, run.basis)
        action_rows.append(action)
        option_rows.extend(options)
        replacing.append(old)
        candidates.append(candidate_of(action["id"], alert.detection_type.value, draft.action_type, [
            StoredOption(o["kind"], o["params"], o["counterparty_id"], o["forecast_lowest_balance"]) for o in options
        ], deadline=draft.deadline))
    # One statement per batch of rows for each kind (the actions before their options: foreign key).
    run.actions = await insert_objects(db, PreparedAction, action_rows)
    run.replaced += [(old, action) for old, action in zip(replacing, run.actions, strict=True) if old is not None]
    await insert_rows(db, ActionOption, option_rows)
    await db.flush()  # the stale actions brought up to date
    if not run.actions:
        return run
    leaving = [old.id for old, _ in run.replaced]
    candidates += await _open_candidates(db, account_id=account.id, exclude=[a.id for a in run.actions] + leaving)
    links = find_links(candidates, buffer=ctx.buffer, base_lowest=ctx.forecast.lowest_closing_balance)
    new_ids = {a.id for a in run.actions}
    run.links = [link for link in links if link.source in new_ids or link.target in new_ids]
    group_of = groups([c.key for c in candidates], run.links)
    await insert_rows(db, LinkedAction, [
        {"id": new_id("lnk"), "user_id": account.id, "source_action_id": link.source, "target_action_id": link.target,
         "link_type": LinkType(link.link_type), "group_id": group_of[link.source], "reason": link.reason, "created_at": now}
        for link in run.links
    ])
    run.linked_action_groups = len({group_of[link.source] for link in run.links})
    return run


async def _whole(db: AsyncSession, action_ids: dict[str, str]) -> dict[str, PreparedAction]:
    """The actions (alert id -> action id) loaded whole, by alert id."""
    if not action_ids:
        return {}
    found: dict[str, PreparedAction] = {}
    for ids in slices(list(action_ids.values())):
        rows = await db.execute(select(PreparedAction).where(PreparedAction.id.in_(ids)))
        found.update((action.alert_id or "", action) for action in rows.scalars())
    return found


async def _options_of(db: AsyncSession, action_ids: Sequence[str]) -> dict[str, list[ActionOption]]:
    if not action_ids:
        return {}
    found: dict[str, list[ActionOption]] = {}
    for ids in slices(action_ids):
        rows = await db.execute(select(ActionOption).where(ActionOption.action_id.in_(ids)).order_by(ActionOption.rank))
        for option in rows.scalars():
            found.setdefault(option.action_id, []).append(option)
    return found


async def _open_candidates(db: AsyncSession, *, account_id: str, exclude: Sequence[str]) -> list[LinkCandidate]:
    """Pending actions of earlier runs, so new actions can link to them (two queries)."""
    leaving = set(exclude)  # left out here, not in the query: a large run's ids are more than a statement takes
    actions = [
        (action, kind) for action, kind in (
            await db.execute(
                select(PreparedAction, DetectionAlert.detection_type)
                .outerjoin(DetectionAlert, DetectionAlert.id == PreparedAction.alert_id)
                .where(PreparedAction.user_id == account_id, PreparedAction.status == ActionStatus.PENDING)
            )
        ).all()
        if action.id not in leaving
    ]
    if not actions:
        return []
    by_action: dict[str, list[ActionOption]] = {}
    for ids in slices([a.id for a, _ in actions]):
        options = (
            await db.execute(select(ActionOption).where(ActionOption.action_id.in_(ids)).order_by(ActionOption.action_id, ActionOption.rank))
        ).scalars().all()
        for option in options:
            by_action.setdefault(option.action_id, []).append(option)
    return [
        candidate_of(a.id, t.value if t else "", a.action_type.value, by_action[a.id], deadline=a.deadline)
        for a, t in actions
        if by_action.get(a.id)
    ]

"""Decisions on prepared actions: approve, skip and retry, each exactly once (Tamio's own
closings, supersede and expire, are ``tamio.execution.closing``).

A PreparedAction moves ``pending -> approved -> executing -> executed | failed``, or ``pending ->
skipped | superseded | expired``. Each move is a compare-and-set (``transitions``), so when two
people click at once exactly one decision wins; the other gets ``AlreadyDecided`` saying who
decided, what and when ("@maria already approved this at 10:42."). A decision records who, when,
which option (it must belong to the action), and the edited draft when the approver changed the
message. Dual control: an action at or above the account's dual-approval threshold stays pending
after the first approval ("1 of 2 approvals") until a *different* approver approves the same
option. Payroll is decided by an admin only (``policy``).

Keyword-only, session first, never commits. Every decision writes, in the caller's transaction,
the outbox rows that update the action's card in Slack and App Home (``transitions.show_in_slack``),
so Slack, the REST API, the CLI, automation and the scheduler get the same effects. After an
``approved`` decision is committed, the caller runs ``tamio.execution.service.execute_action``
(the scheduler's resume job catches any that were not started). Dual control measures the money
the chosen option moves (``amount_at_stake``), not the size of the problem.

    decision = await approve(db, account=account, member=maria, action_id=action_id, option_id=option_id, now=now,
                             settings=settings)
    decision.outcome   # "approved" | "awaiting_second_approval"
    decision.message   # "@maria approved option 1, “Chase Acme's $4,200.00 …”. Tamio will carry it out now."
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account, Member, Role
from tamio.config import Settings
from tamio.currency.service import RateBook
from tamio.errors import Conflict, MissingExchangeRate, PermissionDenied, ValidationError
from tamio.execution import policy
from tamio.execution.closing import supersede
from tamio.execution.decided import DECIDED, AlreadyDecided, Decision, already_decided, clock_text
from tamio.execution.models import ActionApproval
from tamio.execution.queries import edited_options
from tamio.execution.readiness import check_sendable
from tamio.execution.transitions import (
    Actor,
    compare_and_set,
    load_action,
    load_option,
    member_label,
    record_transition,
)
from tamio.money import format_money
from tamio.outbox.service import enqueue
from tamio.preparation import freshness, restating
from tamio.preparation.engine import PreparationRun
from tamio.preparation.models import ActionOption, ActionStatus, PreparedAction

CAS_TRIES = 5
__all__ = ["DECIDED", "AlreadyDecided", "Decision", "already_decided", "approve", "clock_text", "retry", "skip"]


def _check_member(account: Account, member: Member) -> None:
    if member.user_id != account.id:
        raise PermissionDenied("You are not a member of this account.", hint="Ask an admin to add you.")


def _is_expired(action: PreparedAction, now: datetime) -> bool:
    return action.status == ActionStatus.PENDING and action.expires_at is not None and action.expires_at <= now


async def amount_at_stake(db: AsyncSession, *, account: Account, action: PreparedAction, option: ActionOption, now: datetime) -> Decimal | None:
    """The money the chosen option moves, in the base currency: what dual control measures.

    A $2,500 delay offered against a $103,000 shortfall moves $2,500, so it is the option's amount
    that counts, not the action's. An option without an amount falls back to the action's (fail
    safe). ``None`` when there is no rate to convert with: dual control then applies (fail safe).
    """
    if option.amount is not None:
        amounts = [(option.amount, option.currency or action.currency or account.base_currency)]
    elif action.amount is not None:
        amounts = [(action.amount, action.currency or account.base_currency)]
    else:
        return Decimal(0)
    on = now.astimezone(ZoneInfo(account.timezone)).date()
    try:
        book = await RateBook.load(db, {c for _, c in amounts} | {account.base_currency}, on, account_id=account.id)
        return max(abs(book.convert(a, c, account.base_currency, on).amount) for a, c in amounts)
    except (MissingExchangeRate, ValidationError):  # no rate, or past the amount limit: dual control (fail safe)
        return None


async def approvals_of(db: AsyncSession, *, action_id: str) -> list[ActionApproval]:
    stmt = select(ActionApproval).where(ActionApproval.action_id == action_id).order_by(ActionApproval.created_at, ActionApproval.id)
    return list((await db.execute(stmt)).scalars().all())


def _option_text(option: ActionOption) -> str:
    return f"option {option.rank}, “{option.title}”"


async def approve(
    db: AsyncSession,
    *,
    account: Account,
    member: Member,
    action_id: str,
    option_id: str,
    edited_subject: str | None = None,
    edited_body: str | None = None,
    now: datetime,
    settings: Settings,
) -> Decision:
    """Approve ``option_id`` of a pending action; the second approval of a dual-control action completes it.

    Refused (outcome ``figures_changed``, nothing approved) when the forecast basis the action was
    prepared on no longer holds and its figures changed: it is superseded by a fresh action. With the
    server's ``settings``, an option whose email cannot go out (no SMTP settings, or no address
    for its recipient) is then refused before anything is approved (``readiness``, ``CannotSend``)."""
    _check_member(account, member)
    for _ in range(CAS_TRIES):
        action = await load_action(db, account_id=account.id, action_id=action_id)
        approvals = await approvals_of(db, action_id=action.id)
        admin_approved = bool(approvals) and not {a.member_id for a in approvals}.isdisjoint(await _admin_ids(db, account.id))
        policy.check_can_decide(member.role, action_type=action.action_type.value, requires_admin=action.requires_admin,
                                doing="approve", admin_approved=admin_approved)
        if action.status != ActionStatus.PENDING or _is_expired(action, now):
            raise await already_decided(db, account=account, action=action, member=member, now=now)
        restated = await restating.check_basis(db, account=account, action=action, now=now, settings=settings)
        if restated is not None and restated.replaced:
            return await _figures_changed(db, account=account, action=action, run=restated, approvals=len(approvals), now=now)
        option = await load_option(db, action=action, option_id=option_id)
        await check_sendable(db, account=account, action=action, option=option, settings=settings, now=now)
        edits = _edits(option, edited_subject, edited_body)
        draft, discarded = await _draft_for(db, account=account, action=action, option=option,
                                            edited_subject=edited_subject, edited_body=edited_body, edits=edits)
        at_stake = await amount_at_stake(db, account=account, action=action, option=option, now=now)
        required = 2 if at_stake is None else policy.approvals_required(at_stake, threshold=account.dual_approval_threshold)
        if any(a.member_id == member.id for a in approvals):
            raise Conflict(
                f"You already approved this; it needs a different approver ({len(approvals)} of {required} approvals).",
                hint="Ask another approver or an admin to approve it.",
            )
        if approvals and approvals[0].option_id != option.id:
            first = await db.get(Member, approvals[0].member_id)
            chosen = await load_option(db, action=action, option_id=approvals[0].option_id)
            raise Conflict(
                f"{member_label(first)} approved {_option_text(chosen)}; the second approval must be for the same option.",
                hint="Approve that option, or skip the action if you disagree.",
            )
        given = len(approvals) + 1
        done = given >= required
        values: dict[str, Any] = {"approvals_required": required, **draft}
        if done:
            values.update(chosen_option_id=option.id, decided_by_member_id=member.id, decided_at=now)
        won = await compare_and_set(db, action, to=ActionStatus.APPROVED if done else ActionStatus.PENDING, now=now, **values)
        if not won:
            continue  # someone changed it meanwhile: look again (their decision, or their first approval)
        db.add(ActionApproval(action_id=action.id, member_id=member.id, option_id=option.id, created_at=now))
        details: dict[str, object] = {"approvals_given": given, "approvals_required": required, "amount_at_stake": at_stake}
        if edits:
            details["edited_draft"] = {"subject": action.edited_subject, "body": action.edited_body, "version": action.version}
        if discarded:
            details["discarded_edit"] = discarded
        await record_transition(
            db, action=action, event="approved" if done else "approval", from_status=ActionStatus.PENDING,
            actor=Actor.member(member), now=now, option_id=option.id, result=details,
        )
        who = member_label(member)
        if done:
            names = await _approver_names(db, action.id)
            message = f"{' and '.join(names)} approved {_option_text(option)}" + (
                f" ({given} of {required} approvals)" if required > 1 else ""
            ) + ". Tamio will carry it out now."
        else:
            limit = format_money(account.dual_approval_threshold, account.base_currency)
            tail = (
                f"There is no exchange rate to compare it with the {limit} limit, so it needs a second approver too."
                if at_stake is None
                else f"Actions of {limit} or more need a second approver before Tamio carries them out."
            )
            message = f"{who} approved {_option_text(option)}: {given} of {required} approvals. {tail}"
        return Decision(
            outcome="approved" if done else "awaiting_second_approval",
            action_id=action.id, option_id=option.id, approvals_given=given, approvals_required=required,
            decided_by=who, decided_at=now, message=message, decided_by_member_id=member.id, status=action.status.value,
        )
    raise Conflict("This action kept changing while you approved it; refresh it and try again.")


async def _figures_changed(
    db: AsyncSession, *, account: Account, action: PreparedAction, run: PreparationRun, approvals: int, now: datetime
) -> Decision:
    """The approval is refused: the action is superseded by the one prepared from today's figures."""
    fresh = next((new for old, new in run.replaced if old.id == action.id), None)
    reason = "the figures changed; a fresh card replaces it" if fresh else "the figures changed and there is nothing left to propose"
    await supersede(db, account=account, action_id=action.id, now=now, reason=reason, superseded_by=fresh.id if fresh else None)
    await restating.announce(db, account=account, run=run, now=now)
    if fresh is not None:
        await enqueue(db, account_id=account.id, kind="action_card", payload={"action_id": fresh.id}, idempotency_key=f"card:{fresh.id}",
                      channel=account.digest_channel_id, now=now)
    await enqueue(db, account_id=account.id, kind="home_refresh", payload={}, idempotency_key=f"home_refresh:{action.id}:v{action.version}",
                  now=now)
    return Decision(
        outcome="figures_changed", action_id=action.id, option_id=None, approvals_given=approvals,
        approvals_required=action.approvals_required, decided_by="Tamio", decided_at=now, message=freshness.FIGURES_CHANGED,
        status=action.status.value, replaced_by=fresh.id if fresh else None,
    )


async def _admin_ids(db: AsyncSession, account_id: str) -> set[str]:
    stmt = select(Member.id).where(Member.user_id == account_id, Member.role == Role.ADMIN)
    return set((await db.execute(stmt)).scalars().all())


async def _approver_names(db: AsyncSession, action_id: str) -> list[str]:
    rows = (
        await db.execute(
            select(Member).join(ActionApproval, ActionApproval.member_id == Member.id).where(ActionApproval.action_id == action_id)
            .order_by(ActionApproval.created_at, ActionApproval.id)
        )
    ).scalars().all()
    return [member_label(m) for m in rows]


async def _draft_for(
    db: AsyncSession, *, account: Account, action: PreparedAction, option: ActionOption,
    edited_subject: str | None, edited_body: str | None, edits: dict[str, str | None],
) -> tuple[dict[str, str | None], dict[str, Any] | None]:
    """The action's edited subject/body once ``option`` is approved, and the edit it drops (if any).

    A saved edit was made for one option's message: approving another option drops it (it would
    otherwise go out under that option, to its recipient). A subject or body passed with the
    approval is for the approved option and replaces the saved one (the option's own draft text
    passed back means "unedited").
    """
    values: dict[str, str | None] = {}
    discarded: dict[str, Any] | None = None
    if action.edited_subject or action.edited_body:
        edited_for = (await edited_options(db, account_id=account.id, actions=[action])).get(action.id)
        if edited_for is not None and edited_for != option.id:
            values = {"edited_subject": None, "edited_body": None}
            discarded = {"option_id": edited_for, "subject": action.edited_subject, "body": action.edited_body}
    if edited_subject is not None:
        values["edited_subject"] = edits.get("edited_subject")
    if edited_body is not None:
        values["edited_body"] = edits.get("edited_body")
    return values, discarded


def _edits(option: ActionOption, subject: str | None, body: str | None) -> dict[str, str | None]:
    """The approver's changes to the drafted message, when they changed it."""
    subject = subject.strip() if subject is not None else None
    body = body.strip() if body is not None else None
    changed: dict[str, str | None] = {}
    if subject is not None and subject != (option.draft_subject or "").strip():
        changed["edited_subject"] = subject
    if body is not None and body != (option.draft_body or "").strip():
        changed["edited_body"] = body
    if changed and option.draft_subject is None and option.draft_body is None:
        raise ValidationError(f"Option {option.rank} sends no message, so there is no draft to edit.", field_errors={"edited_body": "this option has no draft"})
    if changed.get("edited_subject") == "" or changed.get("edited_body") == "":
        raise ValidationError("An edited message needs a subject and a body.", field_errors={"edited_body": "must not be empty"})
    if "edited_subject" in changed and len(subject or "") > 300:
        raise ValidationError("A subject has at most 300 characters.", field_errors={"edited_subject": "at most 300 characters"})
    return changed


async def skip(
    db: AsyncSession, *, account: Account, member: Member, action_id: str, now: datetime, reason: str | None = None
) -> Decision:
    """Decide not to do it; the action stays visible as skipped, with who and why."""
    _check_member(account, member)
    for _ in range(CAS_TRIES):
        action = await load_action(db, account_id=account.id, action_id=action_id)
        policy.check_can_decide(member.role, action_type=action.action_type.value, requires_admin=action.requires_admin, doing="skip")
        if action.status != ActionStatus.PENDING or _is_expired(action, now):
            raise await already_decided(db, account=account, action=action, member=member, now=now)
        result = dict(action.execution_result or {})
        if reason:
            result["reason"] = reason.strip()[:500]
        won = await compare_and_set(
            db, action, to=ActionStatus.SKIPPED, now=now, decided_by_member_id=member.id, decided_at=now, execution_result=result
        )
        if not won:
            continue
        approvals = await approvals_of(db, action_id=action.id)
        await record_transition(
            db, action=action, event="skipped", from_status=ActionStatus.PENDING, actor=Actor.member(member), now=now,
            result={"reason": reason} if reason else {},
        )
        who = member_label(member)
        return Decision(
            outcome="skipped", action_id=action.id, option_id=None, approvals_given=len(approvals),
            approvals_required=action.approvals_required, decided_by=who, decided_at=now,
            message=f"{who} skipped this" + (f": {reason.strip()}" if reason else ".") + ("" if reason else " Nothing will be done."),
            decided_by_member_id=member.id, status=action.status.value,
        )
    raise Conflict("This action kept changing while you skipped it; refresh it and try again.")


async def retry(db: AsyncSession, *, account: Account, member: Member, action_id: str, now: datetime) -> Decision:
    """Try a failed action again from the first attempt (after fixing what made it fail)."""
    _check_member(account, member)
    action = await load_action(db, account_id=account.id, action_id=action_id)
    policy.check_can_decide(member.role, action_type=action.action_type.value, requires_admin=action.requires_admin, doing="retry")
    if action.status != ActionStatus.FAILED:
        raise Conflict(f"Only a failed action can be retried; this one is {action.status.value}.")
    error = action.last_error
    if not await compare_and_set(db, action, to=ActionStatus.APPROVED, now=now, attempts=0, next_attempt_at=None, last_error=None):
        raise Conflict("Someone retried this action at the same time; refresh it.")
    await record_transition(
        db, action=action, event="retry_requested", from_status=ActionStatus.FAILED, actor=Actor.member(member), now=now,
        option_id=action.chosen_option_id, result={"previous_error": error} if error else {},
    )
    who = member_label(member)
    return Decision(
        outcome="retrying", action_id=action.id, option_id=action.chosen_option_id, approvals_given=0,
        approvals_required=action.approvals_required, decided_by=who, decided_at=now,
        message=f"{who} asked Tamio to try again; it will carry it out now.", decided_by_member_id=member.id, status=action.status.value,
    )

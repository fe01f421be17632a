"""Carrying out approved actions: approved -> executing -> executed | failed, safely repeatable.

``execute_action`` runs one attempt in its own short transactions:

1. claim: compare-and-set ``approved -> executing`` (or take over an ``executing`` action whose
   lease or retry time has passed), ``attempts + 1``, ``next_attempt_at = now + LEASE``;
2. external effects: each email is sent at most once per idempotency key (``mail.send_once``:
   the ledger row is committed before the message is handed to SMTP);
3. finish: compare-and-set ``executing -> executed`` *and* the executor's database effects in one
   transaction, so they commit together or not at all, and only for the claim that started them;
   in the same transaction the other open actions that touch the same payment, credit line or
   invoice are superseded (``conflicts``), so no effect happens twice.

Every transition writes the outbox rows that update the card in Slack (``transitions``): a crash
after the finish leaves the card to be updated by the outbox, never on "Carrying it out...".

A failure is recorded with its error (``attempt_failed``) and retried with exponential backoff
(1, 2, 4, 8 minutes) up to ``MAX_ATTEMPTS``; then, or at once for an error retrying cannot fix
(``ExecutionProblem``, any ``TamioError``, a 5xx from the mail server), the action is ``failed``
with ``last_error`` for everyone to see. ``resume_pending_executions`` (a job) picks up approved
actions not yet started, retries that are due, and actions left ``executing`` by a process that
died (its lease passed); resuming never repeats an effect that already happened.

    outcome = await execute_action(sessions, account_id=account.id, action_id=action.id, now=now, settings=settings)
    outcomes = await resume_pending_executions(sessions, now, settings=settings)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.accounts.models import Account
from tamio.accounts.service import get_account
from tamio.audit.service import to_jsonable
from tamio.config import Settings
from tamio.errors import TamioError
from tamio.execution.conflicts import lock_conflicts, supersede_conflicts
from tamio.execution.executors import ExecutionContext, ExecutionProblem, OutgoingEmail, executor_for
from tamio.execution.mail import MAIL_ERRORS, EmailSender, SmtpEmailSender, is_permanent, send_once
from tamio.execution.queries import edited_options, edits_for
from tamio.execution.transitions import Actor, compare_and_set, load_action, load_option, record_transition
from tamio.preparation.models import ActionStatus, PreparedAction

log = logging.getLogger("tamio.execution")

MAX_ATTEMPTS = 5
FIRST_BACKOFF = timedelta(minutes=1)
MAX_BACKOFF = timedelta(hours=1)
LEASE = timedelta(minutes=5)  # an attempt still "executing" after this is taken to have died


def backoff(attempt: int) -> timedelta:
    """The wait after failed attempt ``attempt`` (1-based): 1, 2, 4, 8 ... minutes, at most an hour."""
    return min(MAX_BACKOFF, FIRST_BACKOFF * int(2 ** max(0, attempt - 1)))


@dataclass(frozen=True)
class ExecutionOutcome:
    action_id: str
    status: str  # executed | failed | executing (retry scheduled or in progress) | approved | ...
    attempts: int
    message: str
    error: str | None = None
    next_attempt_at: datetime | None = None
    result: dict[str, Any] = field(default_factory=dict)
    ran: bool = False  # whether this call made an attempt


def _outcome(action: PreparedAction, message: str, *, ran: bool = False) -> ExecutionOutcome:
    return ExecutionOutcome(
        action_id=action.id, status=action.status.value, attempts=action.attempts, message=message, error=action.last_error,
        next_attempt_at=action.next_attempt_at, result=dict(action.execution_result or {}), ran=ran,
    )


def _today(account: Account, now: datetime) -> Any:
    return now.astimezone(ZoneInfo(account.timezone)).date()


def _due(action: PreparedAction, now: datetime) -> bool:
    if action.status == ActionStatus.APPROVED:
        return action.next_attempt_at is None or action.next_attempt_at <= now
    return action.status == ActionStatus.EXECUTING and action.next_attempt_at is not None and action.next_attempt_at <= now


async def _context(db: AsyncSession, *, account_id: str, action_id: str, settings: Settings, now: datetime) -> ExecutionContext:
    account = await get_account(db, account_id=account_id)
    action = await load_action(db, account_id=account_id, action_id=action_id)
    if action.chosen_option_id is None:
        raise ExecutionProblem("This action was approved without an option, so there is nothing to carry out.")
    option = await load_option(db, action=action, option_id=action.chosen_option_id)
    edited_for = (await edited_options(db, account_id=account_id, actions=[action])).get(action.id)
    subject, body = edits_for(action, option, edited_for)
    return ExecutionContext(db=db, account=account, action=action, option=option, settings=settings, now=now, today=_today(account, now),
                            edited_subject=subject, edited_body=body)


async def _finish(ctx: ExecutionContext, *, attempt: int, emails: list[dict[str, Any]]) -> bool:
    """``executing -> executed``, the database effects, and superseding the actions that touch the
    same things (``conflicts``), in the caller's transaction."""
    action = ctx.action
    conflicts = await lock_conflicts(ctx.db, account_id=ctx.account.id, action=action, option=ctx.option)
    if not await compare_and_set(ctx.db, action, to=ActionStatus.EXECUTING, now=ctx.now):
        return False  # prove the claim is still ours (not taken over, not superseded) before changing anything
    effects = await executor_for(ctx.option.kind).apply(ctx, dict(ctx.option.params or {}))
    superseded = await supersede_conflicts(ctx.db, action=action, conflicts=conflicts, now=ctx.now)
    if superseded:
        effects = {**effects, "superseded": superseded}
    result = to_jsonable({**(action.execution_result or {}), "effects": effects, "emails": emails})
    if not await compare_and_set(
        ctx.db, action, to=ActionStatus.EXECUTED, now=ctx.now, executed_at=ctx.now, next_attempt_at=None, last_error=None,
        execution_result=result,
    ):  # cannot happen while we hold the row; if it does, the effects must not commit
        raise RuntimeError(f"lost the claim on action {action.id} after applying its effects; rolled back")
    await record_transition(
        ctx.db, action=action, event="executed", from_status=ActionStatus.EXECUTING, actor=Actor.system(), now=ctx.now,
        option_id=ctx.option.id, attempt=attempt, result={"effects": effects, "emails": emails}, audit_action="execute",
    )
    return True


async def execute_action(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    account_id: str,
    action_id: str,
    now: datetime,
    settings: Settings,
    smtp: EmailSender | None = None,
) -> ExecutionOutcome:
    """Make one attempt at carrying out an approved action (see the module docstring)."""
    sender = smtp or SmtpEmailSender(settings)
    async with session_factory() as db, db.begin():
        action = await load_action(db, account_id=account_id, action_id=action_id)
        if not _due(action, now):
            return _outcome(action, _not_due_message(action))
        attempt = action.attempts + 1
        before = action.status
        if not await compare_and_set(db, action, to=ActionStatus.EXECUTING, now=now, attempts=attempt, next_attempt_at=now + LEASE):
            return _outcome(await load_action(db, account_id=account_id, action_id=action_id), "Someone else is carrying it out.")
        await record_transition(
            db, action=action, event="executing", from_status=before, actor=Actor.system(), now=now,
            option_id=action.chosen_option_id, attempt=attempt, audit_action="execute",
        )
        claimed_version = action.version
    try:
        async with session_factory() as db, db.begin():
            ctx = await _context(db, account_id=account_id, action_id=action_id, settings=settings, now=now)
            planned: list[OutgoingEmail] = await executor_for(ctx.option.kind).emails(ctx, dict(ctx.option.params or {}), path="0")
            option_id = ctx.option.id
        emails = [
            await send_once(
                session_factory, account_id=account_id, action_id=action_id, option_id=option_id, email=email,
                sender=sender, settings=settings, now=now, attempt=attempt,
            )
            for email in planned
        ]
        async with session_factory() as db, db.begin():
            ctx = await _context(db, account_id=account_id, action_id=action_id, settings=settings, now=now)
            if ctx.action.status != ActionStatus.EXECUTING or ctx.action.version != claimed_version:
                return _outcome(ctx.action, _lost(ctx.action))
            if not await _finish(ctx, attempt=attempt, emails=emails):
                current = await load_action(db, account_id=account_id, action_id=action_id)
                return _outcome(current, _lost(current))
            return _outcome(ctx.action, _done_message(ctx), ran=True)
    except Exception as exc:
        expected = isinstance(exc, (TamioError, *MAIL_ERRORS))  # said in one line: no traceback on stderr
        log.warning("action %s attempt %s failed: %r", action_id, attempt, exc, exc_info=not expected)
        return await _record_failure(session_factory, account_id=account_id, action_id=action_id, now=now, attempt=attempt,
                                     claimed_version=claimed_version, exc=exc)


def _lost(action: PreparedAction) -> str:
    """Why this attempt does not count: another action took effect first, or another worker took it over."""
    if action.status == ActionStatus.SUPERSEDED:
        reason = (action.execution_result or {}).get("reason")
        return "It was superseded" + (f": {reason}." if reason else ".")
    return "Another worker took this attempt over; its result stands."


def _error_text(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, TamioError) else f"{type(exc).__name__}: {exc}"


async def _record_failure(
    session_factory: async_sessionmaker[AsyncSession], *, account_id: str, action_id: str, now: datetime, attempt: int,
    claimed_version: int, exc: BaseException,
) -> ExecutionOutcome:
    error = _error_text(exc)[:2000]
    permanent = isinstance(exc, TamioError) or is_permanent(exc)
    async with session_factory() as db, db.begin():
        action = await load_action(db, account_id=account_id, action_id=action_id)
        if action.status != ActionStatus.EXECUTING or action.version != claimed_version:
            return _outcome(action, _lost(action))
        if permanent or attempt >= MAX_ATTEMPTS:
            won = await compare_and_set(db, action, to=ActionStatus.FAILED, now=now, next_attempt_at=None, last_error=error)
            event = "failed"
            why = "it cannot be carried out as it stands" if permanent else f"it failed {attempt} times"
            message = f"Tamio could not carry this out ({why}): {error}"
        else:
            retry_at = now + backoff(attempt)
            won = await compare_and_set(db, action, to=ActionStatus.EXECUTING, now=now, next_attempt_at=retry_at, last_error=error)
            event = "attempt_failed"
            message = f"Attempt {attempt} of {MAX_ATTEMPTS} failed ({error}); Tamio will try again at {retry_at:%H:%M} UTC."
        if not won:
            return _outcome(action, _lost(action))
        await record_transition(
            db, action=action, event=event, from_status=ActionStatus.EXECUTING, actor=Actor.system(), now=now,
            option_id=action.chosen_option_id, attempt=attempt, error=error, audit_action="execute",
            result={"permanent": permanent, "next_attempt_at": action.next_attempt_at},
        )
        return _outcome(action, message, ran=True)


def _not_due_message(action: PreparedAction) -> str:
    if action.status == ActionStatus.EXECUTED:
        return "It was already carried out."
    if action.status == ActionStatus.FAILED:
        return f"It failed: {action.last_error}. An approver can retry it."
    if action.status == ActionStatus.EXECUTING:
        return "It is being carried out, or waits for its next try."
    if action.status == ActionStatus.APPROVED:
        return "Its next try is not due yet."
    return f"It is {action.status.value}, not approved."


def _done_message(ctx: ExecutionContext) -> str:
    how = "Done automatically" if ctx.action.auto_executed else "Done"
    return f"{how}: {ctx.option.title}."


async def execute_in_session(db: AsyncSession, *, account: Account, action: PreparedAction, now: datetime, settings: Settings) -> ExecutionOutcome | None:
    """Carry out an approved action inside the caller's transaction when it has no emails to send.

    For automation in the pipeline: the effects commit with the caller's transaction. Returns
    ``None`` (the action stays approved for ``execute_action`` after the commit) when the option
    sends email, or when the attempt fails (a savepoint undoes it; the retry path records why).
    """
    if action.status != ActionStatus.APPROVED:
        return None
    try:
        async with db.begin_nested():
            ctx = await _context(db, account_id=account.id, action_id=action.id, settings=settings, now=now)
            executor = executor_for(ctx.option.kind)
            if await executor.emails(ctx, dict(ctx.option.params or {}), path="0"):
                raise _HasEmails
            if not await compare_and_set(db, ctx.action, to=ActionStatus.EXECUTING, now=now, attempts=1, next_attempt_at=now + LEASE):
                raise _HasEmails
            await record_transition(
                db, action=ctx.action, event="executing", from_status=ActionStatus.APPROVED, actor=Actor.system(), now=now,
                option_id=ctx.option.id, attempt=1, audit_action="execute",
            )
            if not await _finish(ctx, attempt=1, emails=[]):
                raise _HasEmails
    except Exception as exc:
        if not isinstance(exc, _HasEmails):
            log.warning("inline execution of %s failed, left for the executor: %r", action.id, exc)
        await db.refresh(action)  # the savepoint's rollback expired what it had changed
        return None
    return _outcome(ctx.action, _done_message(ctx), ran=True)


class _HasEmails(Exception):
    """Leave the savepoint: this one is carried out outside the caller's transaction."""


async def resume_pending_executions(
    session_factory: async_sessionmaker[AsyncSession],
    now: datetime,
    *,
    settings: Settings,
    smtp: EmailSender | None = None,
    account_id: str | None = None,
    limit: int = 200,
) -> list[ExecutionOutcome]:
    """Start approved actions, run due retries, and take over attempts whose process died."""
    stmt = (
        select(PreparedAction.user_id, PreparedAction.id)
        .where(
            or_(
                and_(
                    PreparedAction.status == ActionStatus.APPROVED,
                    or_(PreparedAction.next_attempt_at.is_(None), PreparedAction.next_attempt_at <= now),
                ),
                and_(PreparedAction.status == ActionStatus.EXECUTING, PreparedAction.next_attempt_at <= now),
            )
        )
        .order_by(PreparedAction.updated_at, PreparedAction.id)
        .limit(limit)
    )
    if account_id is not None:
        stmt = stmt.where(PreparedAction.user_id == account_id)
    async with session_factory() as db:
        due = (await db.execute(stmt)).all()
    sender = smtp or SmtpEmailSender(settings)
    outcomes = []
    for owner, action_id in due:
        try:
            outcomes.append(
                await execute_action(session_factory, account_id=owner, action_id=action_id, now=now, settings=settings, smtp=sender)
            )
        except Exception:  # one action's trouble must not stop the others
            log.exception("resuming action %s failed", action_id)
    return outcomes

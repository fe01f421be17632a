"""What an option that emails someone needs before it can be approved: SMTP settings, and the recipient's address.

Asked before approval, so a chase that cannot be sent is never accepted and then failing: the card
says what is missing (and offers to add the address), and ``lifecycle.approve`` refuses with the same
words in Slack, the REST API and the CLI. What an option would send is worked out by its executor
(``Executor.emails``), exactly as carrying it out does, without writing anything.

    need = await email_need(db, account=account, action=action, option=option, settings=settings, now=now)
    need.message   # 'Tamio cannot send email yet: this server has no SMTP settings (SMTP_HOST).'
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account
from tamio.config import Settings
from tamio.errors import Conflict, NotFound
from tamio.execution.executors import executor_for
from tamio.execution.executors.base import ExecutionContext, ExecutionProblem
from tamio.execution.executors.email import NoRecipient
from tamio.execution.transitions import show_in_slack
from tamio.execution.views import ActionView, EmailNeed
from tamio.obligations.counterparties import CounterpartyService, get_client, get_expense, read_email
from tamio.outbox.service import enqueue
from tamio.preparation.models import ActionOption, ActionStatus, PreparedAction

NO_SMTP = "Tamio cannot send email yet: this server has no SMTP settings (SMTP_HOST)."
NO_SMTP_HINT = "Set SMTP_HOST (and SMTP_PORT, SMTP_USERNAME, SMTP_PASSWORD, SMTP_SENDER) where Tamio runs, or choose an option that sends nothing."


class CannotSend(Conflict):
    """Approving an option whose email cannot go out: refused, saying what it needs."""

    title = "Cannot send"


async def email_need(
    db: AsyncSession, *, account: Account, action: PreparedAction, option: ActionOption, settings: Settings, now: datetime,
) -> EmailNeed | None:
    """What ``option`` needs before its emails can go out, or None (it sends none, or all it needs is there)."""
    ctx = ExecutionContext(db=db, account=account, action=action, option=option, settings=settings, now=now,
                           today=now.astimezone(ZoneInfo(account.timezone)).date())
    try:
        emails = await executor_for(option.kind).emails(ctx, dict(option.params or {}), path="0")
    except NoRecipient as exc:
        kind, ident = ("client", exc.client_id) if exc.client_id else ("expense", exc.vendor_id)
        return EmailNeed(option.id, "address", f"{exc.name} has no email address, so this message cannot be sent.",
                         hint="Add their address, then approve.", counterparty_type=kind if ident else None,
                         counterparty_id=ident, counterparty_name=exc.name)
    except ExecutionProblem as exc:
        return EmailNeed(option.id, "draft", exc.message, hint=exc.hint or "")
    if emails and not settings.email_configured:
        return EmailNeed(option.id, "smtp", NO_SMTP, hint=NO_SMTP_HINT)
    return None


async def email_needs(
    db: AsyncSession, *, account: Account, action: PreparedAction, options: Sequence[ActionOption], settings: Settings, now: datetime,
) -> dict[str, EmailNeed]:
    found: dict[str, EmailNeed] = {}
    for option in options:
        need = await email_need(db, account=account, action=action, option=option, settings=settings, now=now)
        if need is not None:
            found[option.id] = need
    return found


async def with_email_needs(
    db: AsyncSession, views: list[ActionView], *, account: Account, settings: Settings, now: datetime,
) -> list[ActionView]:
    """What each pending action's email options need before approval, on its view (the card, App Home)."""
    for view in views:
        if view.action.status == ActionStatus.PENDING:
            view.needs = await email_needs(db, account=account, action=view.action, options=view.options, settings=settings, now=now)
    return views


async def check_sendable(
    db: AsyncSession, *, account: Account, action: PreparedAction, option: ActionOption, settings: Settings, now: datetime,
) -> None:
    """Refuse (``CannotSend``) to approve an option whose emails cannot go out."""
    need = await email_need(db, account=account, action=action, option=option, settings=settings, now=now)
    if need is not None and need.missing != "draft":
        raise CannotSend(f"{need.message} Nothing was approved.", hint=need.hint)


async def add_missing_address(
    db: AsyncSession, *, account: Account, settings: Settings, action: PreparedAction, email: str, actor: str, now: datetime,
) -> tuple[str, str]:
    """The address an option of ``action`` lacked, set on its client or vendor through the core's contact
    function (audited; an integration that owns it refuses); the action's card is shown again. Returns
    (name, address)."""


    address = read_email(email)
    options = list((await db.execute(select(ActionOption).where(ActionOption.action_id == action.id).order_by(ActionOption.rank))).scalars())
    needs = await email_needs(db, account=account, action=action, options=options, settings=settings, now=now)
    need = next((n for n in needs.values() if n.missing == "address" and n.counterparty_id), None)
    if need is None or need.counterparty_id is None:
        raise NotFound("None of this action's options is waiting for an email address.")
    entity = (await get_client(db, account_id=account.id, client_id=need.counterparty_id) if need.counterparty_type == "client"
              else await get_expense(db, account_id=account.id, expense_id=need.counterparty_id))
    today = now.astimezone(ZoneInfo(account.timezone)).date()
    service = CounterpartyService(db, account=account, settings=settings, today=today, actor=actor, now=now)
    await service.set_contact(entity, email=address)
    await show_in_slack(db, action=action, now=now)  # version unchanged: keyed again below so the card shows the address
    await enqueue(db, account_id=account.id, kind="card_update", payload={"action_id": action.id},
                  idempotency_key=f"card_update:{action.id}:contact:{now.isoformat()}", now=now)
    return entity.name, address

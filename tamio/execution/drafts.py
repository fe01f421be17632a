"""Editing the drafted message of a pending action: one core flow for Slack, the REST API and the CLI.

The approver's subject and body replace the option's drafted ones on the action (an edit is made
for one option's message; approving another option drops it, see ``lifecycle.approve``). The
change is a compare-and-set on the action's version, so it cannot overwrite a decision made
meanwhile; it is recorded as a ``draft_edited`` transition, which also queues the card's update
in Slack in the same transaction.

    decision = await edit_draft(db, account=account, member=maria, action_id=action.id, option_id=option.id,
                                subject="Invoice INV-1", body="Hi Sam, ...", now=now)
    decision.outcome   # "draft_edited"
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account, Member
from tamio.errors import Conflict, PermissionDenied, ValidationError
from tamio.execution import policy
from tamio.execution.lifecycle import Decision, already_decided, approvals_of
from tamio.execution.transitions import (
    Actor,
    compare_and_set,
    load_action,
    load_options,
    member_label,
    record_transition,
)
from tamio.preparation.models import ActionOption, ActionStatus

MAX_SUBJECT = 300


async def edit_draft(
    db: AsyncSession,
    *,
    account: Account,
    member: Member,
    action_id: str,
    subject: str,
    body: str,
    now: datetime,
    option_id: str | None = None,
) -> Decision:
    """Save an edited subject and body for ``option_id`` (default: the first option with a draft)."""
    if member.user_id != account.id:
        raise PermissionDenied("You are not a member of this account.", hint="Ask an admin to add you.")
    subject, body = (subject or "").strip(), (body or "").strip()
    errors = {}
    if not subject:
        errors["edited_subject"] = "A message needs a subject."
    elif len(subject) > MAX_SUBJECT:
        errors["edited_subject"] = f"A subject has at most {MAX_SUBJECT} characters."
    if not body:
        errors["edited_body"] = "A message needs a body."
    if errors:
        raise ValidationError(" ".join(errors.values()), field_errors=errors)
    action = await load_action(db, account_id=account.id, action_id=action_id)
    policy.check_can_decide(member.role, action_type=action.action_type.value, requires_admin=action.requires_admin,
                            doing="edit the draft of")
    if action.status != ActionStatus.PENDING or (action.expires_at is not None and action.expires_at <= now):
        raise await already_decided(db, account=account, action=action, member=member, now=now)
    option = await _option(db, action_id=action.id, option_id=option_id)
    edited_subject = subject if subject != (option.draft_subject or "").strip() else None
    edited_body = body if body != (option.draft_body or "").strip() else None
    if not await compare_and_set(db, action, to=ActionStatus.PENDING, now=now, edited_subject=edited_subject, edited_body=edited_body):
        raise Conflict("Someone changed this action while you edited it; open it again.")
    await record_transition(db, action=action, event="draft_edited", from_status=ActionStatus.PENDING, actor=Actor.member(member),
                            now=now, option_id=option.id,
                            result={"subject": edited_subject, "body_changed": edited_body is not None, "version": action.version})
    who = member_label(member)
    changed = edited_subject is not None or edited_body is not None
    return Decision(
        outcome="draft_edited", action_id=action.id, option_id=option.id, approvals_given=len(await approvals_of(db, action_id=action.id)),
        approvals_required=action.approvals_required, decided_by=who, decided_at=now,
        message=(f"{who} saved an edited draft for option {option.rank}; it will be sent as written when the action is approved."
                 if changed else f"The draft of option {option.rank} is back to what Tamio wrote."),
        decided_by_member_id=member.id, status=action.status.value,
    )


async def _option(db: AsyncSession, *, action_id: str, option_id: str | None) -> ActionOption:
    """The option named, or the first one that sends a message; one without a draft cannot be edited."""
    options = await load_options(db, action_id=action_id)
    option = next((o for o in options if o.id == option_id), None) if option_id else None
    if option_id and option is None:
        raise ValidationError(f"`{option_id}` is not one of the options of this action.",
                              field_errors={"option_id": "choose one of the options shown on its card"})
    if option is None or (option.draft_body is None and option.draft_subject is None):
        if option is not None:
            raise ValidationError(f"Option {option.rank} sends no message, so there is no draft to edit.",
                                  field_errors={"edited_body": "this option has no draft"})
        option = next((o for o in options if o.draft_body or o.draft_subject), None)
    if option is None:
        raise ValidationError("This action sends no message, so there is no draft to edit.",
                              field_errors={"edited_body": "this action has no draft"})
    return option

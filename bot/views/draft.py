"""Saving an edited draft: the approver's subject and body replace the drafted ones on the action.

The action must still be pending and belong to the account of the verified request; the change is
a compare-and-set on the action's version (so it cannot overwrite a decision made meanwhile), is
recorded as a ``draft_edited`` transition, and updates the card in place through the outbox.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.actions.cards import card_in_account, friendly, refresh_everywhere
from bot.blocks.draft_form import DRAFT_CALLBACK
from bot.blocks.review import review_form
from bot.boundary import FieldErrors, handler, tell
from bot.runtime import Scope
from tamio.errors import Conflict, PermissionDenied
from tamio.execution import lifecycle, policy
from tamio.execution.transitions import Actor, compare_and_set, record_transition
from tamio.preparation.models import ActionStatus


def _text(view: dict[str, Any], block_id: str) -> str:
    element = ((view.get("state") or {}).get("values") or {}).get(block_id, {}).get(block_id) or {}
    value = element.get("value")
    return value.strip() if isinstance(value, str) else ""


@handler
async def save_draft(scope: Scope, body: dict[str, Any], client: AsyncWebClient) -> FieldErrors | None:
    view = body.get("view") or {}
    meta = json.loads(view.get("private_metadata") or "{}")
    subject, text = _text(view, "edited_subject"), _text(view, "edited_body")
    errors = {}
    if not subject:
        errors["edited_subject"] = "A message needs a subject."
    if not text:
        errors["edited_body"] = "A message needs a body."
    if errors:
        return FieldErrors(errors)
    card = await card_in_account(scope, str(meta.get("action_id") or ""))
    if scope.member is None:
        raise PermissionDenied("I couldn't tell who you are.")
    action = card.action
    policy.check_can_decide(scope.member.role, action_type=action.action_type.value, requires_admin=action.requires_admin,
                            doing="edit the draft of")
    if action.status != ActionStatus.PENDING:
        raise friendly(await lifecycle.already_decided(scope.db, account=scope.account, action=action, member=scope.member, now=scope.now),
                       scope.caller.user_id)
    option = card.option(str(meta.get("option_id") or ""))
    if option is None:
        option = next((o for o in card.options if o.draft_body or o.draft_subject), None)
    if option is None:
        return FieldErrors({"edited_body": "This action sends no message, so there is no draft to edit."})
    edited_subject = subject if subject != (option.draft_subject or "").strip() else None
    edited_body = text if text != (option.draft_body or "").strip() else None
    if not await compare_and_set(scope.db, action, to=ActionStatus.PENDING, now=scope.now,
                                 edited_subject=edited_subject, edited_body=edited_body):
        raise Conflict("Someone changed this action while you edited it; open it again.")
    await record_transition(scope.db, action=action, event="draft_edited", from_status=ActionStatus.PENDING,
                            actor=Actor.member(scope.member), now=scope.now, option_id=option.id,
                            result={"subject": edited_subject, "body_changed": edited_body is not None, "version": action.version})
    await refresh_everywhere(scope, action.id)
    # The Edit draft click's response URL (kept in the modal's metadata) answers where the card is, even
    # where Tamio is not a member; without one, the note goes ephemerally or to the DM (bot.replies).
    caller = replace(scope.caller, channel_id=meta.get("channel") or None, response_url=meta.get("response_url") or None)
    note = ":pencil2: Draft saved. It will be sent as you wrote it when the action is approved."
    scope.after_commit(lambda: tell(caller, client, note))
    review_view_id = meta.get("view_id")
    if review_view_id:
        async def update_review(later: Scope) -> None:
            fresh = await card_in_account(later, action.id)
            await later.commit()
            await later.client.views_update(view_id=review_view_id, view=review_form(fresh, today=later.today))

        scope.later(update_review, name="update-review")
    return None


def register(app: AsyncApp) -> None:
    app.view(DRAFT_CALLBACK)(save_draft)

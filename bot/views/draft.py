"""Saving an edited draft: the approver's subject and body replace the drafted ones on the action.

The action must belong to the account of the verified request; the rest is the core flow
``tamio.execution.drafts.edit_draft`` (still pending, a compare-and-set on the version, a
``draft_edited`` transition whose outbox rows update the card in place), as for the API and CLI.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.actions.cards import card_in_account, friendly
from bot.blocks.draft_form import DRAFT_CALLBACK
from bot.blocks.review import review_form
from bot.boundary import FieldErrors, handler, tell
from bot.runtime import Scope
from tamio.errors import PermissionDenied, ValidationError
from tamio.execution import lifecycle
from tamio.execution.drafts import edit_draft


def _text(view: dict[str, Any], block_id: str) -> str:
    element = ((view.get("state") or {}).get("values") or {}).get(block_id, {}).get(block_id) or {}
    value = element.get("value")
    return value.strip() if isinstance(value, str) else ""


@handler
async def save_draft(scope: Scope, body: dict[str, Any], client: AsyncWebClient) -> FieldErrors | None:
    view = body.get("view") or {}
    meta = json.loads(view.get("private_metadata") or "{}")
    subject, text = _text(view, "edited_subject"), _text(view, "edited_body")
    card = await card_in_account(scope, str(meta.get("action_id") or ""))
    if scope.member is None:
        raise PermissionDenied("I couldn't tell who you are.")
    option = card.option(str(meta.get("option_id") or ""))
    try:
        await edit_draft(scope.db, account=scope.account, member=scope.member, action_id=card.action.id,
                         option_id=option.id if option else None, subject=subject, body=text, now=scope.now)
    except lifecycle.AlreadyDecided as exc:
        raise friendly(exc, scope.caller.user_id) from exc
    except ValidationError as exc:
        if exc.field_errors:
            return FieldErrors(exc.field_errors)
        raise
    action = card.action
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

"""Clicks on action cards: Approve, Skip, Edit draft, Retry, Review, and choosing an option.

A button's value is an action id, but the action is always looked up in the account of the
verified request: a click from another workspace carrying this workspace's id finds nothing and
changes nothing. Each listener makes one core call (``tamio.execution.lifecycle``), which writes
the decision and the outbox rows that update the card in place and refresh App Home in one
transaction, as it does for the REST API, the CLI, automation and the scheduler; an approved
action is then carried out after the ack (``tamio.execution.service.execute_action``), and each of
its transitions updates the card again.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.add_form import form_values
from bot.blocks.card import (
    ADD_CONTACT,
    APPROVE,
    CHOOSE,
    CONTACT_CALLBACK,
    EDIT_DRAFT,
    RETRY,
    REVIEW,
    SKIP,
    VENDOR_AGREED,
    card_blocks,
    card_text,
    contact_form,
    default_option,
    is_options_block,
)
from bot.blocks.common import cut, escape, section, slack_moment
from bot.blocks.draft_form import draft_form
from bot.blocks.review import REVIEW_CALLBACK, review_form
from bot.boundary import FieldErrors, handler, tell
from bot.queries import CardData, load_card
from bot.replies import send_to_response_url
from bot.runtime import Scope
from tamio.accounts.permissions import Operation
from tamio.errors import Conflict, LockedField, NotFound, PermissionDenied, TamioError, ValidationError
from tamio.execution import lifecycle, policy
from tamio.execution.delays import agree_delay
from tamio.execution.readiness import add_missing_address, with_email_needs
from tamio.execution.service import execute_action
from tamio.preparation.models import ActionStatus

log = logging.getLogger("tamio.bot")


def clicked_action_id(body: dict[str, Any]) -> str:
    action = (body.get("actions") or [{}])[0]
    return str(action.get("value") or "")


async def card_in_account(scope: Scope, action_id: str) -> CardData:
    await scope.fresh()  # decisions use the member's role and the account's thresholds as they are now
    card = await load_card(scope.db, account_id=scope.account.id, action_id=action_id) if action_id else None
    if card is None:
        raise NotFound("That action isn't in this workspace's Tamio account.", hint="Open App Home to see the actions waiting for you.")
    return card


def chosen_option_id(body: dict[str, Any], card: CardData) -> str | None:
    """The option picked on the card (message or modal state), else the card's default."""
    states = [(body.get("state") or {}).get("values") or {}, ((body.get("view") or {}).get("state") or {}).get("values") or {}]
    for values in states:
        for block_id, elements in values.items():
            if not is_options_block(block_id, card.action.id):
                continue
            selected = ((elements or {}).get(CHOOSE) or {}).get("selected_option") or {}
            if selected.get("value"):
                return str(selected["value"])
    option = default_option(card)
    return option.id if option else None


def friendly(error: lifecycle.AlreadyDecided, user_id: str | None) -> TamioError:
    """The lifecycle's "already decided" in Slack's words: a mention and a time in the reader's zone."""
    if not error.decided_by_slack_user_id or error.decided_at is None:
        return error
    who = "You" if error.decided_by_slack_user_id == user_id else f"<@{error.decided_by_slack_user_id}>"
    return lifecycle.AlreadyDecided(
        f"{who} already {error.outcome} this {slack_moment(error.decided_at)}.", action_id=error.action_id,
        outcome=error.outcome, decided_by=error.decided_by, decided_at=error.decided_at,
        decided_by_member_id=error.decided_by_member_id, decided_by_slack_user_id=error.decided_by_slack_user_id,
    )


def update_clicked_copy(scope: Scope, body: dict[str, Any], action_id: str) -> None:
    """The clicked message, when it is not the channel card (the copy from `/tamio actions`), or the review modal."""
    container = body.get("container") or {}
    response_url = body.get("response_url")

    async def work(later: Scope) -> None:
        card = await card_in_account(later, action_id)
        await later.commit()
        if container.get("type") == "view" and container.get("view_id") and (body.get("view") or {}).get("type") == "modal":
            await later.client.views_update(view_id=container["view_id"], view=review_form(card, today=later.today))
        elif response_url and container.get("message_ts") != card.action.slack_message_ts:
            blocks = card_blocks(card, today=later.today, base_currency=later.account.base_currency)
            problem = await send_to_response_url(response_url, text=card_text(card), blocks=blocks, replace_original=True)
            if problem is not None:  # the copy stays as it was; the channel card and Home are updated anyway
                log.info("could not update the clicked copy of %s: %s", action_id, problem)

    if container.get("type") == "view" or (response_url and container.get("type") == "message"):
        scope.later(work, name="update-clicked-card")


def execute_after_commit(scope: Scope, action_id: str) -> None:
    """The first attempt, after the ack; each of its transitions queues the card's update itself."""
    async def work(later: Scope) -> None:
        await later.commit()
        outcome = await execute_action(later.runtime.sessions, account_id=later.account.id, action_id=action_id,
                                       now=later.runtime.clock(), settings=later.settings)
        log.info("action %s: %s (%s)", action_id, outcome.status, outcome.message)

    scope.later(work, name="execute-action")


def check_edits_match(card: CardData, option_id: str) -> None:
    """Refuse to approve an option while the edited draft is another option's (it would go out under this one)."""
    chosen, edited = card.option(option_id), card.option(card.edited_option_id)
    if chosen is None or edited is None or card.edits_apply_to(chosen) or card.action.status != ActionStatus.PENDING:
        return
    raise Conflict(
        f"The draft was edited for option {edited.rank} ({cut(edited.title, 80)}), not option {chosen.rank}; nothing was approved.",
        hint=f"Choose option {edited.rank} to send the edited message, or use Edit draft with option {chosen.rank} chosen "
             "to check its message first.",
    )


@handler
async def approve_clicked(scope: Scope, body: dict[str, Any], client: AsyncWebClient) -> None:
    card = await card_in_account(scope, clicked_action_id(body))
    if scope.member is None:
        raise PermissionDenied("I couldn't tell who clicked.")
    option_id = chosen_option_id(body, card)
    if option_id is None:
        raise NotFound("This action has no option to approve.")
    check_edits_match(card, option_id)
    try:
        decision = await lifecycle.approve(scope.db, account=scope.account, member=scope.member, action_id=card.action.id,
                                           option_id=option_id, now=scope.now, settings=scope.settings)
    except lifecycle.AlreadyDecided as exc:
        raise friendly(exc, scope.caller.user_id) from exc
    update_clicked_copy(scope, body, card.action.id)
    if decision.outcome == "figures_changed":
        await tell_figures_changed(scope, client, decision)
    elif decision.outcome == "approved":
        execute_after_commit(scope, card.action.id)
    else:
        text = (f":ballot_box_with_check: Your approval is in: {decision.approvals_given} of {decision.approvals_required}. "
                "A second approver needs to approve the same option before Tamio carries it out.")
        scope.after_commit(lambda: tell(scope.caller, client, text))


async def tell_figures_changed(scope: Scope, client: AsyncWebClient, decision: lifecycle.Decision) -> None:
    """The refusal, with the card as it is now (the fresh action's, which the channel also gets)."""
    fresh = await load_card(scope.db, account_id=scope.account.id, action_id=decision.replaced_by) if decision.replaced_by else None
    blocks = [section(f":arrows_counterclockwise: {decision.message}")]
    if fresh is not None:
        blocks += card_blocks(fresh, today=scope.today, base_currency=scope.account.base_currency)
    else:
        blocks.append(section("With the figures as they are now there is nothing left to propose."))
    scope.after_commit(lambda: tell(scope.caller, client, decision.message, blocks=blocks))


@handler
async def skip_clicked(scope: Scope, body: dict[str, Any]) -> None:
    card = await card_in_account(scope, clicked_action_id(body))
    if scope.member is None:
        raise PermissionDenied("I couldn't tell who clicked.")
    try:
        await lifecycle.skip(scope.db, account=scope.account, member=scope.member, action_id=card.action.id, now=scope.now)
    except lifecycle.AlreadyDecided as exc:
        raise friendly(exc, scope.caller.user_id) from exc
    update_clicked_copy(scope, body, card.action.id)


@handler
async def retry_clicked(scope: Scope, body: dict[str, Any]) -> None:
    card = await card_in_account(scope, clicked_action_id(body))
    if scope.member is None:
        raise PermissionDenied("I couldn't tell who clicked.")
    await lifecycle.retry(scope.db, account=scope.account, member=scope.member, action_id=card.action.id, now=scope.now)
    execute_after_commit(scope, card.action.id)


@handler
async def vendor_agreed_clicked(scope: Scope, body: dict[str, Any]) -> None:
    """"Vendor agreed": the delays this action asked for move now (the card updates through the outbox)."""
    card = await card_in_account(scope, clicked_action_id(body))
    await agree_delay(scope.db, account=scope.account, member=scope.member, action_id=card.action.id, today=scope.today, now=scope.now)
    update_clicked_copy(scope, body, card.action.id)


@handler
async def edit_draft_clicked(scope: Scope, body: dict[str, Any], client: AsyncWebClient) -> None:
    """Open the draft editor at once (the trigger id lives three seconds): reading only, never waiting for a writer."""
    scope.read_only()
    card = await card_in_account(scope, clicked_action_id(body))
    policy.check_can_decide(scope.member.role if scope.member else None, action_type=card.action.action_type.value,
                            requires_admin=card.action.requires_admin, doing="edit the draft of")
    option_id = chosen_option_id(body, card)
    option = card.option(option_id)
    if option is None or (option.draft_body is None and option.draft_subject is None):
        option = next((o for o in card.options if o.draft_body or o.draft_subject), None)
    if option is None:
        raise NotFound("This action sends no message, so there is no draft to edit.")
    container = body.get("container") or {}
    metadata = json.dumps({"action_id": card.action.id, "option_id": option.id, "channel": (body.get("channel") or {}).get("id"),
                           "view_id": container.get("view_id"), "response_url": body.get("response_url")})
    view = draft_form(card, option, metadata=metadata)
    await scope.commit()  # no transaction across the call to Slack
    if container.get("type") == "view" and (body.get("view") or {}).get("type") == "modal":
        await client.views_push(trigger_id=scope.caller.trigger_id, view=view)
    else:
        await client.views_open(trigger_id=scope.caller.trigger_id, view=view)


@handler
async def review_clicked(scope: Scope, body: dict[str, Any], client: AsyncWebClient) -> None:
    scope.read_only()  # the modal opens without waiting for a writer: its trigger id lives three seconds
    card = await card_in_account(scope, clicked_action_id(body))
    view = review_form(card, today=scope.today)
    await scope.commit()  # no transaction across the call to Slack
    await client.views_open(trigger_id=scope.caller.trigger_id, view=view)


@handler
async def review_closed() -> None:
    """The review modal has no inputs of its own to submit; closing it needs only an ack."""


@handler
async def option_chosen() -> None:
    """Picking an option only moves the radio button; Approve reads the choice."""


@handler
async def add_contact_clicked(scope: Scope, body: dict[str, Any], client: AsyncWebClient) -> None:
    """The card's "Add email address": a small form for the address its email option lacks."""
    card = await card_in_account(scope, clicked_action_id(body))
    await scope.require(Operation.MANAGE_DATA, "add contact emails")
    await with_email_needs(scope.db, [card], account=scope.account, settings=scope.settings, now=scope.now)
    need = next((n for n in card.needs.values() if n.missing == "address" and n.counterparty_id), None)
    if need is None:
        raise NotFound("This action no longer waits for an email address.", hint="Approve it, or open App Home to see it as it is now.")
    await scope.commit()  # no transaction across the call to Slack
    await client.views_open(trigger_id=scope.caller.trigger_id, view=contact_form(action_id=card.action.id, name=need.counterparty_name))


@handler
async def contact_submitted(scope: Scope, body: dict[str, Any], client: AsyncWebClient) -> FieldErrors | None:
    view = body.get("view") or {}
    try:
        action_id = str(json.loads(view.get("private_metadata") or "{}").get("action_id") or "")
    except ValueError:
        action_id = ""
    card = await card_in_account(scope, action_id)
    await scope.require(Operation.MANAGE_DATA, "add contact emails")
    try:
        name, address = await add_missing_address(scope.db, account=scope.account, settings=scope.settings, action=card.action,
                                                  email=str(form_values(view).get("email") or ""),
                                                  actor=scope.member.id if scope.member else "slack", now=scope.now)
    except ValidationError as exc:
        return FieldErrors({"email": cut(exc.field_errors.get("contact_email") or exc.message, 150)})
    except LockedField as exc:
        return FieldErrors({"email": cut(exc.message, 150)})
    text = f":white_check_mark: Follow-up emails to *{escape(name)}* now go to {escape(address)}; the card can be approved."
    caller = replace(scope.caller, channel_id=card.action.slack_channel_id or scope.caller.channel_id)  # beside the card
    scope.after_commit(lambda: tell(caller, client, text))
    return None


def register(app: AsyncApp) -> None:
    app.action(ADD_CONTACT)(add_contact_clicked)
    app.view(CONTACT_CALLBACK)(contact_submitted)
    app.action(APPROVE)(approve_clicked)
    app.action(SKIP)(skip_clicked)
    app.action(RETRY)(retry_clicked)
    app.action(VENDOR_AGREED)(vendor_agreed_clicked)
    app.action(EDIT_DRAFT)(edit_draft_clicked)
    app.action(REVIEW)(review_clicked)
    app.action(CHOOSE)(option_chosen)
    app.runtime.ack_only_actions.add(CHOOSE)  # type: ignore[attr-defined]
    app.view(REVIEW_CALLBACK)(review_closed)

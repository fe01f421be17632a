"""Shortcuts: "Add obligation" (global, from the lightning menu) and "Record a payment" (on a message).

Both open a modal first, before any write could wait for the database (a trigger id lives three
seconds). "Record a payment" starts from the message it was used on: the first amount it mentions,
today's date; its confirmation goes back through that message's response URL (it works where
Tamio is not a member), else to the person's DM.

    /tamio's lightning menu -> Add obligation -> the Add form
    a message's "More actions" -> Record a payment -> the payment form -> record_and_say
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.add_form import add_form, form_values
from bot.blocks.common import section
from bot.blocks.payment_form import PAYMENT_CALLBACK, amount_mentioned, payment_form
from bot.boundary import FieldErrors, handler, tell
from bot.commands.data import record_and_say
from bot.runtime import Scope
from tamio.accounts.permissions import Operation
from tamio.errors import NotFound, ValidationError
from tamio.money import normalize_currency, parse_amount
from tamio.obligations.counterparties import get_client, get_expense

ADD_SHORTCUT = "add_obligation"
PAYMENT_SHORTCUT = "record_payment"


@handler
async def add_obligation_shortcut(scope: Scope, client: AsyncWebClient) -> None:
    scope.read_only()
    await scope.require(Operation.MANAGE_DATA, "add what the business is owed or owes")
    view = add_form(kind=None, base_currency=scope.account.base_currency, today=scope.today, channel_id=None)
    await scope.commit()
    await client.views_open(trigger_id=scope.caller.trigger_id, view=view)


@handler
async def record_payment_shortcut(scope: Scope, body: dict[str, Any], client: AsyncWebClient) -> None:
    scope.read_only()
    await scope.require(Operation.MANAGE_DATA, "record payments")
    message = body.get("message") or {}
    metadata = json.dumps({"channel": (body.get("channel") or {}).get("id"), "response_url": body.get("response_url")})
    view = payment_form(base_currency=scope.account.base_currency, today=scope.today,
                        amount=amount_mentioned(str(message.get("text") or "")), metadata=metadata)
    await scope.commit()
    await client.views_open(trigger_id=scope.caller.trigger_id, view=view)


@handler
async def submit_payment(scope: Scope, body: dict[str, Any], client: AsyncWebClient) -> FieldErrors | None:
    view = body.get("view") or {}
    values = form_values(view)
    errors: dict[str, str] = {}
    currency: str | None = None
    try:
        currency = normalize_currency(values.get("currency") or "")
    except ValidationError as exc:  # the core's words: "not a currency I know" for XYZ, "not a currency code" for X1
        errors["currency"] = exc.field_errors.get("currency") or exc.message
    try:
        amount = parse_amount(values.get("amount") or "", currency=currency)
    except ValidationError as exc:
        errors["amount"] = exc.field_errors.get("amount") or exc.message
    paid_on = date.fromisoformat(values["paid_on"]) if values.get("paid_on") else scope.today
    kind, _, ident = str(values.get("counterparty") or "").partition(":")
    if kind not in ("client", "expense"):
        errors["counterparty"] = "Choose who paid, or was paid; add them first with `/tamio add` if they're new."
    if errors:
        return FieldErrors(errors)
    await scope.require(Operation.MANAGE_DATA, "record payments")
    try:
        counterparty = (await get_client(scope.db, account_id=scope.account.id, client_id=ident) if kind == "client"
                        else await get_expense(scope.db, account_id=scope.account.id, expense_id=ident))
    except NotFound:
        return FieldErrors({"counterparty": "That one isn't in this workspace's books; choose another."})
    answer = await record_and_say(scope, counterparty, amount=amount, currency=currency, on=paid_on)
    meta = json.loads(view.get("private_metadata") or "{}")
    caller = replace(scope.caller, channel_id=meta.get("channel") or None, response_url=meta.get("response_url") or None)
    scope.after_commit(lambda: tell(caller, client, answer.text, blocks=answer.blocks or [section(answer.text)]))
    return None


def register(app: AsyncApp) -> None:
    app.shortcut(ADD_SHORTCUT)(add_obligation_shortcut)
    app.shortcut(PAYMENT_SHORTCUT)(record_payment_shortcut)
    app.view(PAYMENT_CALLBACK)(submit_payment)

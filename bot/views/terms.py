"""The "Clients and vendors" modal (App Home, approvers and admins): a client's kind, a vendor's terms.

The same fields as the add form and ``/tamio client|vendor``, saved through the same core functions
(``tamio.obligations.profile``). The counterparty is the add form's external select (its suggestions come
from the same ``counterparty`` options listener); a new name is refused here: add it first.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.add_form import critical_field, flexibility_field, form_values, relationship_field
from bot.blocks.common import plain
from bot.blocks.home import TERMS_ACTION
from bot.boundary import FieldErrors, handler, tell
from bot.runtime import Scope
from tamio.accounts.permissions import Operation
from tamio.errors import NotFound
from tamio.obligations.counterparties import get_client, get_expense
from tamio.obligations.profile import RELATIONSHIP_WORD, describe_vendor, set_relationship, set_vendor_terms

CALLBACK = "tamio_terms"


def terms_form() -> dict[str, Any]:
    counterparty = {
        "type": "input", "block_id": "counterparty", "label": plain("Client or vendor", 2000),
        "element": {"type": "external_select", "action_id": "counterparty", "min_query_length": 0, "placeholder": plain("Acme Corp", 150)},
    }
    return {
        "type": "modal", "callback_id": CALLBACK, "title": plain("Clients and vendors", 24), "submit": plain("Save", 24),
        "close": plain("Cancel", 24),
        "blocks": [
            counterparty,
            relationship_field(),
            flexibility_field(),
            critical_field(),
        ],
    }


@handler
async def open_terms(scope: Scope, client: AsyncWebClient) -> None:
    scope.read_only()  # a trigger id lives 3 s: never wait for a writer
    await scope.require(Operation.MANAGE_DATA, "set how clients and vendors are treated")
    await scope.commit()
    await client.views_open(trigger_id=scope.caller.trigger_id, view=terms_form())


@handler
async def save_terms(scope: Scope, body: dict[str, Any], client: AsyncWebClient) -> FieldErrors | None:
    await scope.require(Operation.MANAGE_DATA, "set how clients and vendors are treated")
    values = form_values(body.get("view") or {})
    kind, _, ident = str(values.get("counterparty") or "").partition(":")
    if kind not in ("client", "expense"):
        return FieldErrors({"counterparty": "Choose a client or vendor Tamio knows; add a new one with /tamio add first."})
    try:
        entity = (await get_client(scope.db, account_id=scope.account.id, client_id=ident) if kind == "client"
                  else await get_expense(scope.db, account_id=scope.account.id, expense_id=ident))
    except NotFound:
        return FieldErrors({"counterparty": "That one isn't in this workspace's books; choose another."})
    if kind == "client":
        if values.get("flexibility") or values.get("critical"):
            return FieldErrors({"flexibility" if values.get("flexibility") else "critical": f"{entity.name} is a client; choose its kind instead."})
        if not values.get("relationship"):
            return FieldErrors({"relationship": "Choose strategic or standard."})
        found, _ = await set_relationship(scope.db, account=scope.account, member=scope.member, name=entity.name,
                                          relationship=str(values["relationship"]), settings=scope.settings, today=scope.today, now=scope.now)
        text = f":white_check_mark: *{found.name}* is a {RELATIONSHIP_WORD[found.relationship_type]} client." if found.relationship_type else ""
    else:
        if values.get("relationship"):
            return FieldErrors({"relationship": f"{entity.name} is a vendor; say whether its payments can move instead."})
        if not values.get("flexibility") and not values.get("critical"):
            return FieldErrors({"flexibility": "Say whether its payments can move, or tick critical."})
        bucket = await set_vendor_terms(scope.db, account=scope.account, member=scope.member, name=entity.name,
                                        flexibility=values.get("flexibility"), critical=True if values.get("critical") else None,
                                        settings=scope.settings, today=scope.today, now=scope.now)
        text = f":white_check_mark: *{bucket.name}*: {describe_vendor(bucket)}."
    scope.after_commit(lambda: tell(scope.caller, client, text))
    return None


def register(app: AsyncApp) -> None:
    app.action(TERMS_ACTION)(open_terms)
    app.view(CALLBACK)(save_terms)

"""The "Add to Tamio" modal: counterparty suggestions while typing, and the submission.

Every field is checked and all the problems come back at once as field errors, so the person fixes
them in the form they filled in. An existing counterparty chosen in the form is looked up in the
account of the verified request, so an id of another workspace's client is simply not found.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.add_form import ALLOW_DUPLICATE, CALLBACK_ID, CONFIRM_IN, form_values
from bot.blocks.common import cut, option, section
from bot.boundary import FieldErrors, Options, handler, tell
from bot.commands.data import add_obligation
from bot.runtime import Scope
from tamio.errors import Conflict, LockedField, NotFound, ValidationError
from tamio.obligations.adding import AddObligation
from tamio.obligations.counterparties import get_client, get_expense, list_counterparty_names
from tamio.obligations.duplicates import DuplicateObligation
from tamio.obligations.profile import RELATIONSHIP_WORD, describe_vendor, set_relationship, set_vendor_terms
from tamio.obligations.recurrence import BusinessDayConvention, Frequency
from tamio.obligations.schemas import RecurrenceSpec

NEW_PREFIX = "new:"
FIELD_FOR = {"end": "end_date", "start": "start_date", "calendar": "convention", "name": "counterparty", "last_business_day": "day"}
FORM_FIELDS = frozenset({"kind", "counterparty", "contact_email", "amount", "currency", "frequency", "day", "start_date", "end_date",
                         "invoice", "convention"})


@handler
async def counterparty_options(scope: Scope, body: dict[str, Any]) -> Options:
    scope.read_only()  # typing in the field: suggestions never wait for a writer
    typed = str(body.get("value") or "").strip()
    found = await list_counterparty_names(scope.db, account_id=scope.account.id, prefix=typed, limit=90)
    options = [option(name, f"{kind}:{ident}", "client" if kind == "client" else "vendor, payroll or tax")
               for kind, ident, name in found]
    if typed and not any(name.lower() == typed.lower() for _, _, name in found):
        options.insert(0, option(f"New: {typed}", NEW_PREFIX + cut(typed, 140)))
    return Options(options[:100])


def _read(values: dict[str, str | None], name: str, today: date) -> tuple[AddObligation | None, dict[str, str]]:
    """The form's fields as the core's input, and every field's problem (the rules are the core's)."""
    errors: dict[str, str] = {}
    day: int | None = None
    if values.get("day"):
        try:
            day = int(str(values["day"]))
        except ValueError:
            errors["day"] = "Use a day from 1 to 31, or -1 for the last day of the month."
    try:
        frequency = Frequency(values.get("frequency") or "monthly")
        convention = BusinessDayConvention(values.get("convention") or "none")
    except ValueError:
        frequency, convention = Frequency.MONTHLY, BusinessDayConvention.NONE
        errors["frequency"] = "Choose how often it happens."
    start_text, end_text = values.get("start_date"), values.get("end_date")
    spec = RecurrenceSpec(frequency=frequency, start_date=date.fromisoformat(start_text) if start_text else today,
                          end_date=date.fromisoformat(end_text) if end_text else None, day=day, convention=convention)
    obligation: AddObligation | None = None
    try:
        obligation = AddObligation.read({
            "kind": values.get("kind") or "client", "name": name, "amount": values.get("amount") or "",
            "currency": values.get("currency") or "", "recurrence": spec, "invoice": values.get("invoice"),
            "contact_email": values.get("contact_email"),
            "allow_duplicate": values.get(ALLOW_DUPLICATE) == ALLOW_DUPLICATE,
        }, today=today)
    except ValidationError as exc:
        for field, message in exc.field_errors.items():
            errors.setdefault(FIELD_FOR.get(field, field if field in FORM_FIELDS else "counterparty"), message[:150])
    return (obligation if not errors else None), errors


def _read_terms(values: dict[str, str | None]) -> tuple[dict[str, Any], dict[str, str]]:
    """The client's kind, or the vendor's flexibility and criticality, chosen in the form (each only for its own kind)."""
    errors: dict[str, str] = {}
    client = (values.get("kind") or "client") == "client"
    terms: dict[str, Any] = {
        "relationship": values.get("relationship") if client else None,
        "flexibility": values.get("flexibility") if not client else None,
        "critical": (values.get("critical") == "critical") if not client and values.get("critical") else None,
    }
    if not client and values.get("relationship"):
        errors["relationship"] = "This is for clients; for a vendor, say whether its payments can move."
    if client and (values.get("flexibility") or values.get("critical")):
        errors["flexibility" if values.get("flexibility") else "critical"] = "This is for vendors; for a client, choose its kind."
    return terms, errors


@handler
async def submit_add_form(scope: Scope, body: dict[str, Any], client: AsyncWebClient) -> FieldErrors | None:
    view = body.get("view") or {}
    values = form_values(view)
    errors: dict[str, str] = {}
    name = ""
    chosen = str(values.get("counterparty") or "")
    if chosen.startswith(NEW_PREFIX):
        name = chosen[len(NEW_PREFIX):].strip()
    elif chosen:
        kind, _, ident = chosen.partition(":")
        try:
            entity = (await get_client(scope.db, account_id=scope.account.id, client_id=ident) if kind == "client"
                      else await get_expense(scope.db, account_id=scope.account.id, expense_id=ident))
            name = entity.name
        except NotFound:
            errors["counterparty"] = "That one isn't in this workspace's books; choose another or type a new name."
        if name and (kind == "client") != ((values.get("kind") or "client") == "client"):
            errors["counterparty"] = f"{name} is a {'client' if kind == 'client' else 'vendor'}; choose the matching kind above."
    else:
        errors["counterparty"] = "Choose who it is, or type a new name."
    obligation, problems = _read(values, name, scope.today)
    terms, wrong_terms = _read_terms(values)
    errors = {**problems, **wrong_terms, **errors}
    if errors or obligation is None:
        return FieldErrors(errors)
    try:
        text = await add_obligation(scope, obligation)
    except DuplicateObligation as exc:  # the core wrote nothing: ask on the form
        return FieldErrors({ALLOW_DUPLICATE: f"{exc.message} Tick this to add it anyway."})
    except LockedField as exc:  # raised, not returned: the boundary rolls back whatever was written
        raise ValidationError(exc.message, field_errors={"contact_email": exc.message[:150]}) from exc
    except ValidationError as exc:
        mapped = {FIELD_FOR.get(k, k if k in FORM_FIELDS else "counterparty"): v for k, v in exc.field_errors.items()}
        raise ValidationError(exc.message, field_errors=mapped or {"counterparty": exc.message[:150]}) from exc
    except Conflict as exc:
        raise ValidationError(exc.message, field_errors={"invoice": exc.message[:150]}) from exc
    text += await _terms(scope, terms, name)
    caller = replace(scope.caller, channel_id=picked_channel(body), response_url=submission_response_url(body))
    scope.after_commit(lambda: tell(caller, client, text, blocks=[section(text)]))
    return None


async def _terms(scope: Scope, terms: dict[str, Any], name: str) -> str:
    """The client's kind or the vendor's terms chosen in the form, through the same core functions as ``/tamio client|vendor``."""
    if terms["relationship"]:
        found, _ = await set_relationship(scope.db, account=scope.account, member=scope.member, name=name, relationship=terms["relationship"],
                                          settings=scope.settings, today=scope.today, now=scope.now)
        return f" A {RELATIONSHIP_WORD[found.relationship_type]} client." if found.relationship_type else ""
    if terms["flexibility"] or terms["critical"] is not None:
        bucket = await set_vendor_terms(scope.db, account=scope.account, member=scope.member, name=name, flexibility=terms["flexibility"],
                                        critical=terms["critical"], settings=scope.settings, today=scope.today, now=scope.now)
        return f" Its payments: {describe_vendor(bucket)}."
    return ""


def submission_response_url(body: dict[str, Any]) -> str | None:
    """The response URL Slack made for the conversation picked in "Confirm in" (``response_url_enabled``)."""
    for entry in body.get("response_urls") or []:
        if isinstance(entry, dict) and entry.get("block_id") == CONFIRM_IN and entry.get("response_url"):
            return str(entry["response_url"])
    return None


def picked_channel(body: dict[str, Any]) -> str | None:
    """The conversation picked in "Confirm in"; none picked means the person's DM with Tamio."""
    for entry in body.get("response_urls") or []:
        if isinstance(entry, dict) and entry.get("block_id") == CONFIRM_IN and entry.get("channel_id"):
            return str(entry["channel_id"])
    return None


def register(app: AsyncApp) -> None:
    app.options("counterparty")(counterparty_options)
    app.view(CALLBACK_ID)(submit_add_form)


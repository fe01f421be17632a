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

from bot.blocks.add_form import CALLBACK_ID, CONFIRM_IN, form_values
from bot.blocks.common import cut, option, section
from bot.boundary import FieldErrors, Options, handler, tell
from bot.commands.data import add_obligation
from bot.runtime import Scope
from tamio.errors import LockedField, NotFound, TamioError, ValidationError
from tamio.money import normalize_currency, parse_amount
from tamio.obligations.counterparties import get_client, get_expense, is_email, list_counterparty_names
from tamio.obligations.recurrence import BusinessDayConvention, Frequency, RecurrenceError
from tamio.obligations.schemas import RecurrenceSpec

NEW_PREFIX = "new:"
FIELD_FOR = {"end": "end_date", "start": "start_date", "day": "day", "frequency": "frequency", "calendar": "convention",
             "name": "counterparty", "amount": "amount", "currency": "currency", "last_business_day": "day",
             "contact_email": "contact_email"}


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


def _read(values: dict[str, str | None], today: date) -> tuple[dict[str, Any], dict[str, str]]:
    """Typed values and the field errors found, without touching the database."""
    errors: dict[str, str] = {}
    out: dict[str, Any] = {"kind": values.get("kind") or "client"}
    try:
        out["currency"] = normalize_currency(values.get("currency") or "")
    except TamioError:
        errors["currency"] = "Use a three-letter currency code such as USD, EUR or GBP."
    try:
        out["amount"] = parse_amount(values.get("amount") or "", currency=out.get("currency"))
    except ValidationError as exc:
        errors["amount"] = exc.field_errors.get("amount") or exc.message
    try:
        out["frequency"] = Frequency(values.get("frequency") or "monthly")
    except ValueError:
        errors["frequency"] = "Choose how often it happens."
    day_text = values.get("day")
    out["day"] = None
    if day_text:
        try:
            out["day"] = int(day_text)
        except ValueError:
            errors["day"] = "Use a day from 1 to 31, or -1 for the last day of the month."
    start_text, end_text = values.get("start_date"), values.get("end_date")
    start = date.fromisoformat(start_text) if start_text else today
    if start < today:
        errors["start_date"] = f"The first date can't be in the past; use today ({today.isoformat()}) or later."
    out["start"] = start
    out["end"] = date.fromisoformat(end_text) if end_text else None
    try:
        out["convention"] = BusinessDayConvention(values.get("convention") or "none")
    except ValueError:
        errors["convention"] = "Choose what happens on weekends."
    if not values.get("counterparty"):
        errors["counterparty"] = "Choose who it is, or type a new name."
    out["contact_email"] = values.get("contact_email") or None
    if out["contact_email"] is not None and not is_email(out["contact_email"]):
        errors["contact_email"] = "Write one email address, like ap@client.com, or leave it empty."
    return out, errors


@handler
async def submit_add_form(scope: Scope, body: dict[str, Any], client: AsyncWebClient) -> FieldErrors | None:
    view = body.get("view") or {}
    values = form_values(view)
    typed, errors = _read(values, scope.today)
    spec: RecurrenceSpec | None = None
    if not errors:
        spec = RecurrenceSpec(frequency=typed["frequency"], start_date=typed["start"], end_date=typed["end"],
                              day=typed["day"], convention=typed["convention"])
        try:
            spec.rrule()
        except RecurrenceError as exc:
            errors[FIELD_FOR.get(exc.field or "", "frequency")] = exc.message[:1].upper() + exc.message[1:] + "."
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
        if name and (kind == "client") != (typed["kind"] == "client"):
            errors["counterparty"] = f"{name} is a {'client' if kind == 'client' else 'vendor'}; choose the matching kind above."
    if errors:
        return FieldErrors(errors)
    assert spec is not None
    try:
        text = await add_obligation(scope, kind=typed["kind"], name=name, amount=typed["amount"], currency=typed["currency"],
                                    recurrence=spec, contact_email=typed["contact_email"])
    except LockedField as exc:  # raised, not returned: the boundary rolls back whatever was written
        raise ValidationError(exc.message, field_errors={"contact_email": exc.message[:150]}) from exc
    except ValidationError as exc:
        mapped = {FIELD_FOR.get(k, "counterparty"): v for k, v in exc.field_errors.items()}
        raise ValidationError(exc.message, field_errors=mapped or {"counterparty": exc.message[:150]}) from exc
    caller = replace(scope.caller, channel_id=picked_channel(body), response_url=submission_response_url(body))
    scope.after_commit(lambda: tell(caller, client, text, blocks=[section(text)]))
    return None


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


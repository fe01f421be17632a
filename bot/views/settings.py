"""The Settings modal (App Home, admins): the same settings as ``/tamio config set``, in a form.

Each field is read by the command parser (so the form and the command accept exactly the same
values) and saved through ``bot.commands.settings.set_config``; errors come back on their fields.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.common import option, plain
from bot.blocks.home import SETTINGS_ACTION
from bot.boundary import FieldErrors, handler
from bot.commands import parse
from bot.commands.settings import LABELS, set_config
from bot.runtime import Scope
from tamio.accounts.models import SafetyMode
from tamio.accounts.permissions import Operation
from tamio.accounts.service import get_user_configuration
from tamio.errors import TamioError

CALLBACK = "tamio_settings"
FORM_KEYS = ("safety_mode", "obligations_buffer_amount", "dual_approval_threshold", "runway_buffer_months",
             "late_payment_threshold_days", "payroll_check_days_before", "payroll_buffer_percent", "chase_cooloff_days")


def _value_text(value: object) -> str:
    raw = getattr(value, "value", value)
    return format(raw, "f") if hasattr(raw, "as_tuple") else str(raw)


def settings_form(values: dict[str, object]) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = []
    for key in FORM_KEYS:
        if key == "safety_mode":
            options = [option(mode.value.title(), mode.value) for mode in SafetyMode]
            element: dict[str, Any] = {"type": "static_select", "action_id": key, "options": options,
                                       "initial_option": next(o for o in options if o["value"] == _value_text(values[key]))}
        else:
            element = {"type": "plain_text_input", "action_id": key, "initial_value": _value_text(values[key])}
        blocks.append({"type": "input", "block_id": key, "label": plain(LABELS[key], 2000), "element": element})
    return {"type": "modal", "callback_id": CALLBACK, "title": plain("Tamio settings", 24), "submit": plain("Save", 24),
            "close": plain("Cancel", 24), "blocks": blocks}


async def current_values(scope: Scope) -> dict[str, object]:
    config = await get_user_configuration(scope.db, account_id=scope.account.id)
    return {key: getattr(scope.account if key == "dual_approval_threshold" else config, key) for key in FORM_KEYS}


@handler
async def open_settings(scope: Scope, client: AsyncWebClient) -> None:
    scope.read_only()  # reads only, so the modal opens without waiting for a writer (a trigger id lives 3 s)
    await scope.require(Operation.CHANGE_SETTINGS, "change settings")
    view = settings_form(await current_values(scope))
    await scope.commit()  # no transaction across the call to Slack
    await client.views_open(trigger_id=scope.caller.trigger_id, view=view)


@handler
async def save_settings(scope: Scope, body: dict[str, Any], client: AsyncWebClient) -> FieldErrors | None:
    await scope.require(Operation.CHANGE_SETTINGS, "change settings")
    state = ((body.get("view") or {}).get("state") or {}).get("values") or {}
    current = {key: _value_text(value) for key, value in (await current_values(scope)).items()}
    commands: list[parse.SetConfig] = []
    errors: dict[str, str] = {}
    for key in FORM_KEYS:
        element = (state.get(key) or {}).get(key) or {}
        raw = (element.get("selected_option") or {}).get("value") if "selected_option" in element else element.get("value")
        raw = (raw or "").strip()
        if not raw:
            errors[key] = "This needs a value."
            continue
        if raw == current[key]:
            continue
        try:
            command = parse.parse(f"config set {key} {raw}" if " " not in raw else "config set x y", today=scope.today,
                                  base_currency=scope.account.base_currency)
        except TamioError as exc:
            errors[key] = (exc.hint or exc.message)[:150]
            continue
        if isinstance(command, parse.SetConfig):
            commands.append(command)
    if errors:
        return FieldErrors(errors)
    for command in commands:
        await set_config(scope, command, client)
    return None


def register(app: AsyncApp) -> None:
    app.action(SETTINGS_ACTION)(open_settings)
    app.view(CALLBACK)(save_settings)

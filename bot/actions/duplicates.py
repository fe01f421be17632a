"""The duplicate question's buttons: "Add anyway" adds what was typed, allowed this once; "Don't add" says nothing was.

The answer replaces the question through the click's response URL (the question is ephemeral).
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.blocks.common import section
from bot.blocks.duplicate import ADD_ANYWAY, DONT_ADD, read_pending
from bot.boundary import handler
from bot.commands.data import add_obligation
from bot.replies import send_to_response_url
from bot.runtime import Scope
from tamio.errors import ValidationError


def _answer(scope: Scope, text: str) -> None:
    url = scope.caller.response_url
    if url:
        scope.after_commit(lambda: _replace(url, text))


async def _replace(url: str, text: str) -> None:
    await send_to_response_url(url, text=text, blocks=[section(text)], replace_original=True)


@handler
async def add_anyway(scope: Scope, body: dict[str, Any]) -> None:
    value = str(((body.get("actions") or [{}])[0]).get("value") or "")
    try:
        pending = read_pending(value, today=scope.today)
    except (ValueError, KeyError, TypeError) as exc:  # not JSON of ours; the core's own refusals pass as they are
        raise ValidationError("That button is out of date; run `/tamio add` again.") from exc
    _answer(scope, await add_obligation(scope, pending))


@handler
async def dont_add(scope: Scope, body: dict[str, Any]) -> None:
    _answer(scope, "Nothing was added.")


def register(app: AsyncApp) -> None:
    app.action(ADD_ANYWAY)(add_anyway)
    app.action(DONT_ADD)(dont_add)

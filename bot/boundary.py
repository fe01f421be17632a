"""The one error boundary of every Slack listener, and how a listener's answer becomes the ack.

A listener decorated with ``@handler`` asks for what it needs by name (``scope``, ``db``,
``account``, ``member``, ``now``, ``body``, ``ack``, ``client``, ``respond``, ``context``) and
returns what to answer: a ``Reply`` (ephemeral text/blocks for a slash command), ``FieldErrors``
(a modal's field errors), ``Options`` (external select suggestions), a ``ViewUpdate`` or nothing.
The boundary commits the scope *before* the answer goes back (Bolt runs with
``process_before_response=True``, so the HTTP response leaves after the listener returns), then
acks. On a ``TamioError`` it rolls back and tells the person what was wrong, ephemerally; on
anything else it rolls back, logs a correlation id and apologises. Nothing half-written stays.

    @handler
    async def balance(scope: Scope, body: dict) -> Reply:
        ...
        return Reply("Operating now holds $45,000.00.")
"""

from __future__ import annotations

import inspect
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.common import escape, escape_keeping_mentions
from bot.replies import reply
from bot.runtime import Caller, Runtime, Scope
from tamio.errors import BUSY_DATABASE, MissingExchangeRate, TamioError, ValidationError, database_busy

log = logging.getLogger("tamio.bot")


@dataclass(frozen=True)
class Reply:
    """An answer visible to the caller only (or to the channel when ``in_channel``)."""

    text: str
    blocks: list[dict[str, Any]] | None = None
    in_channel: bool = False


@dataclass(frozen=True)
class FieldErrors:
    errors: dict[str, str]


@dataclass(frozen=True)
class Options:
    options: list[dict[str, Any]]


@dataclass(frozen=True)
class ViewUpdate:
    view: dict[str, Any]


Answer = Reply | FieldErrors | Options | ViewUpdate | None


def error_text(error: TamioError) -> str:
    """What was wrong, what would be right, and a working example when there is one.

    Messages quote what the person typed (a name, an amount): escaped, so it reads as text and
    cannot become a mention or a link; Tamio's own user mentions stay."""
    text = f":warning: {escape_keeping_mentions(error.message)}"
    if error.hint and error.hint not in error.message:
        text += f" {escape_keeping_mentions(error.hint)}"
    example = getattr(error, "example", None)
    if example:
        text += f"\nExample: `{escape(str(example))}`"
    return text


def failure_text(error: BaseException) -> str:
    """What the person is told of a failure that is no ``TamioError``: a database busy past its wait
    in words (it can be tried again; logged without a traceback), else an apology with the correlation
    id its traceback is logged under."""
    if database_busy(error):
        log.warning("a request waited too long for the database's write lock: %s", error)
        return f":hourglass_flowing_sand: {BUSY_DATABASE}"
    correlation = uuid.uuid4().hex[:12]
    log.exception("listener failed (correlation id %s)", correlation, exc_info=error)
    return apology_text(correlation)


def apology_text(correlation: str) -> str:
    return (
        ":face_with_head_bandage: Sorry, something went wrong on our side and nothing was saved. "
        f"If it happens again, quote reference `{correlation}`."
    )


def request_kind(body: dict[str, Any]) -> str:
    if "command" in body:
        return "command"
    return str(body.get("type") or "unknown")


def _field_errors_for_view(error: ValidationError, body: dict[str, Any]) -> dict[str, str]:
    """Map a ValidationError's fields onto the modal's input block ids (they share names)."""
    blocks = [b.get("block_id") for b in (body.get("view") or {}).get("blocks", []) if b.get("type") == "input"]
    found = {field: message for field, message in error.field_errors.items() if field in blocks}
    if not found and blocks:
        found = {str(blocks[0]): error_text(error).removeprefix(":warning: ")[:150]}
    return found


def plain_field_errors(errors: dict[str, str]) -> dict[str, str]:
    """Slack shows a modal's field errors as plain text: no mrkdwn `code` marks (shared messages use them)."""
    return {field: message.replace("`", "") for field, message in errors.items()}


async def tell(caller: Caller, client: AsyncWebClient, text: str, *, blocks: list[dict[str, Any]] | None = None) -> None:
    """An ephemeral note to the caller: through the response_url, in the channel, or in a DM, checked
    at each step (``bot.replies.reply``)."""
    await reply(caller, client, text, blocks=blocks)


async def report_error(caller: Caller, client: AsyncWebClient, error: BaseException, correlation: str | None) -> None:
    """How work done after the ack reports a failure (``bot.app`` hands it to the ``Runtime``)."""
    if isinstance(error, TamioError):
        text = error_text(error)
    else:
        text = f":hourglass_flowing_sand: {BUSY_DATABASE}" if database_busy(error) else apology_text(correlation or "-")
    await tell(caller, client, text)


async def _answer(ack: Any, kind: str, answer: Answer) -> None:
    if ack.response is not None:
        return
    if isinstance(answer, Reply):
        if kind == "command":
            await ack(text=answer.text, blocks=answer.blocks, response_type="in_channel" if answer.in_channel else "ephemeral")
        else:
            await ack()
    elif isinstance(answer, FieldErrors):
        await ack(response_action="errors", errors=plain_field_errors(answer.errors))
    elif isinstance(answer, Options):
        await ack(options=answer.options)
    elif isinstance(answer, ViewUpdate):
        await ack(response_action="update", view=answer.view)
    else:
        await ack()


async def _fail(ack: Any, kind: str, body: dict[str, Any], scope: Scope | None, runtime: Runtime | None,
                client: AsyncWebClient, error: BaseException) -> None:
    text = error_text(error) if isinstance(error, TamioError) else failure_text(error)
    if ack.response is None:
        if kind == "command":
            await ack(text=text, response_type="ephemeral")
            return
        if kind == "view_submission" and isinstance(error, ValidationError):
            errors = _field_errors_for_view(error, body)
            if errors:
                await ack(response_action="errors", errors=plain_field_errors(errors))
                return
        if kind == "block_suggestion":
            await ack(options=[])
            return
        await ack()
    if scope is not None and runtime is not None:
        caller = scope.caller
        runtime.spawn(tell(caller, client, text), name="error-reply")


WORKING_ON_IT = ":hourglass_flowing_sand: Working on it…"
# Context keys: the app answered Slack for the listener (its deadline passed), or the listener acked itself.
ANSWERED_EARLY, ACKED = "tamio_answered_early", "tamio_acked"


def working_on_it(body: dict[str, Any]) -> tuple[str, str]:
    """What the app answers Slack for a request still being worked on at its deadline: (body, content type)."""
    kind = request_kind(body)
    if kind == "command":
        return json.dumps({"text": WORKING_ON_IT, "response_type": "ephemeral"}), "application/json"
    if kind == "block_suggestion":
        return json.dumps({"options": []}), "application/json"
    return "", "text/plain"  # a click; a submission (the modal closes, what it says comes through bot.replies)


async def _answer_late(scope: Scope, client: AsyncWebClient, kind: str, answer: Answer) -> None:
    """The answer of a listener Slack was already answered for: through the response URL or the DM."""
    if isinstance(answer, Reply) and kind in ("command", "message_action", "shortcut"):
        await reply(scope.caller, client, answer.text, blocks=answer.blocks, in_channel=answer.in_channel)
    elif isinstance(answer, FieldErrors):  # the modal has closed meanwhile: say what was wrong instead
        problems = "\n".join(f"• {message}" for message in plain_field_errors(answer.errors).values())
        await tell(scope.caller, client, f":warning: Nothing was saved:\n{problems}")


async def _tell_late_failure(scope: Scope, client: AsyncWebClient, error: BaseException) -> None:
    await tell(scope.caller, client, error_text(error) if isinstance(error, TamioError) else failure_text(error))


Handler = Callable[..., Awaitable[Answer]]


async def _run(fn: Handler, arguments: Callable[[], dict[str, Any]], scope: Scope | None, runtime: Runtime | None) -> Answer:
    """The listener, then the commit. A rate the conversion lacks is fetched from the configured ECB
    feed (the transaction rolled back first) and, when the feed has it, the listener runs once more."""
    try:
        answer = await fn(**arguments())
        if scope is not None:
            await scope.commit()
        return answer
    except MissingExchangeRate as missing:
        if scope is None or runtime is None:
            raise
        await scope.rollback()
        if not await runtime.rate_feed.fetch_for(runtime.sessions, missing):
            raise
    await scope.restart()
    answer = await fn(**arguments())
    await scope.commit()
    return answer


def handler(fn: Handler) -> Callable[..., Awaitable[None]]:
    """Wrap a Tamio listener in the boundary (see the module docstring)."""
    wanted = list(inspect.signature(fn).parameters)

    async def listener(ack: Any, body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient, respond: Any) -> None:
        scope: Scope | None = context.get("scope")
        runtime: Runtime | None = context.get("runtime")
        kind = request_kind(body)
        def arguments() -> dict[str, Any]:  # read from the scope each time: a second run may have new rows
            available: dict[str, Any] = {
                "ack": ack, "body": body, "context": context, "client": client, "respond": respond, "scope": scope,
                "runtime": runtime,
                "db": scope.db if scope else None, "account": scope.account if scope else None,
                "member": scope.member if scope else None, "now": scope.now if scope else None,
            }
            return {name: available.get(name) for name in wanted}

        try:
            if scope is None and "scope" in wanted:
                raise TamioError("I couldn't tell which workspace this came from.", hint="Try again from Slack.")
            answer = await _run(fn, arguments, scope, runtime)
        except Exception as error:  # the boundary: every failure becomes a message
            if scope is not None:
                await scope.rollback()
            if context.get(ANSWERED_EARLY) and scope is not None:
                await _tell_late_failure(scope, client, error)
            else:
                context[ACKED] = True
                await _fail(ack, kind, body, scope, runtime, client, error)
            return
        if context.get(ANSWERED_EARLY) and scope is not None:
            await _answer_late(scope, client, kind, answer)
        else:
            context[ACKED] = True
            await _answer(ack, kind, answer)

    listener.__name__ = fn.__name__
    listener.__qualname__ = fn.__qualname__
    listener.__doc__ = fn.__doc__
    return listener

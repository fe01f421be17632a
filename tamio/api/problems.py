"""The API's one error boundary: every failure is RFC 9457 problem JSON, never a stack trace.

A ``TamioError`` keeps its status, title and message (its ``field_errors`` become ``errors``);
invalid input is 422 with one entry per field; aiohttp's own 404/405/413 are reshaped; a database
uniqueness race is 409; anything else is a 500 with a correlation id that is also in the log, so
an operator can find the traceback the client never sees.

    {"type": "urn:tamio:problem:invalid-input", "title": "Invalid input", "status": 422,
     "detail": "The request body is not valid.", "errors": [{"field": "amount", "message": "..."}]}
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any

import pydantic
from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError

from tamio.api.types import PATTERN_MESSAGES
from tamio.errors import TamioError

log = logging.getLogger("tamio.api")

PROBLEM_CONTENT_TYPE = "application/problem+json"
BEARER_CHALLENGE = 'Bearer realm="tamio"'


class FieldError(BaseModel):
    field: str = Field(description="the input that was wrong, dotted for nested fields (billing.amount)")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(description="a URI naming the kind of problem", examples=["urn:tamio:problem:not-found"])
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    errors: list[FieldError] | None = None
    correlation_id: str | None = Field(None, description="quote it to an operator; it is in the server log")


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "error"


def problem_response(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    errors: Iterable[FieldError] = (),
    correlation_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    title = title or HTTPStatus(status).phrase
    body = Problem(
        type=f"urn:tamio:problem:{_slug(title)}",
        title=title,
        status=status,
        detail=detail,
        errors=list(errors) or None,
        correlation_id=correlation_id,
    )
    return web.Response(
        status=status,
        text=json.dumps(body.model_dump(mode="json", exclude_none=True)),
        content_type=PROBLEM_CONTENT_TYPE,
        headers=headers,
    )


def unauthorized(detail: str, *, token_presented: bool) -> web.Response:
    challenge = BEARER_CHALLENGE + (', error="invalid_token"' if token_presented else "")
    return problem_response(401, detail, title="Unauthorized", headers={"WWW-Authenticate": challenge})


def from_tamio_error(exc: TamioError) -> web.Response:
    field_errors = getattr(exc, "field_errors", None) or {}
    errors = [FieldError(field=str(name), message=str(message)) for name, message in field_errors.items()]
    return problem_response(exc.status, str(exc), title=exc.title, errors=errors)


def _location(loc: tuple[int | str, ...], prefix: str) -> str:
    parts = [str(part) for part in loc]
    return ".".join([prefix, *parts]) if prefix and parts else (prefix or ".".join(parts) or "body")


def _message(error: Any) -> str:
    """Pydantic's message, except a pattern mismatch says what the text should be, not the regex."""
    if error["type"] == "string_pattern_mismatch":
        return PATTERN_MESSAGES.get(str(error.get("ctx", {}).get("pattern", "")), "has characters that are not allowed here")
    return str(error["msg"]).removeprefix("Value error, ")


def from_validation_error(exc: pydantic.ValidationError, *, where: str) -> web.Response:
    """422 with one entry per wrong field; ``where`` is "body" or "query"."""
    prefix = "" if where == "body" else where
    errors = [
        FieldError(field=_location(tuple(error["loc"]), prefix), message=_message(error))
        for error in exc.errors(include_url=False, include_input=False)
    ]
    detail = f"The request {'body' if where == 'body' else 'query string'} is not valid; see errors."
    return problem_response(422, detail, title="Invalid input", errors=errors)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except TamioError as exc:
        return from_tamio_error(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        detail = {
            404: f"There is no {request.method} {request.path} in this API; see /api/v1/openapi.json.",
            405: f"{request.path} does not answer {request.method}; see /api/v1/openapi.json.",
            413: "The request body is too large.",
        }.get(exc.status, exc.reason)
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return problem_response(exc.status, detail, headers=headers)
    except IntegrityError:
        log.info("integrity error on %s %s", request.method, request.path, exc_info=True)
        return problem_response(409, "That conflicts with data saved at the same time; reload and try again.", title="Conflict")
    except Exception:
        correlation_id = uuid.uuid4().hex[:12]
        log.exception("unexpected error on %s %s (correlation id %s)", request.method, request.path, correlation_id)
        return problem_response(
            500,
            f"Something went wrong on our side and nothing was saved. Quote correlation id {correlation_id}.",
            title="Internal Server Error",
            correlation_id=correlation_id,
        )


def problem_schema_response(status: int) -> dict[str, Any]:
    """The OpenAPI response object for an error status."""
    return {
        "description": HTTPStatus(status).phrase,
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }

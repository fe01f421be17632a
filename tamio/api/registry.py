"""The route registry and the HTTP edge every API route goes through.

Why one registry: each route declares its method, path, role and pydantic models once; the same
declaration validates requests, serialises responses and generates the OpenAPI document, so the
document cannot drift from what the server does.

What the edge does, in order, for every request: read the clock once; check the bearer token
(401); check the member's role (403); refuse ids that cannot exist (404); validate the query and
the JSON body (422); run the route's ``prefetch`` outside any transaction (a download), and for a
route that shows alerts or cards (``current``) the account's waiting refresh; then open
one transaction, load the account and member, and call the handler, which gets a ``Call`` with
the session, the account, the member, ``now`` and ``today`` in the account's time zone. The
transaction commits only when the handler returns.

    router = Router("Data")

    @router.route("GET", "/data/clients/{client_id}", response=ClientOut, summary="Get a client")
    async def get_client(call: Call) -> ClientOut:
        return client_out(await counterparties.get_client(call.db, account_id=call.account.id,
                                                          client_id=call.path["client_id"]))
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pydantic
from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.accounts.models import Account, Member, Role
from tamio.accounts.permissions import Operation, check, required_role
from tamio.accounts.tokens import VerifiedToken, verify_token
from tamio.api.problems import from_validation_error, unauthorized
from tamio.api.types import is_id
from tamio.config import Settings
from tamio.currency.feed import RateFeed
from tamio.errors import MissingExchangeRate, NotFound, ValidationError
from tamio.scheduler.refresh import up_to_date

M = TypeVar("M", bound=BaseModel)
Handler = Callable[["Call"], Awaitable[BaseModel | None]]
Prefetch = Callable[[Any, Settings], Awaitable[Any]]
AfterCommit = Callable[[BaseModel], Awaitable[BaseModel]]

SETTINGS = web.AppKey("tamio_settings", Settings)
SESSIONS: web.AppKey[async_sessionmaker[AsyncSession]] = web.AppKey("tamio_sessions")
RATE_FEED = web.AppKey("tamio_rate_feed", RateFeed)
# The clock the edge reads once per request: the wall clock, or the Slack app's (a test's fake one).
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("tamio_clock")
_PATH_PARAM = re.compile(r"{([a-z_]+)}")
_INTEGRAL_LIMIT = Decimal(2) ** 63
_CHUNK = 1 << 16


@dataclass(frozen=True)
class Call:
    """What a handler gets: one transaction, who is calling, and the clock read once at the edge."""

    db: AsyncSession
    account: Account
    member: Member
    settings: Settings
    now: datetime
    today: date
    path: Mapping[str, str]
    parsed_body: BaseModel | None = None
    parsed_query: BaseModel | None = None
    prefetched: Any = None
    sessions: async_sessionmaker[AsyncSession] | None = None
    deferred: list[AfterCommit] = field(default_factory=list)

    def after_commit(self, work: AfterCommit) -> None:
        """Run ``work`` once this request's transaction has committed (never when it rolls back).

        It gets the handler's response model and returns the one to send (e.g. with an outcome added).
        """
        self.deferred.append(work)

    @property
    def actor(self) -> str:
        """The audit trail's actor for changes made through the API."""
        return self.member.id

    def body(self, model: type[M]) -> M:
        if not isinstance(self.parsed_body, model):
            raise TypeError(f"this route's body is {type(self.parsed_body).__name__}, not {model.__name__}")
        return self.parsed_body

    def query(self, model: type[M]) -> M:
        if not isinstance(self.parsed_query, model):
            raise TypeError(f"this route's query is {type(self.parsed_query).__name__}, not {model.__name__}")
        return self.parsed_query


@dataclass(frozen=True)
class Upload:
    """A route whose body may also be a file: sent raw (``curl --data-binary @file``, any type but
    JSON) or as the first file of a ``multipart/form-data`` form (``curl -F file=@file``).

    ``to_body`` turns the file's bytes into the route's JSON body; ``media_types`` are the raw types
    the OpenAPI document lists; at most ``max_bytes`` are read.
    """

    to_body: Callable[[bytes], dict[str, Any]]
    media_types: tuple[str, ...]
    max_bytes: int


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # below /api/v1, e.g. "/data/clients/{client_id}"
    handler: Handler
    summary: str
    tag: str
    permission: Operation = Operation.VIEW
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None  # None: 204 No Content
    status: int = 200
    errors: tuple[int, ...] = ()
    prefetch: Prefetch | None = None
    description: str = ""
    upload: Upload | None = None
    current: bool = False  # it shows alerts or cards: the account's waiting refresh is answered first

    @property
    def operation_id(self) -> str:
        return self.handler.__name__

    @property
    def path_params(self) -> list[str]:
        return _PATH_PARAM.findall(self.path)

    @property
    def role(self) -> Role:
        """The least role that may call it (tamio.accounts.permissions)."""
        return required_role(self.permission)

    @property
    def doing(self) -> str:
        return self.summary[:1].lower() + self.summary[1:]


@dataclass
class Router:
    tag: str
    routes: list[Route] = field(default_factory=list)

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        permission: Operation = Operation.VIEW,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        errors: tuple[int, ...] = (),
        prefetch: Prefetch | None = None,
        description: str = "",
        upload: Upload | None = None,
        current: bool = False,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes.append(
                Route(
                    method=method.upper(), path=path, handler=handler, summary=summary, tag=self.tag, permission=permission,
                    body=body, query=query, response=response, status=status, errors=errors, prefetch=prefetch,
                    description=description or (handler.__doc__ or "").strip(), upload=upload, current=current,
                )
            )
            return handler

        return register


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    return secret.strip()


def _require_role(verified: VerifiedToken, route: Route) -> None:
    check(verified.role, route.permission, doing=route.doing, token=True)


def _query_values(request: web.Request) -> dict[str, str]:
    values: dict[str, str] = {}
    for key in request.query:
        found = request.query.getall(key)
        if len(found) > 1:
            message = f"give {key} once"
            raise ValidationError(f"The query string names {key} {len(found)} times.", field_errors={f"query.{key}": message})
        values[key] = found[0]
    return values


def _integral_numbers_as_integers(raw: bytes) -> bytes:
    """JSON Schema counts 43.0 as an integer; strict pydantic does not. Rewrite such numbers as 43.

    Amounts are strings, so no amount is touched; a non-integral number, or a body that is not JSON
    (pydantic then says why), is passed through as it came.
    """
    changed = False

    def number(text: str) -> float | int:
        nonlocal changed
        try:
            value = Decimal(text)
        except InvalidOperation:  # pragma: no cover - json only calls this with a JSON number
            return float(text)
        if value.is_finite() and value == value.to_integral_value() and abs(value) < _INTEGRAL_LIMIT:
            changed = True
            return int(value)
        return float(text)

    try:
        parsed = json.loads(raw, parse_float=number)
    except (ValueError, RecursionError):
        return raw
    return json.dumps(parsed).encode() if changed else raw


async def _read_limited(read_chunk: Callable[[int], Awaitable[bytes]], limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await read_chunk(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=size)
        chunks.append(chunk)
    return b"".join(chunks)


async def _upload_or_json(request: web.Request, upload: Upload) -> bytes:
    """The JSON body of an upload route's request: as sent, or made from the file sent instead."""
    if request.content_type == "multipart/form-data":
        try:
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if isinstance(part, BodyPartReader) and (part.filename or part.name == "file"):
                    return json.dumps(upload.to_body(await _read_limited(part.read_chunk, upload.max_bytes))).encode()
                await part.release()
        except (ValueError, AssertionError, LookupError, HttpProcessingError) as exc:  # no boundary, a broken part or header
            reason = " ".join(str(getattr(exc, "message", exc)).split())
            raise ValidationError(f"The body is not a valid multipart form: {reason}.", field_errors={"file": "not a valid form"}) from exc
        message = "send the file as the form field `file`"
        raise ValidationError("The form has no file; e.g. `curl -F file=@eurofxref-daily.xml ...`.", field_errors={"file": message})
    raw = await _read_limited(request.content.read, upload.max_bytes * 4 // 3 + _CHUNK)  # room for the file as base64 in JSON
    if "json" in request.content_type or raw.lstrip()[:1] in (b"{", b""):
        return raw
    if len(raw) > upload.max_bytes:
        raise web.HTTPRequestEntityTooLarge(max_size=upload.max_bytes, actual_size=len(raw))
    return json.dumps(upload.to_body(raw)).encode()


async def _parse_body(request: web.Request, route: Route) -> BaseModel:
    assert route.body is not None
    raw = await (_upload_or_json(request, route.upload) if route.upload is not None else request.read())
    if not raw:  # no body at all: the model's defaults (a body of whitespace is not JSON)
        raw = b"{}"
    return route.body.model_validate_json(_integral_numbers_as_integers(raw), strict=True)


def endpoint(route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The aiohttp handler for one route: the edge described in the module docstring."""

    async def handle(request: web.Request) -> web.StreamResponse:
        now = request.app[CLOCK]()
        settings = request.app[SETTINGS]
        sessions = request.app[SESSIONS]
        secret = _bearer(request)
        if secret is None:
            return unauthorized("Send an API token: `Authorization: Bearer tamio_...`.", token_presented=False)
        async with sessions() as db, db.begin():
            verified = await verify_token(db, secret=secret, now=now)
        if verified is None:
            return unauthorized("That API token is not valid (unknown or revoked).", token_presented=True)
        _require_role(verified, route)
        path = dict(request.match_info)
        for name, value in path.items():
            if not is_id(value):
                raise NotFound(f"There is no {name.removesuffix('_id').replace('_', ' ')} `{value[:60]}` in this account.")
        try:
            query = route.query.model_validate(_query_values(request)) if route.query else None
        except pydantic.ValidationError as exc:
            return from_validation_error(exc, where="query")
        try:
            body = await _parse_body(request, route) if route.body else None
        except pydantic.ValidationError as exc:
            return from_validation_error(exc, where="body")
        prefetched = await route.prefetch(body, settings) if route.prefetch else None
        if route.current:  # what it shows follows the changes already made (as in Slack and the CLI)
            await up_to_date(sessions, account_id=verified.account_id, now=now, settings=settings)
        for last_try in (False, True):  # a second try only after fetching a missing rate (see ``RateFeed``)
            try:
                async with sessions() as db, db.begin():
                    account = await db.get(Account, verified.account_id)
                    member = await db.get(Member, verified.member_id)
                    if account is None or member is None or member.user_id != account.id:
                        return unauthorized("That API token's member no longer exists.", token_presented=True)
                    call = Call(
                        db=db, account=account, member=member, settings=settings, now=now,
                        today=now.astimezone(ZoneInfo(account.timezone)).date(), path=path,
                        parsed_body=body, parsed_query=query, prefetched=prefetched, sessions=sessions,
                    )
                    result = await route.handler(call)
                break
            except MissingExchangeRate as missing:
                if last_try or RATE_FEED not in request.app or not await request.app[RATE_FEED].fetch_for(sessions, missing):
                    raise
        for work in call.deferred:
            if result is not None:
                result = await work(result)
        if route.response is None:
            return web.Response(status=204)
        if not isinstance(result, route.response):
            raise TypeError(f"{route.operation_id} returned {type(result).__name__}, not {route.response.__name__}")
        return web.Response(status=route.status, text=json.dumps(result.model_dump(mode="json")), content_type="application/json")

    handle.__name__ = route.operation_id
    return handle

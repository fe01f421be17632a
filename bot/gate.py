"""The gate of ``POST /slack/events``: the signature first, then the body, then replays, then Bolt.

Bolt parses a request's body before it checks the signature, so anyone could make it fail with a
traceback (a non-numeric timestamp, ``payload={not json``, a JSON list, a truncated or non-UTF-8
body). This handler runs first and answers without a stack trace:

- 401 unless ``X-Slack-Signature`` is ``v0=HMAC_SHA256(signing secret, "v0:{ts}:{raw body}")`` and
  ``X-Slack-Request-Timestamp`` is a number within five minutes of now (checked on the raw bytes);
- 400 unless the signed body is UTF-8 and parses the way Bolt will read it, into a JSON object;
- a signed request seen before (same identity: the team and the ``trigger_id`` Slack gives every
  command and interaction, else the signature) is refused: 409, or 200 for events, whose retries
  Slack sends on purpose and ``bot.workspace`` already drops by ``event_id``. This process
  remembers five minutes of identities; a listener that changes something also records the
  identity in the database in its own transaction (``Scope.commit``), so a replay sent to another
  replica changes nothing either.

Without a signing secret (Socket Mode) the route answers 404: nothing may reach Bolt unsigned.

    web_app.router.add_post("/slack/events", SlackGate(bolt, settings.slack_signing_secret).handle)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

log = logging.getLogger("tamio.bot")

WINDOW_SECONDS = 300
REQUEST_KEY_HEADER = "X-Tamio-Request-Key"  # set here only: what Scope.commit records


class SeenRequests:
    """Identities of signed requests answered in the last five minutes (in this process)."""

    def __init__(self, clock: Callable[[], float] = time.time, limit: int = 100_000) -> None:
        self.clock, self.limit = clock, limit
        self._seen: OrderedDict[str, float] = OrderedDict()

    def first_time(self, key: str) -> bool:
        now = self.clock()
        while self._seen and (next(iter(self._seen.values())) < now - WINDOW_SECONDS or len(self._seen) > self.limit):
            self._seen.popitem(last=False)
        if key in self._seen:
            return False
        self._seen[key] = now
        return True


def signature_problem(secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float) -> str | None:
    """Why the request is not Slack's (None: it is)."""
    if not timestamp or not signature:
        return "missing signature headers"
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        return "the timestamp is not a number"
    if abs(now - int(timestamp)) > WINDOW_SECONDS:
        return "the timestamp is more than five minutes off"
    expected = "v0=" + hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        return "the signature does not match"
    return None


def parse_slack_body(text: str, content_type: str | None) -> dict[str, Any]:
    """The body as Bolt will read it (``slack_bolt.request.internals.parse_body``), or ValueError."""
    if not text:
        raise ValueError("the body is empty")
    if content_type == "application/json" or text.startswith("{"):
        found = json.loads(text)
    elif "payload" in text:
        payload = dict(parse_qsl(text, keep_blank_values=True)).get("payload")
        found = json.loads(payload) if payload is not None else {}
    else:
        found = dict(parse_qsl(text, keep_blank_values=True, strict_parsing=True))
    if not isinstance(found, dict):
        raise ValueError("the body is not a JSON object")
    return found


def request_identity(body: dict[str, Any], signature: str) -> str | None:
    """What makes a command or interaction the same one again; None for events (deduplicated by event_id)."""
    if body.get("type") in ("event_callback", "url_verification", "block_suggestion"):
        return None  # events: by event_id; suggestions only read (and two keystrokes may sign alike)
    team = body.get("team_id")
    if not team and isinstance(body.get("team"), dict):
        team = body["team"].get("id")
    trigger = body.get("trigger_id")
    basis = f"{team}:trigger:{trigger}" if isinstance(trigger, str) and trigger else f"signature:{signature}"
    return hashlib.sha256(("slack-request:" + basis).encode()).hexdigest()


class SlackGate:
    """The handler of ``POST /slack/events``: checks, then hands the request to Bolt."""

    def __init__(self, bolt: AsyncApp, signing_secret: str | None, *, seen: SeenRequests | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.bolt, self.signing_secret, self.clock = bolt, signing_secret, clock
        self.seen = seen or SeenRequests(clock)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if not self.signing_secret:
            return web.Response(status=404, text="This Tamio receives Slack's requests over Socket Mode.")
        body = await request.read()
        signature = request.headers.get("X-Slack-Signature")
        problem = signature_problem(self.signing_secret, request.headers.get("X-Slack-Request-Timestamp"), signature, body,
                                    self.clock())
        if problem is not None or signature is None:
            return web.Response(status=401, text=f"Not a signed Slack request: {problem}.")
        try:
            text = body.decode("utf-8")
            parsed = parse_slack_body(text, request.content_type)
        except (UnicodeDecodeError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
            log.info("refused a signed request whose body Slack would not send: %s", type(exc).__name__)
            return web.Response(status=400, text="The body is not a Slack request.")
        identity = request_identity(parsed, signature)
        if identity is not None and not self.seen.first_time(identity):
            log.warning("refused a replayed Slack request (%s)", parsed.get("command") or parsed.get("type"))
            return web.Response(status=409, text="This request was already handled.")
        headers = {k: v for k, v in request.headers.items() if k.lower() != REQUEST_KEY_HEADER.lower()}
        if identity is not None:
            headers[REQUEST_KEY_HEADER] = identity
        bolt_request = AsyncBoltRequest(body=text, query=request.query_string, headers=headers)
        return await to_aiohttp_response(await self.bolt.async_dispatch(bolt_request))

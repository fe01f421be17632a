"""A local Slack: a real aiohttp server on 127.0.0.1 that answers the Web API like Slack does.

Bot tests and the browser sandbox of ``make run`` point the app's ``AsyncWebClient`` at it and then
read what the app did from its model of the workspace, not from mocks:

    async with SlackStandIn(users={"U1": {"name": "maria", "is_admin": True}}) as slack:
        slack.add_channel("C1", "finance")            # everyone and the app are in it
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        await client.chat_postMessage(channel="C1", text="Payroll on Fri 11 Dec is at risk")
        assert slack.messages("C1")[0]["text"].startswith("Payroll")

What it serves besides ``/api/<method>`` (see ``web_api.METHODS``):

- ``/upload/v1/<file_id>``: the upload URL of ``files.getUploadURLExternal`` (raw bytes or multipart);
- ``/files/<file_id>``: the uploaded bytes (``url_private``; needs the bearer token, as in Slack);
- ``/response/<token>``: response URLs made by ``new_response_url``, applied like Slack applies them;
- ``/oauth/v2/authorize``: approves at once and redirects to the app with a code for ``oauth.v2.access``.

``calls`` keeps every request in order as ``(method, params)``: Web API methods by name, plus
``"upload"`` and ``"response_url"``. It refuses what Slack refuses (model in ``workspace``,
``conversations``, ``tokens``, ``rate_limits``): bad, revoked, expired tokens; scopes a token was
not granted (``missing_scope`` with ``needed``/``provided``); channels the app is not in or cannot
see (``not_in_channel``, ``channel_not_found``); Block Kit limits (``invalid_blocks``, or
``invalid_arguments`` for ``views.*``); stale trigger ids; response URLs past 30 minutes or 5 uses;
image blocks naming a file Slack is still processing; calls past a method's rate limit (429 with
``Retry-After``). And it fails on purpose for reliability tests (``failures.FailurePlan``):
``fail_next(2, status=429)``, ``failure_rate(0.2, seed=7)``; a ``"drop"`` applies the call (the
message is posted) and then closes the connection without answering.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Literal

from aiohttp import BodyPartReader, web

from slack_sandbox.calls import Call
from slack_sandbox.errors import SlackError
from slack_sandbox.failures import FailurePlan
from slack_sandbox.oauth import OAuthServer
from slack_sandbox.rate_limits import RateLimits
from slack_sandbox.tokens import TOKEN_LIFETIME_S, Grant, Grants
from slack_sandbox.web_api import METHODS
from slack_sandbox.workspace import ResponseTarget, Upload, Workspace, guess_mimetype

DEFAULT_BOT_SCOPES = "commands,chat:write,chat:write.public,im:write,files:write,files:read,users:read,channels:history"


class SlackStandIn:
    """One workspace with the app installed, served over HTTP on 127.0.0.1.

    ``bot_scopes`` are the scopes of the bot token (the app's manifest, in the app's tests);
    ``channels`` are public channels made at start with everyone and the app in them (``add_channel``
    makes others: private, without the app, ...). ``enterprise`` puts the workspace in an Enterprise
    Grid org (id, name); ``token_rotation`` makes installs hand out expiring tokens.
    """

    def __init__(
        self,
        bot_token: str = "xoxb-test",
        team_id: str = "T0001",
        team_name: str = "Tamio Test",
        bot_user_id: str = "U0BOT",
        users: dict[str, dict[str, Any]] | None = None,
        *,
        bot_scopes: str | tuple[str, ...] = DEFAULT_BOT_SCOPES,
        channels: dict[str, str] | None = None,
        client_id: str = "1111.2222",
        client_secret: str = "standin-client-secret",
        oauth_redirect_uri: str | None = None,
        token_rotation: bool = False,
        token_lifetime_s: float = TOKEN_LIFETIME_S,
        enterprise: tuple[str, str] | None = None,
        public_files: bool = False,
        rate_limits: RateLimits | None = None,
        clock: Callable[[], float] = time.time,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.bot_token = bot_token
        self.client_id, self.client_secret = client_id, client_secret
        self.public_files = public_files
        self.clock = clock
        self.workspace = Workspace(
            team_id=team_id,
            team_name=team_name,
            bot_user_id=bot_user_id,
            users=dict(users or {}),
            clock=clock,
        )
        for channel_id, name in (channels or {}).items():
            self.workspace.add_channel(channel_id, name)
        scopes = tuple(s for s in bot_scopes.split(",") if s) if isinstance(bot_scopes, str) else tuple(bot_scopes)
        self.grants = Grants()
        self.grants.add(bot_token, Grant(user=bot_user_id, scopes=scopes, team_id=team_id,
                                         enterprise_id=enterprise[0] if enterprise else None))
        self.oauth = OAuthServer(self.workspace, self.grants, bot_token=bot_token, client_id=client_id,
                                 client_secret=client_secret, redirect_uri=oauth_redirect_uri,
                                 token_rotation=token_rotation, enterprise=enterprise, default_scope=",".join(scopes),
                                 token_lifetime_s=token_lifetime_s)
        self.rate_limits = rate_limits if rate_limits is not None else RateLimits()
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._failure_plan = FailurePlan()
        self._host, self._port = host, port
        self._runner: web.AppRunner | None = None
        self.app = web.Application(client_max_size=100 * 1024 * 1024)  # add routes before start()
        self.app.router.add_route("*", "/api/{method}", self._api)
        self.app.router.add_post("/upload/v1/{file_id}", self._upload)
        self.app.router.add_get("/files/{file_id}", self._download)
        self.app.router.add_get("/files/{file_id}/{name}", self._download)
        self.app.router.add_post("/response/{token}", self._response_url)
        self.app.router.add_get("/oauth/v2/authorize", self.oauth.authorize)

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        await site.start()
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self._port = port
        self.workspace.base_url = f"http://{host}:{port}/"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SlackStandIn:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        if not self.workspace.base_url:
            raise RuntimeError("the stand-in is not started: await start() or use `async with`")
        return self.workspace.base_url

    @property
    def api_url(self) -> str:
        return self.base_url + "api/"

    # -- what the app did ----------------------------------------------------------------------

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """The channel's messages, oldest first, as they are now (chat.update applied in place)."""
        return self.workspace.messages(channel)

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        return self.workspace.find_message(channel, ts)

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == method]

    @property
    def ephemerals(self) -> list[dict[str, Any]]:
        return self.workspace.ephemerals

    @property
    def views(self) -> dict[str, dict[str, Any]]:
        return self.workspace.view_store.views

    @property
    def home_views(self) -> dict[str, dict[str, Any]]:
        return self.workspace.view_store.home_views

    @property
    def uploads(self) -> dict[str, Upload]:
        return self.workspace.uploads

    def dm_channel(self, user_id: str) -> str:
        """The id of the app's DM with a user (what ``conversations.open`` returns)."""
        return self.workspace.open_dm([user_id])

    # -- what people in the workspace do -------------------------------------------------------

    def post_as_user(self, channel: str, user: str, text: str) -> dict[str, Any]:
        return self.workspace.post_message(channel=channel, user=user, text=text, blocks=None)

    def add_channel(
        self, channel_id: str, name: str | None = None, *, private: bool = False, members: Any = None,
        bot: bool = True, is_ext_shared: bool = False,
    ) -> str:
        """A channel (public unless ``private``); every user is in it unless ``members`` says who, the app unless ``bot=False``."""
        self.workspace.add_channel(channel_id, name or channel_id.lower(), kind="private" if private else "public",
                                   members=members, bot=bot, is_ext_shared=is_ext_shared)
        return channel_id

    def add_dm(self, *users: str) -> str:
        """A DM (two people) or group DM (more) between people, without the app."""
        return self.workspace.conversations.dm(users).id

    def remove_app_from(self, channel_id: str) -> None:
        """Someone removed the app from the channel (``/kick @app``)."""
        self.workspace.conversations.by_id[channel_id].members.discard(self.workspace.bot_user_id)

    def archive(self, channel_id: str) -> None:
        self.workspace.conversations.by_id[channel_id].is_archived = True

    def refuse_channel(self, channel: str, error: str = "not_in_channel") -> None:
        """From now on calls naming this channel fail with ``error`` (e.g. ``is_archived``)."""
        self.workspace.refused_channels[channel] = error

    def withhold_scope(self, scope: str, token: str | None = None) -> None:
        """From now on the token (the bot's by default) lacks ``scope``: its methods answer missing_scope."""
        grant = self.grants.by_token[token or self.bot_token]
        grant.scopes = tuple(s for s in grant.scopes if s != scope)

    def grant_scope(self, scope: str, token: str | None = None) -> None:
        grant = self.grants.by_token[token or self.bot_token]
        if scope not in grant.scopes:
            grant.scopes = (*grant.scopes, scope)

    def scopes_of(self, token: str | None = None) -> tuple[str, ...]:
        return self.grants.by_token[token or self.bot_token].scopes

    def uninstall(self) -> None:
        """The workspace removed the app: every token of it answers ``account_inactive`` from now on."""
        self.grants.set_state(team_id=self.workspace.team_id, state="inactive")

    def revoke_tokens(self, user: str | None = None) -> None:
        """The tokens (of one user, if given) were revoked: they answer ``token_revoked`` from now on."""
        self.grants.set_state(team_id=self.workspace.team_id, state="revoked", user=user)

    def finish_processing(self, file_id: str | None = None) -> None:
        """Slack is done with the file (every file, if none is named): files.info shows it whole, blocks may name it."""
        for upload in self.uploads.values():
            if file_id in (None, upload.file_id):
                upload.processing_polls = 0

    def new_trigger_id(self, user_id: str, view_id: str | None = None, channel: str | None = None) -> str:
        """A trigger id as Slack puts in an interaction: single use, valid for 3 seconds."""
        return self.workspace.view_store.new_trigger(user_id, view_id, channel)

    def new_response_url(
        self, channel: str, user: str, message_ts: str | None = None, *, is_ephemeral: bool = False
    ) -> str:
        target = ResponseTarget(channel=channel, user=user, message_ts=message_ts, is_ephemeral=is_ephemeral)
        return f"{self.base_url}response/{self.workspace.new_response_token(target)}"

    def new_oauth_code(self, user_id: str, *, scope: str = DEFAULT_BOT_SCOPES, user_scope: str = "",
                       org_wide: bool = False) -> str:
        return self.oauth.new_code(user_id, scope=scope, user_scope=user_scope, org_wide=org_wide)

    def apply_command_ack(
        self, *, channel: str, user: str, status: int, body: str, content_type: str
    ) -> None:
        """Show a slash command's ack body to the user, as Slack does (ephemeral unless in_channel)."""
        if status != 200 or not body.strip():
            return
        payload = json.loads(body) if "json" in content_type else {"text": body}
        self.workspace.deliver_response(ResponseTarget(channel=channel, user=user), payload)

    def apply_view_submission_ack(self, *, view_id: str, user: str, status: int, body: str) -> None:
        """Close, clear, update or push views after a ``view_submission`` ack, as Slack does."""
        if status != 200:
            return
        payload = json.loads(body) if body.strip() else {}
        action = payload.get("response_action")
        if action in (None, "clear"):
            self.workspace.view_store.close(view_id, clear=action == "clear")
        elif action == "update":
            self.workspace.view_store.update(
                payload.get("view"), view_id=view_id, external_id=None, hash_=None
            )
        elif action == "push":
            self.workspace.view_store.push(
                self.workspace.view_store.new_trigger(user, view_id), payload.get("view")
            )

    # -- failure injection ---------------------------------------------------------------------

    def fail_next(
        self, n: int = 1, status: int | Literal["drop"] = 429, retry_after: int = 1, method: str | None = None
    ) -> None:
        """The next ``n`` calls (to ``method`` only, if given) fail: an HTTP status, or ``"drop"``."""
        self._failure_plan.fail_next(n, status, retry_after, method)

    def failure_rate(
        self,
        p: float,
        seed: int = 0,
        kinds: tuple[str, ...] = ("429", "500", "drop"),
        methods: tuple[str, ...] | None = None,
    ) -> None:
        """Each call fails with probability ``p`` (0 turns it off), with a kind drawn from ``kinds``."""
        self._failure_plan.failure_rate(p, seed, kinds, methods)

    @property
    def failures(self) -> list[tuple[str, str]]:
        """(method, kind) of each failure served, in order."""
        return self._failure_plan.log

    # -- HTTP ----------------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            params = await _read_params(request)
        except SlackError as error:
            return web.json_response({"ok": False, "error": error.error})
        token = _bearer(request) or params.pop("token", None)
        self.calls.append((method, params))
        return self._failure_plan.serve(request, method, lambda: self._answer(method, params, token, request))

    def _answer(self, method: str, params: dict[str, Any], token: str | None, request: web.Request) -> web.Response:
        if method == "oauth.v2.access":
            return web.json_response(self.oauth.access(params, request, now=self.clock()))
        if method not in METHODS:
            return web.json_response({"ok": False, "error": "unknown_method", "req_method": method})
        try:
            grant = self.grants.check(token, method, now=self.clock())
        except SlackError as error:
            return web.json_response({"ok": False, "error": error.error, **error.extra})
        channel = params.get("channel") or params.get("channel_id")
        wait = self.rate_limits.take(method, token=str(token), channel=str(channel) if channel else None, now=self.clock())
        if wait is not None:
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": str(wait)})
        scopes = {"x-oauth-scopes": ",".join(grant.scopes)}  # Slack says on every answer what the token may do
        try:
            answer = METHODS[method](self.workspace, Call(params=params, actor=grant.user, grant=grant))
        except SlackError as error:
            return web.json_response({"ok": False, "error": error.error, **error.extra}, headers=scopes)
        return web.json_response({"ok": True, **answer}, headers=scopes)

    async def _response_url(self, request: web.Request) -> web.Response:
        try:
            payload = await _read_params(request)
        except SlackError as error:
            return web.json_response({"ok": False, "error": error.error}, status=400)
        self.calls.append(("response_url", payload))

        def answer() -> web.Response:
            try:
                target = self.workspace.use_response_url(request.match_info["token"])
            except SlackError as error:
                return web.json_response({"ok": False, "error": error.error}, status=404)
            try:
                self.workspace.deliver_response(target, payload)
            except SlackError as error:
                return web.json_response({"ok": False, "error": error.error, **error.extra}, status=400)
            return web.json_response({"ok": True})

        return self._failure_plan.serve(request, "response_url", answer)

    async def _upload(self, request: web.Request) -> web.Response:
        upload = self.workspace.uploads.get(request.match_info["file_id"])
        if upload is None:
            return web.Response(status=404, text="unknown upload url", content_type="text/plain")
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            part = await reader.next()
            content = await part.read() if isinstance(part, BodyPartReader) else b""
        else:
            content = await request.read()
        upload.content = bytes(content)
        self.calls.append(("upload", {"file_id": upload.file_id, "size": len(upload.content)}))
        return web.Response(text=f"OK - {len(upload.content)}", content_type="text/plain")

    async def _download(self, request: web.Request) -> web.Response:
        if not self.public_files and _bearer(request) not in self.grants.by_token:
            return web.Response(
                status=403, text="the file needs the app's bearer token", content_type="text/plain"
            )
        upload = self.workspace.uploads.get(request.match_info["file_id"])
        if upload is None or upload.content is None:
            return web.Response(status=404, text="file not found", content_type="text/plain")
        mimetype = guess_mimetype(upload.filename)
        headers = (
            {"Content-Disposition": f'attachment; filename="{upload.filename}"'}
            if "download" in request.query
            else {}
        )
        return web.Response(body=upload.content, content_type=mimetype, headers=headers)


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() or None if header.startswith("Bearer ") else None


async def _read_params(request: web.Request) -> dict[str, Any]:
    """Query string, then form fields or a JSON object body: every way slack_sdk sends parameters."""
    params: dict[str, Any] = dict(request.query)
    if not request.body_exists:
        return params
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError as exc:
            raise SlackError("invalid_json") from exc
        if not isinstance(body, dict):
            raise SlackError("invalid_json")
        params.update(body)
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        params.update({key: value for key, value in form.items() if isinstance(value, str)})
        if isinstance(params.get("payload"), str) and request.path.startswith("/response/"):
            params.update(json.loads(params.pop("payload")))
    return params

"""The sandbox web page: a Slack workspace for Tamio in the browser, served by the Slack stand-in.

``install_page`` adds to the stand-in's aiohttp application (before ``start()``):

- ``GET /``: the page (``templates/index.html.j2`` + ``static/*.js``/``*.css``, plain JavaScript);
- ``GET /sandbox/state?user=U..&since=N``: the member's view of the workspace, long-polled (``feed``);
- ``POST /sandbox/command|action|submit|close|suggest|home``: what the person did, sent to the app
  as the Slack-signed request Slack would send (``player``);
- ``GET /sandbox/files/<id>``: uploaded files for the page (the stand-in's ``/files`` wants the
  bot token, as Slack does).

    slack = SlackStandIn(...)
    page = install_page(slack, sender, layout=layout, mailbox=mailbox)
    await slack.start()
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import jinja2
from aiohttp import web

from slack_sandbox.page.feed import ChangeFeed, Layout, snapshot
from slack_sandbox.page.mailbox import Mailbox
from slack_sandbox.page.player import BadRequest, Player, Surface
from slack_sandbox.signed import SlackSender
from slack_sandbox.standin import SlackStandIn
from slack_sandbox.workspace import guess_mimetype

log = logging.getLogger("tamio.sandbox")
HERE = Path(__file__).parent
SUGGESTED_COMMANDS = (
    ("forecast", "the 13-week cash forecast, with its chart"),
    ("run", "check the forecast for problems now and prepare actions"),
    ("actions", "what waits for a decision"),
    ("alerts", "open alerts"),
    ("add expense", "add a vendor expense in a form"),
    ("balance", "cash balances"),
    ("help", "everything Tamio understands"),
)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class SandboxPage:
    """The page's routes over one stand-in, one signed sender and (optionally) the mailbox."""

    def __init__(self, slack: SlackStandIn, sender: SlackSender, *, layout: Layout, mailbox: Mailbox | None) -> None:
        self.slack, self.layout, self.mailbox = slack, layout, mailbox
        self.player = Player(slack, sender)
        self.feed = ChangeFeed()
        self._people = {person.user_id for person in layout.people}
        self._templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True, undefined=jinja2.StrictUndefined
        )

    def install(self) -> None:
        app = self.slack.app
        app.middlewares.append(self.feed.middleware)
        app.on_shutdown.append(self._release_readers)
        if self.mailbox is not None:
            self.mailbox.on_change = self.feed.bump
        app.router.add_get("/", self._index)
        app.router.add_static("/sandbox/static", HERE / "static")
        app.router.add_get("/sandbox/state", self._state)
        app.router.add_get("/sandbox/files/{file_id}", self._file)
        app.router.add_post("/sandbox/command", self._guarded(self._command))
        app.router.add_post("/sandbox/action", self._guarded(self._action))
        app.router.add_post("/sandbox/submit", self._guarded(self._submit))
        app.router.add_post("/sandbox/close", self._guarded(self._close))
        app.router.add_post("/sandbox/suggest", self._guarded(self._suggest))
        app.router.add_post("/sandbox/home", self._guarded(self._home))

    async def _release_readers(self, app: web.Application) -> None:
        self.feed.close()

    # -- pages ---------------------------------------------------------------------------------

    async def _index(self, request: web.Request) -> web.Response:
        layout = self.layout
        config = {
            "team_name": layout.team_name,
            "channel_id": layout.channel_id,
            "channel_name": layout.channel_name,
            "app_name": layout.app_name,
            "people": [{"id": p.user_id, "name": p.name, "role": p.role} for p in layout.people],
            "commands": [{"text": f"/tamio {c}", "hint": h} for c, h in SUGGESTED_COMMANDS],
        }
        html = self._templates.get_template("index.html.j2").render(config=config, layout=layout, version=_static_version())
        return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-store"})

    async def _state(self, request: web.Request) -> web.Response:
        user = self._user(request.query.get("user"))
        try:
            since = int(request.query.get("since", "-1"))
        except ValueError:
            since = -1
        version = await self.feed.wait_past(since)
        mails = self.mailbox.mails if self.mailbox is not None else []
        body = snapshot(self.slack, user, layout=self.layout, mails=mails, version=version)
        return web.json_response(body, headers={"Cache-Control": "no-store"})

    async def _file(self, request: web.Request) -> web.Response:
        upload = self.slack.uploads.get(request.match_info["file_id"])
        if upload is None or upload.content is None:
            return web.Response(status=404, text="no such file", content_type="text/plain")
        mimetype = guess_mimetype(upload.filename)
        return web.Response(body=upload.content, content_type=mimetype, headers={"Cache-Control": "private, max-age=3600"})

    # -- what the person did -------------------------------------------------------------------

    def _guarded(self, handler: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]) -> Handler:
        async def route(request: web.Request) -> web.StreamResponse:
            try:
                data = await request.json()
                if not isinstance(data, dict):
                    raise BadRequest("send a JSON object")
                return web.json_response(await handler(data))
            except (BadRequest, json.JSONDecodeError) as exc:
                return web.json_response({"ok": False, "status": 400, "error": str(exc)}, status=400)
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.warning("the app did not answer: %r", exc)
                return web.json_response({
                    "ok": False, "status": 0,
                    "error": f"Tamio didn't answer at {self.player.sender.app_url} ({type(exc).__name__}). Is `tamio serve` running?",
                })

        return route

    def _user(self, user: Any) -> str:
        if not isinstance(user, str) or user not in self._people:
            raise web.HTTPBadRequest(text=f"user must be one of {sorted(self._people)}")
        return user

    def _person(self, data: dict[str, Any]) -> str:
        user = data.get("user")
        if not isinstance(user, str) or user not in self._people:
            raise BadRequest(f"user must be one of {sorted(self._people)}")
        return user

    async def _command(self, data: dict[str, Any]) -> dict[str, Any]:
        channel = data.get("channel")
        if not isinstance(channel, str) or not channel:
            raise BadRequest("say which channel the command was typed in")
        return await self.player.command(self._person(data), channel, str(data.get("text") or ""))

    async def _action(self, data: dict[str, Any]) -> dict[str, Any]:
        surface = Surface.from_json(data.get("surface"))
        return await self.player.click(self._person(data), surface, data.get("action"), data.get("state"))

    async def _submit(self, data: dict[str, Any]) -> dict[str, Any]:
        return await self.player.submit(self._person(data), _text(data, "view_id"), data.get("state"))

    async def _close(self, data: dict[str, Any]) -> dict[str, Any]:
        self.player.close(self._person(data), _text(data, "view_id"), all_views=bool(data.get("all")))
        return {"ok": True, "status": 200}

    async def _suggest(self, data: dict[str, Any]) -> dict[str, Any]:
        return await self.player.suggest(
            self._person(data), _text(data, "view_id"), _text(data, "block_id"), _text(data, "action_id"),
            str(data.get("value") or ""),
        )

    async def _home(self, data: dict[str, Any]) -> dict[str, Any]:
        return await self.player.home_opened(self._person(data))


def _text(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{name} is missing")
    return value


def _static_version() -> str:
    """A cache-busting token: the newest modification time of the static files."""
    return str(max(int(p.stat().st_mtime) for p in (HERE / "static").iterdir()))


def install_page(
    slack: SlackStandIn, sender: SlackSender, *, layout: Layout, mailbox: Mailbox | None = None
) -> SandboxPage:
    """Add the page's routes to ``slack.app`` (call before ``slack.start()``)."""
    page = SandboxPage(slack, sender, layout=layout, mailbox=mailbox)
    page.install()
    return page


__all__ = ["Layout", "SandboxPage", "install_page"]

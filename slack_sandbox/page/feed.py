"""What the sandbox page shows, as JSON: one member's view of the stand-in's workspace, and when it changed.

The page long-polls ``GET /sandbox/state?user=U0ADMIN&since=41``: the answer comes as soon as the
workspace's version passes 41 (or after ``LONG_POLL_S`` with the same version). The version is
bumped by an aiohttp middleware on the stand-in after every request that can change something
(every Web API call, response URL, upload and page action) and by the mailbox, so the stand-in
itself needs no hook.

    feed = ChangeFeed()
    slack.app.middlewares.append(feed.middleware)
    snapshot(slack, "U0ADMIN", layout=layout, mails=[], version=feed.version)
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from slack_sandbox.page.mailbox import Mail
from slack_sandbox.standin import SlackStandIn
from slack_sandbox.workspace import guess_mimetype

LONG_POLL_S = 25.0
QUIET_PATHS = ("/sandbox/state", "/sandbox/static/", "/sandbox/files/", "/files/")


@dataclass(frozen=True)
class Person:
    """Someone the page can be: a Slack user id, the name shown, and the role the demo gave them."""

    user_id: str
    name: str
    role: str


@dataclass(frozen=True)
class Layout:
    """The sandbox workspace: its name, the channel shown first (the digest channel) and its people."""

    team_name: str
    channel_id: str
    channel_name: str
    people: tuple[Person, ...]
    app_name: str = "Tamio"
    extra_channels: dict[str, str] = field(default_factory=dict)


class ChangeFeed:
    """A version number that waiting readers hear about when it moves."""

    def __init__(self) -> None:
        self.version = 0
        self.closed = False
        self._moved: asyncio.Event | None = None

    def close(self) -> None:
        """Answer every waiting reader now (the server is stopping: no long-poll may hold it up)."""
        self.closed = True
        if self._moved is not None:
            self._moved.set()
            self._moved = None

    @property
    def listening(self) -> bool:
        """Whether a reader is waiting for the next change."""
        return self._moved is not None and not self._moved.is_set()

    def bump(self) -> None:
        self.version += 1
        if self._moved is not None:
            self._moved.set()
            self._moved = None

    async def wait_past(self, version: int, timeout: float = LONG_POLL_S) -> int:  # noqa: ASYNC109
        """Return once ``self.version > version``, or after ``timeout`` seconds; the version then."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.version <= version and not self.closed:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            if self._moved is None:
                self._moved = asyncio.Event()
            try:
                await asyncio.wait_for(self._moved.wait(), remaining)
            except TimeoutError:
                break
        return self.version

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        finally:
            if not request.path.startswith(QUIET_PATHS):
                self.bump()


def _display_names(slack: SlackStandIn, layout: Layout) -> dict[str, str]:
    names = {slack.workspace.bot_user_id: layout.app_name}
    for user_id, info in slack.workspace.users.items():
        names[user_id] = str(info.get("display_name") or info.get("real_name") or info.get("name") or user_id)
    return names


def _open_modal(slack: SlackStandIn, user: str) -> dict[str, Any] | None:
    """The modal on top of the user's open stack, if any (the newest stack wins)."""
    store = slack.workspace.view_store
    for root, stack in reversed(list(store.view_stacks.items())):
        if stack and store.view_users.get(root) == user:
            top = store.views.get(stack[-1])
            if top is not None:
                return {**copy.deepcopy(top), "stack_depth": len(stack)}
    return None


def _files(slack: SlackStandIn) -> dict[str, dict[str, Any]]:
    shown: dict[str, dict[str, Any]] = {}
    for file_id, upload in slack.uploads.items():
        if upload.content is None:
            continue
        record = slack.workspace.file_object(upload)
        shown[file_id] = {
            "id": file_id,
            "name": record["name"],
            "title": record["title"],
            "mimetype": guess_mimetype(upload.filename),
            "url": f"/sandbox/files/{file_id}",
        }
    return shown


def snapshot(slack: SlackStandIn, user: str, *, layout: Layout, mails: list[Mail], version: int) -> dict[str, Any]:
    """Everything the page renders for ``user``: channels, their DM with the app, Home, modal, mail."""
    workspace = slack.workspace
    dm = workspace.open_dm([user])
    channels = {layout.channel_id: layout.channel_name, **layout.extra_channels}
    for channel_id in workspace.channels:
        if channel_id[:1] in "CG" and channel_id not in channels:
            channels[channel_id] = channel_id.lower()
    return {
        "version": version,
        "me": user,
        "team": {"id": workspace.team_id, "name": layout.team_name},
        "bot_user_id": workspace.bot_user_id,
        "users": _display_names(slack, layout),
        "channels": [{"id": cid, "name": name} for cid, name in channels.items()],
        "dm": dm,
        "messages": {cid: copy.deepcopy(workspace.messages(cid)) for cid in [*channels, dm]},
        "ephemerals": [copy.deepcopy(e) for e in workspace.ephemerals if e["user"] == user],
        "home": copy.deepcopy(workspace.view_store.home_views.get(user)),
        "modal": _open_modal(slack, user),
        "files": _files(slack),
        "mail": [mail.to_json() for mail in reversed(mails)],
    }

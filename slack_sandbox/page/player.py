"""What a person does on the sandbox page, sent to the app as Slack would send it.

The page posts small JSON requests ("user U0APPROVER clicked this button on that message, with
these values picked"); ``Player`` turns each into the Slack-signed request Slack itself would send
(``SlackSender``: slash commands, ``block_actions``, ``view_submission``, ``app_home_opened``; and
``block_suggestion`` for an ``external_select``, built here) and applies Slack's side of the ack.

    player = Player(slack, sender)
    await player.command("U0ADMIN", "C0CASHFLOW", "/tamio forecast")
    await player.click("U0APPROVER", Surface.message("C0CASHFLOW", ts), {"type": "button", ...}, state)
"""

from __future__ import annotations

import copy
import json
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp

from slack_sandbox.signed import AppReply, SlackSender
from slack_sandbox.standin import SlackStandIn

KNOWN_COMMANDS = ("/tamio",)
TYPED_MENTION = re.compile(r"(?<![\w@.])@([A-Za-z0-9][\w-]*(?:\.[\w-]+)*)")
ACTION_FIELDS = (
    "type", "action_id", "block_id", "value", "text", "style", "selected_option", "selected_options",
    "selected_date", "selected_time", "selected_user", "selected_channel", "url",
)


class BadRequest(ValueError):
    """The page sent something no Slack client would (an unknown view, a malformed action)."""


@dataclass(frozen=True)
class Surface:
    """Where an interaction happened: a message (maybe ephemeral) in a channel, or a view."""

    kind: str  # "message" | "view"
    channel: str | None = None
    ts: str | None = None
    is_ephemeral: bool = False
    view_id: str | None = None

    @classmethod
    def from_json(cls, data: Any) -> Surface:
        if not isinstance(data, dict) or data.get("kind") not in ("message", "view"):
            raise BadRequest("surface must be {kind: message, channel, ts} or {kind: view, view_id}")
        if data["kind"] == "message":
            if not isinstance(data.get("channel"), str) or not isinstance(data.get("ts"), str):
                raise BadRequest("a message surface needs its channel and ts")
            return cls("message", channel=data["channel"], ts=data["ts"], is_ephemeral=bool(data.get("is_ephemeral")))
        if not isinstance(data.get("view_id"), str):
            raise BadRequest("a view surface needs its view_id")
        return cls("view", view_id=data["view_id"])


def reply_json(reply: AppReply) -> dict[str, Any]:
    """What the page hears back: the app's status, and its ack body when it is JSON."""
    body: Any = None
    if reply.body.strip() and "json" in reply.content_type:
        try:
            body = reply.json()
        except ValueError:
            body = None
    return {"status": reply.status, "ok": reply.status == 200, "body": body, "elapsed_ms": round(reply.elapsed_s * 1000)}


def clean_action(action: Any) -> dict[str, Any]:
    if not isinstance(action, dict) or not isinstance(action.get("action_id"), str):
        raise BadRequest("an action needs its action_id")
    return {key: copy.deepcopy(action[key]) for key in ACTION_FIELDS if key in action}


def clean_state(values: Any) -> dict[str, Any]:
    if values is None:
        return {}
    if not isinstance(values, dict) or not all(isinstance(v, dict) for v in values.values()):
        raise BadRequest("state values are {block_id: {action_id: {...}}}")
    return copy.deepcopy(values)


class Player:
    """Plays a workspace member's part towards the app, through ``SlackSender``."""

    def __init__(self, slack: SlackStandIn, sender: SlackSender) -> None:
        self.slack, self.sender = slack, sender

    # -- the message box -----------------------------------------------------------------------

    async def command(self, user: str, channel: str, line: str) -> dict[str, Any]:
        """``/tamio forecast`` typed in ``channel``: a signed slash command; else a plain message."""
        line = line.strip()
        if not line.startswith("/"):
            if line and channel == self.slack.dm_channel(user):  # written to the app: Slack sends it a message.im event
                return {**reply_json(await self.sender.direct_message(user, line)), "posted": True}
            if line:
                self.slack.post_as_user(channel, user, line)
            return {"status": 200, "ok": True, "posted": bool(line)}
        name, _, text = line.partition(" ")
        if name not in KNOWN_COMMANDS:
            return {"status": 0, "ok": False, "error": f"{name} is not a valid command. In Slack, try /tamio help."}
        reply = await self.sender.slash_command(user, self.escaped(text.strip()), channel, command=name)
        return reply_json(reply)

    def escaped(self, text: str) -> str:
        """Command text as Slack sends it for a command with ``should_escape`` (manifest.yml): &, < and >
        as entities, and ``@handle`` of a member as their mention ``<@U0VIEWER|alex>``, as if picked from
        Slack's autocomplete (the sandbox has none: a member's handle is their first name, lower case)."""
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        handles = {str(info.get("name", "")).lower(): user_id for user_id, info in self.slack.workspace.users.items()}

        def mention(match: re.Match[str]) -> str:
            user_id = handles.get(match.group(1).lower())
            return f"<@{user_id}|{match.group(1).lower()}>" if user_id else match.group(0)

        return TYPED_MENTION.sub(mention, text)

    # -- interactions --------------------------------------------------------------------------

    def _view(self, user: str, view_id: str) -> dict[str, Any]:
        store = self.slack.workspace.view_store
        if view_id in store.views:
            if store.view_users.get(view_id) != user:
                raise BadRequest("that modal belongs to someone else")
            return store.views[view_id]
        home = store.home_views.get(user)
        if home is not None and home["id"] == view_id:
            return home
        raise BadRequest(f"no view {view_id} for {user}")

    async def click(self, user: str, surface: Surface, action: Any, state_values: Any) -> dict[str, Any]:
        """A button, a radio button or a select outside an input block: ``block_actions``."""
        picked, values = clean_action(action), clean_state(state_values)
        if surface.kind == "view":
            assert surface.view_id is not None
            view = copy.deepcopy(self._view(user, surface.view_id))
            view["state"] = {"values": values}
            reply = await self.sender.block_action(user, None, None, [picked], view=view)
        else:
            reply = await self.sender.block_action(
                user, surface.channel, surface.ts, [picked], state_values=values, is_ephemeral=surface.is_ephemeral
            )
        return reply_json(reply)

    async def submit(self, user: str, view_id: str, state_values: Any) -> dict[str, Any]:
        """The modal's submit button: ``view_submission``; field errors come back to the page."""
        self._view(user, view_id)
        reply = await self.sender.view_submission(user, {"id": view_id, "state": {"values": clean_state(state_values)}})
        answer = reply_json(reply)
        body = answer.get("body") or {}
        answer["errors"] = body.get("errors") if isinstance(body, dict) and body.get("response_action") == "errors" else None
        return answer

    def close(self, user: str, view_id: str, *, all_views: bool) -> None:
        """The modal's Cancel (this view) or its X (the whole stack). Tamio asks no ``view_closed``."""
        self._view(user, view_id)
        self.slack.workspace.view_store.close(view_id, clear=all_views)

    async def home_opened(self, user: str) -> dict[str, Any]:
        return reply_json(await self.sender.app_home_opened(user))

    async def suggest(self, user: str, view_id: str, block_id: str, action_id: str, typed: str) -> dict[str, Any]:
        """An ``external_select`` asks the app for options as the person types: ``block_suggestion``."""
        view = self._view(user, view_id)
        sender = self.sender
        name = str(self.slack.workspace.users.get(user, {}).get("name", user.lower()))
        payload = {
            "type": "block_suggestion",
            "user": {"id": user, "username": name, "name": name, "team_id": sender.team_id},
            "container": {"type": "view", "view_id": view_id},
            "api_app_id": sender.api_app_id,
            "token": "standin-verification-token",
            "action_id": action_id,
            "block_id": block_id,
            "value": typed,
            "team": {"id": sender.team_id, "domain": self.slack.workspace.team_domain},
            "enterprise": None,
            "is_enterprise_install": False,
            "view": copy.deepcopy(view),
        }
        body = urlencode({"payload": json.dumps(payload)})
        headers = {"Content-Type": "application/x-www-form-urlencoded", **sender.signed_headers(body)}
        started = time.perf_counter()
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=sender.timeout_s)) as session,
            session.post(sender.app_url, data=body.encode(), headers=headers) as response,
        ):
            text = await response.text()
            reply = AppReply(response.status, text, response.content_type, time.perf_counter() - started)
        answer = reply_json(reply)
        answered = answer.get("body")
        found: dict[str, Any] = answered if isinstance(answered, dict) else {}
        answer["options"] = found.get("options") or []
        answer["option_groups"] = found.get("option_groups") or []
        return answer

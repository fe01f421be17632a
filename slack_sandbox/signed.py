"""Signed requests to the app, the way Slack sends them: slash commands, interactions and events.

Bot tests and the sandbox use it to play Slack's part towards a real app on a real port. The
payloads carry Slack's own field names; trigger ids and response URLs come from the stand-in, so
``views.open`` and ``respond()`` work as they do in Slack; and what Slack does with an ack (show a
command's reply, close or update a modal) is applied to the stand-in too.

    sender = SlackSender(f"{app_url}slack/events", signing_secret, "T0001", slack)
    reply = await sender.slash_command("U1", "forecast", "C1")
    assert reply.status == 200 and slack.ephemerals[-1]["user"] == "U1"

``timestamp=`` sends an old or future timestamp and ``bad_signature=True`` signs with the wrong
secret, for the tests that the app refuses such requests.
"""

from __future__ import annotations

import copy
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier

from slack_sandbox.standin import SlackStandIn

VERIFICATION_TOKEN = "standin-verification-token"  # Slack's deprecated field; Bolt ignores it


@dataclass(frozen=True)
class AppReply:
    """What the app answered, plus the trigger id and response URL the request carried."""

    status: int
    body: str
    content_type: str
    elapsed_s: float
    trigger_id: str | None = None
    response_url: str | None = None

    def json(self) -> Any:
        return json.loads(self.body) if self.body.strip() else None


def find_element(blocks: list[dict[str, Any]], action_id: str) -> tuple[str | None, dict[str, Any] | None]:
    """The block id and element of the interactive element with this action id, if present."""
    for block in blocks:
        elements = list(block.get("elements") or [])
        for key in ("accessory", "element"):
            if isinstance(block.get(key), dict):
                elements.append(block[key])
        for element in elements:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return block.get("block_id"), element
    return None, None


class SlackSender:
    """Plays Slack towards the app at ``app_url`` (the Bolt endpoint, e.g. ``.../slack/events``)."""

    def __init__(
        self,
        app_url: str,
        signing_secret: str,
        team_id: str,
        slack: SlackStandIn,
        *,
        api_app_id: str = "A0APP",
        timeout_s: float = 10.0,
        clock: Callable[[], float] = time.time,
        enterprise_id: str | None = None,
        is_enterprise_install: bool = False,
    ) -> None:
        self.app_url, self.signing_secret, self.team_id, self.slack = app_url, signing_secret, team_id, slack
        self.api_app_id, self.timeout_s, self.clock = api_app_id, timeout_s, clock
        self.enterprise_id, self.is_enterprise_install = enterprise_id, is_enterprise_install

    # -- the three kinds of request ------------------------------------------------------------

    async def slash_command(
        self,
        user_id: str,
        text: str,
        channel_id: str,
        command: str = "/tamio",
        *,
        channel_name: str | None = None,
        timestamp: int | None = None,
        bad_signature: bool = False,
    ) -> AppReply:
        """A form-encoded slash command; its ack body is shown like Slack shows it."""
        trigger_id = self.slack.new_trigger_id(user_id, channel=channel_id)
        response_url = self.slack.new_response_url(channel_id, user_id)
        form = {
            "token": VERIFICATION_TOKEN,
            "team_id": self.team_id,
            "team_domain": self._domain(),
            "channel_id": channel_id,
            "channel_name": channel_name or self._channel_name(channel_id),
            "user_id": user_id,
            "user_name": self._user_name(user_id),
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            "is_enterprise_install": "true" if self.is_enterprise_install else "false",
            **({"enterprise_id": self.enterprise_id, "enterprise_name": self.enterprise_id} if self.enterprise_id else {}),
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
        reply = await self._send(
            urlencode(form),
            "application/x-www-form-urlencoded",
            {},
            timestamp,
            bad_signature,
            trigger_id=trigger_id,
            response_url=response_url,
        )
        self.slack.apply_command_ack(
            channel=channel_id,
            user=user_id,
            status=reply.status,
            body=reply.body,
            content_type=reply.content_type,
        )
        return reply

    async def block_action(
        self,
        user_id: str,
        channel_id: str | None,
        message_ts: str | None,
        actions: list[dict[str, Any]],
        view: dict[str, Any] | None = None,
        state_values: dict[str, Any] | None = None,
        message: dict[str, Any] | None = None,
        *,
        is_ephemeral: bool = False,
        timestamp: int | None = None,
        bad_signature: bool = False,
    ) -> AppReply:
        """A ``block_actions`` interaction from a message (``channel_id``, ``message_ts``) or a view."""
        trigger_id = self.slack.new_trigger_id(user_id, view.get("id") if view else None, channel_id)
        clicked = message
        if clicked is None and view is None and channel_id and message_ts:
            clicked = self._current_message(channel_id, message_ts, is_ephemeral)
        if is_ephemeral:
            message = None  # Slack leaves an ephemeral message out of the payload: the app never sees it
        elif message is None:
            message = clicked
        blocks = (view or clicked or {}).get("blocks") or []
        payload: dict[str, Any] = {
            "type": "block_actions",
            **self._who(user_id),
            "trigger_id": trigger_id,
            "actions": [self._action(action, blocks) for action in actions],
            "state": {"values": copy.deepcopy(state_values or {})},
        }
        response_url = None
        if view is not None:
            payload["container"] = {"type": "view", "view_id": view.get("id")}
            payload["view"] = view
        else:
            payload["container"] = {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel_id,
                "is_ephemeral": is_ephemeral,
            }
            if channel_id:
                payload["channel"] = {"id": channel_id, "name": self._channel_name(channel_id)}
                response_url = self.slack.new_response_url(
                    channel_id, user_id, message_ts, is_ephemeral=is_ephemeral
                )
                payload["response_url"] = response_url
            if message is not None:
                payload["message"] = message
        return await self._send_interaction(payload, timestamp, bad_signature, trigger_id, response_url)

    async def view_submission(
        self, user_id: str, view: dict[str, Any], *, timestamp: int | None = None, bad_signature: bool = False
    ) -> AppReply:
        """A ``view_submission``; the ack (close, errors, update, push, clear) is applied to the stand-in."""
        opened = self.slack.views.get(view.get("id", ""))
        submitted: dict[str, Any] = (
            copy.deepcopy(opened) if opened else {"type": "modal", "id": self.slack.workspace.new_id("V")}
        )
        submitted.update(copy.deepcopy(view))
        submitted.setdefault("state", {"values": {}})
        submitted.setdefault("private_metadata", "")
        submitted.setdefault("hash", self.slack.workspace.view_store.new_hash())
        trigger_id = self.slack.new_trigger_id(user_id, submitted["id"])
        payload = {
            "type": "view_submission",
            **self._who(user_id),
            "trigger_id": trigger_id,
            "view": submitted,
            "response_urls": self._response_urls(user_id, submitted),
        }
        reply = await self._send_interaction(payload, timestamp, bad_signature, trigger_id, None)
        self.slack.apply_view_submission_ack(
            view_id=submitted["id"], user=user_id, status=reply.status, body=reply.body
        )
        return reply

    async def event(
        self,
        event: dict[str, Any],
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        *,
        timestamp: int | None = None,
        bad_signature: bool = False,
    ) -> AppReply:
        """An Events API ``event_callback``; ``retry_num`` adds Slack's retry headers."""
        envelope = {
            "token": VERIFICATION_TOKEN,
            "team_id": self.team_id,
            **({"enterprise_id": self.enterprise_id} if self.enterprise_id else {}),
            "api_app_id": self.api_app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or "Ev" + secrets.token_hex(5).upper(),
            "event_time": int(self.clock()),
            "event_context": "4-" + secrets.token_hex(16),
            "authorizations": [
                {
                    "enterprise_id": self.enterprise_id,
                    "team_id": None if self.is_enterprise_install else self.team_id,
                    "user_id": self.slack.workspace.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": self.is_enterprise_install,
                }
            ],
            "is_ext_shared_channel": False,
        }
        headers = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
        return await self._send(json.dumps(envelope), "application/json", headers, timestamp, bad_signature)

    async def app_home_opened(self, user_id: str, **kwargs: Any) -> AppReply:
        """The ``app_home_opened`` event for the Home tab, with the view the user saw last."""
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": user_id,
            "tab": "home",
            "channel": self.slack.dm_channel(user_id),
            "event_ts": f"{self.clock():.6f}",
        }
        if user_id in self.slack.home_views:
            event["view"] = self.slack.home_views[user_id]
        return await self.event(event, **kwargs)

    async def shortcut(self, user_id: str, callback_id: str) -> AppReply:
        """A global shortcut (the lightning menu): ``type: shortcut``, with a trigger id."""
        trigger_id = self.slack.new_trigger_id(user_id)
        payload = {"type": "shortcut", **self._who(user_id), "callback_id": callback_id, "trigger_id": trigger_id,
                   "action_ts": f"{self.clock():.6f}"}
        return await self._send_interaction(payload, None, False, trigger_id, None)

    async def message_shortcut(self, user_id: str, callback_id: str, channel_id: str, message_ts: str) -> AppReply:
        """A message shortcut (a message's "More actions" menu): the message, its channel and a response URL."""
        trigger_id = self.slack.new_trigger_id(user_id, channel=channel_id)
        response_url = self.slack.new_response_url(channel_id, user_id, message_ts)
        message = self._current_message(channel_id, message_ts, False) or {}
        payload = {"type": "message_action", **self._who(user_id), "callback_id": callback_id, "trigger_id": trigger_id,
                   "message_ts": message_ts, "message": message, "response_url": response_url,
                   "channel": {"id": channel_id, "name": self._channel_name(channel_id)}, "action_ts": f"{self.clock():.6f}"}
        return await self._send_interaction(payload, None, False, trigger_id, response_url)

    async def direct_message(self, user_id: str, text: str) -> AppReply:
        """A person writes to the app in its Messages tab: posted there, and the ``message`` event (``im``)."""
        channel = self.slack.dm_channel(user_id)
        posted = self.slack.post_as_user(channel, user_id, text)
        return await self.event({"type": "message", "channel": channel, "user": user_id, "text": text,
                                 "ts": posted["ts"], "event_ts": posted["ts"], "channel_type": "im"})

    async def app_uninstalled(self) -> AppReply:
        """The workspace removed the app: its tokens stop working, then Slack sends ``app_uninstalled``."""
        self.slack.uninstall()
        return await self.event({"type": "app_uninstalled", "event_ts": f"{self.clock():.6f}"})

    async def tokens_revoked(self, *, bot: bool = True, users: tuple[str, ...] = ()) -> AppReply:
        """Tokens were revoked (the bot's, and/or some users'): they stop working, then ``tokens_revoked``."""
        if bot:
            self.slack.revoke_tokens(user=self.slack.workspace.bot_user_id)
        for user in users:
            self.slack.revoke_tokens(user=user)
        tokens: dict[str, list[str]] = {"oauth": list(users)}
        if bot:
            tokens["bot"] = [self.slack.workspace.bot_user_id]
        return await self.event({"type": "tokens_revoked", "tokens": tokens, "event_ts": f"{self.clock():.6f}"})

    # -- building blocks -----------------------------------------------------------------------

    def _response_urls(self, user_id: str, view: dict[str, Any]) -> list[dict[str, Any]]:
        """Slack's ``response_urls`` of a submission: one per input block whose conversation select has
        ``response_url_enabled``, for the conversation picked in it."""
        found: list[dict[str, Any]] = []
        values = (view.get("state") or {}).get("values") or {}
        for block in view.get("blocks") or []:
            element = block.get("element") if isinstance(block, dict) else None
            if block.get("type") != "input" or not isinstance(element, dict) or not element.get("response_url_enabled"):
                continue
            state = (values.get(block.get("block_id")) or {}).get(element.get("action_id")) or {}
            channel = state.get("selected_conversation") or state.get("selected_channel") or element.get("initial_conversation")
            if not channel and element.get("default_to_current_conversation"):
                channel = element.get("initial_conversation")
            if isinstance(channel, str) and channel:
                found.append({"block_id": block.get("block_id"), "action_id": element.get("action_id"),
                              "channel_id": channel, "response_url": self.slack.new_response_url(channel, user_id)})
        return found

    def _who(self, user_id: str) -> dict[str, Any]:
        name = self._user_name(user_id)
        home_team = str(self.slack.workspace.users.get(user_id, {}).get("team_id") or self.team_id)
        return {
            "user": {"id": user_id, "username": name, "name": name, "team_id": home_team},
            "team": {"id": self.team_id, "domain": self._domain()},
            "api_app_id": self.api_app_id,
            "token": VERIFICATION_TOKEN,
            "enterprise": {"id": self.enterprise_id, "name": self.enterprise_id} if self.enterprise_id else None,
            "is_enterprise_install": self.is_enterprise_install,
        }

    def _action(self, action: dict[str, Any], blocks: list[dict[str, Any]]) -> dict[str, Any]:
        block_id, element = find_element(blocks, action.get("action_id", ""))
        full: dict[str, Any] = {
            "type": (element or {}).get("type", "button"),
            "block_id": block_id,
            "action_ts": f"{self.clock():.6f}",
        }
        if element and element.get("type") == "button":
            full["text"] = element.get("text")
            if "value" in element:
                full["value"] = element["value"]
        full.update(action)
        return full

    def _current_message(self, channel_id: str, ts: str, is_ephemeral: bool) -> dict[str, Any] | None:
        if is_ephemeral:
            found = [e for e in self.slack.ephemerals if e["ts"] == ts]
            return {"type": "message", **copy.deepcopy(found[0])} if found else None
        matching = [m for m in self.slack.messages(channel_id) if m["ts"] == ts]
        return {k: v for k, v in copy.deepcopy(matching[0]).items() if v is not None} if matching else None

    def _user_name(self, user_id: str) -> str:
        return str(self.slack.workspace.users.get(user_id, {}).get("name", user_id.lower()))

    def _channel_name(self, channel_id: str) -> str:
        conversation = self.slack.workspace.conversations.by_id.get(channel_id)
        if conversation is not None:
            return conversation.command_channel_name()
        return "directmessage" if channel_id.startswith("D") else channel_id.lower()

    def _domain(self) -> str:
        return self.slack.workspace.team_domain

    async def _send_interaction(
        self,
        payload: dict[str, Any],
        timestamp: int | None,
        bad_signature: bool,
        trigger_id: str,
        response_url: str | None,
    ) -> AppReply:
        body = urlencode({"payload": json.dumps(payload)})
        return await self._send(
            body,
            "application/x-www-form-urlencoded",
            {},
            timestamp,
            bad_signature,
            trigger_id=trigger_id,
            response_url=response_url,
        )

    def signed_headers(
        self, body: str, timestamp: int | None = None, bad_signature: bool = False
    ) -> dict[str, str]:
        """``X-Slack-Request-Timestamp`` and ``X-Slack-Signature`` for this exact raw body."""
        stamp = str(int(self.clock()) if timestamp is None else timestamp)
        secret = self.signing_secret + ("-not-the-secret" if bad_signature else "")
        signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
        assert signature is not None
        return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}

    async def _send(
        self,
        body: str,
        content_type: str,
        headers: dict[str, str],
        timestamp: int | None,
        bad_signature: bool,
        *,
        trigger_id: str | None = None,
        response_url: str | None = None,
    ) -> AppReply:
        all_headers = {
            "Content-Type": content_type,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            **self.signed_headers(body, timestamp, bad_signature),
            **headers,
        }
        started = time.perf_counter()
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s)) as session,
            session.post(self.app_url, data=body.encode(), headers=all_headers) as response,
        ):
            text = await response.text()
            return AppReply(
                status=response.status,
                body=text,
                content_type=response.content_type,
                elapsed_s=time.perf_counter() - started,
                trigger_id=trigger_id,
                response_url=response_url,
            )

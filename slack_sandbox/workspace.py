"""The stand-in's model of one Slack workspace: channels and their messages, ephemerals, uploaded
files, response URLs, users, and (in ``view_store``) modals, Home tabs and trigger ids.

It is plain in-memory state with Slack's rules (``message_not_found``, ``cant_update_message``,
``msg_too_long``, ...), kept apart from HTTP so the Web API methods and the ``response_url``
route apply a change the same way. Errors are raised as ``SlackError(code)``, which the server
answers as ``{"ok": false, "error": code}``.

    workspace = Workspace(team_id="T0001", team_name="Acme", bot_user_id="U0BOT", users={}, clock=time.time)
    message = workspace.post_message(channel="C1", user="U0BOT", text="hi", blocks=None)
    workspace.messages("C1")[0]["ts"] == message["ts"]
"""

from __future__ import annotations

import copy
import mimetypes
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from slack_sandbox.blockkit_limits import MAX_MESSAGE_TEXT, message_block_errors
from slack_sandbox.errors import SlackError
from slack_sandbox.views import ViewStore


@dataclass
class ResponseTarget:
    """Where a ``response_url`` delivers: the channel and user, and the message it came from."""

    channel: str
    user: str
    message_ts: str | None = None
    is_ephemeral: bool = False


@dataclass
class Upload:
    """A file announced by files.getUploadURLExternal; ``content`` arrives at the upload URL."""

    file_id: str
    filename: str
    length: int
    user: str
    created: float
    content: bytes | None = None
    title: str | None = None
    channels: list[str] = field(default_factory=list)


def check_message(text: Any, blocks: Any, *, require_content: bool = True) -> None:
    """Slack's checks on a message body: ``no_text``, ``msg_too_long``, ``invalid_blocks``."""
    if require_content and not text and not blocks:
        raise SlackError("no_text")
    if isinstance(text, str) and len(text) > MAX_MESSAGE_TEXT:
        raise SlackError("msg_too_long")
    errors = message_block_errors(blocks)
    if errors:
        raise SlackError(
            "invalid_blocks", errors=errors, response_metadata={"messages": [f"[ERROR] {e}" for e in errors]}
        )


def check_metadata(metadata: Any) -> None:
    if metadata is None or metadata == {}:
        return
    if (
        not isinstance(metadata, dict)
        or not isinstance(metadata.get("event_type"), str)
        or not isinstance(metadata.get("event_payload", {}), dict)
    ):
        raise SlackError("invalid_metadata_format")


class Workspace:
    """One team, one installed app (the bot), and everything the app has done there."""

    def __init__(
        self,
        *,
        team_id: str,
        team_name: str,
        bot_user_id: str,
        users: dict[str, dict[str, Any]],
        clock: Callable[[], float],
        bot_id: str = "B0BOT",
        app_id: str = "A0APP",
    ) -> None:
        self.team_id, self.team_name, self.bot_user_id = team_id, team_name, bot_user_id
        self.bot_id, self.app_id = bot_id, app_id
        self.team_domain = "".join(c if c.isalnum() else "-" for c in team_name.lower()).strip("-") or "team"
        self.users = users
        self.clock = clock
        self.base_url = ""  # set by the server once it listens
        self.channels: dict[str, list[dict[str, Any]]] = {}
        self.refused_channels: dict[str, str] = {}
        # Scopes the bot token lacks: the methods that need them answer missing_scope, as Slack does.
        self.withheld_scopes: set[str] = set()
        self.dm_channels: dict[str, str] = {}
        self.ephemerals: list[dict[str, Any]] = []
        self.uploads: dict[str, Upload] = {}
        self.response_targets: dict[str, ResponseTarget] = {}
        self._last_ts_us = 0
        self._serial = 0
        self.view_store = ViewStore(
            team_id=team_id, app_id=app_id, bot_id=bot_id, clock=clock, new_id=self.new_id
        )

    # -- identifiers ---------------------------------------------------------------------------

    def next_ts(self) -> str:
        """A message ts: the clock in microseconds, strictly increasing like Slack's."""
        micros = max(int(self.clock() * 1_000_000), self._last_ts_us + 1)
        self._last_ts_us = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def new_id(self, prefix: str) -> str:
        self._serial += 1
        return f"{prefix}{self._serial:07d}{secrets.token_hex(2).upper()}"

    # -- channels and messages -----------------------------------------------------------------

    def resolve_channel(self, channel: Any) -> str:
        """The conversation id; a user id means the app's DM with that user, as in Slack."""
        if not isinstance(channel, str) or not channel:
            raise SlackError("channel_not_found")
        if channel in self.refused_channels:
            raise SlackError(self.refused_channels[channel])
        if channel[0] in "UW" and channel != self.bot_user_id:
            return self.open_dm([channel])
        return channel

    def require_scope(self, scope: str) -> None:
        if scope in self.withheld_scopes:
            raise SlackError("missing_scope", needed=scope)

    def open_dm(self, users: list[str]) -> str:
        key = ",".join(sorted(users))
        if key not in self.dm_channels:
            self.dm_channels[key] = "D" + self.new_id("")
        return self.dm_channels[key]

    def messages(self, channel: str) -> list[dict[str, Any]]:
        return self.channels.get(channel, [])

    def find_message(self, channel: str, ts: Any) -> dict[str, Any]:
        for message in self.messages(channel):
            if message["ts"] == ts:
                return message
        raise SlackError("message_not_found")

    def post_message(
        self,
        *,
        channel: str,
        user: str,
        text: Any,
        blocks: Any,
        metadata: Any = None,
        files: list[dict[str, Any]] | None = None,
        thread_ts: Any = None,
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "ts": self.next_ts(),
            "user": user,
            "bot_id": self.bot_id if user == self.bot_user_id else None,
            "app_id": self.app_id if user == self.bot_user_id else None,
            "team": self.team_id,
            "text": text or "",
            "blocks": copy.deepcopy(blocks) if blocks else [],
            "metadata": copy.deepcopy(metadata) if metadata else None,
            "files": files,
            "thread_ts": thread_ts or None,
        }
        self.channels.setdefault(channel, []).append(message)
        return message

    def update_message(
        self, channel: str, ts: Any, *, user: str, text: Any, blocks: Any, metadata: Any
    ) -> dict[str, Any]:
        """chat.update: fields left out keep their value; ``blocks=[]`` removes blocks."""
        message = self.find_message(channel, ts)
        if message["user"] != user:
            raise SlackError("cant_update_message")
        if text is not None:
            message["text"] = text
        if blocks is not None:
            message["blocks"] = copy.deepcopy(blocks)
        if metadata is not None:
            message["metadata"] = copy.deepcopy(metadata) or None
        message["edited"] = {"user": user, "ts": self.next_ts()}
        return message

    def delete_message(self, channel: str, ts: Any, *, user: str) -> None:
        message = self.find_message(channel, ts)
        if message["user"] != user:
            raise SlackError("cant_delete_message")
        self.channels[channel].remove(message)

    def post_ephemeral(
        self, *, channel: str, user: str, text: Any, blocks: Any, thread_ts: Any = None
    ) -> dict[str, Any]:
        ephemeral = {
            "ts": self.next_ts(),
            "channel": channel,
            "user": user,
            "text": text or "",
            "blocks": copy.deepcopy(blocks) if blocks else [],
            "thread_ts": thread_ts or None,
        }
        self.ephemerals.append(ephemeral)
        return ephemeral

    # -- response_url --------------------------------------------------------------------------

    def new_response_token(self, target: ResponseTarget) -> str:
        token = secrets.token_urlsafe(12)
        self.response_targets[token] = target
        return token

    def deliver_response(self, target: ResponseTarget, payload: dict[str, Any]) -> None:
        """Apply a ``response_url`` body (or a slash command's ack body) as Slack does."""
        text, blocks = payload.get("text"), payload.get("blocks")
        if payload.get("delete_original"):
            if target.message_ts is None:
                raise SlackError("message_not_found")
            if target.is_ephemeral:
                self.ephemerals[:] = [e for e in self.ephemerals if e["ts"] != target.message_ts]
            else:
                self.delete_message(target.channel, target.message_ts, user=self.bot_user_id)
            return
        check_message(text, blocks)
        if payload.get("replace_original") and target.message_ts is not None:
            if target.is_ephemeral:
                for ephemeral in self.ephemerals:
                    if ephemeral["ts"] == target.message_ts:
                        ephemeral.update(text=text or "", blocks=copy.deepcopy(blocks) or [])
                        return
                raise SlackError("message_not_found")
            message = self.find_message(target.channel, target.message_ts)
            message.update(text=text or "", blocks=copy.deepcopy(blocks) or [])
            message["edited"] = {"user": self.bot_user_id, "ts": self.next_ts()}
            return
        thread_ts = payload.get("thread_ts")
        if payload.get("response_type") == "in_channel":
            self.post_message(
                channel=target.channel, user=self.bot_user_id, text=text, blocks=blocks, thread_ts=thread_ts
            )
        else:
            self.post_ephemeral(
                channel=target.channel, user=target.user, text=text, blocks=blocks, thread_ts=thread_ts
            )

    # -- files ---------------------------------------------------------------------------------

    def file_object(self, upload: Upload) -> dict[str, Any]:
        mimetype = mimetypes.guess_type(upload.filename)[0] or "application/octet-stream"
        url = f"{self.base_url}files/{upload.file_id}"
        return {
            "id": upload.file_id,
            "created": int(upload.created),
            "timestamp": int(upload.created),
            "name": upload.filename,
            "title": upload.title or upload.filename,
            "mimetype": mimetype,
            "filetype": upload.filename.rsplit(".", 1)[-1].lower() if "." in upload.filename else "binary",
            "user": upload.user,
            "size": len(upload.content or b""),
            "mode": "hosted",
            "is_external": False,
            "is_public": bool(upload.channels),
            "url_private": url,
            "url_private_download": url + "?download=1",
            "permalink": f"{self.base_url}files/{upload.file_id}",
            "channels": list(upload.channels),
        }

    # -- users ---------------------------------------------------------------------------------

    def user_record(self, user_id: Any) -> dict[str, Any]:
        if user_id == self.bot_user_id:
            info: dict[str, Any] = {"name": "tamio", "real_name": "Tamio", "is_bot": True}
        elif isinstance(user_id, str) and user_id in self.users:
            info = self.users[user_id]
        else:
            raise SlackError("user_not_found")
        name = info.get("name", user_id.lower())
        real_name = info.get("real_name", name)
        tz = info.get("tz", "Europe/London")
        local_now = datetime.fromtimestamp(self.clock(), tz=ZoneInfo(tz))
        offset = local_now.utcoffset()
        return {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "real_name": real_name,
            "deleted": False,
            "tz": tz,
            "tz_label": local_now.tzname(),
            "tz_offset": int(offset.total_seconds()) if offset else 0,
            "is_admin": bool(info.get("is_admin")),
            "is_owner": bool(info.get("is_owner")),
            "is_primary_owner": bool(info.get("is_primary_owner")),
            "is_bot": bool(info.get("is_bot")),
            "is_app_user": False,
            "profile": {
                "real_name": real_name,
                "display_name": info.get("display_name", name),
                "email": info.get("email"),
                "team": self.team_id,
            },
        }

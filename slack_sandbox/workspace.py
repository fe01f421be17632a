"""The stand-in's model of one Slack workspace: conversations and their messages, ephemerals, uploaded
files, response URLs, users, and (in ``view_store``) modals, Home tabs and trigger ids.

It is plain in-memory state with Slack's rules (``message_not_found``, ``cant_update_message``,
``msg_too_long``, who may post where in ``conversations``, a response URL's 30 minutes and 5
uses, files that Slack is still processing), kept apart from HTTP so the Web API methods and the
``response_url`` route apply a change the same way. Errors are raised as ``SlackError(code)``,
which the server answers as ``{"ok": false, "error": code}``.

    workspace = Workspace(team_id="T0001", team_name="Acme", bot_user_id="U0BOT", users={}, clock=time.time)
    workspace.add_channel("C1", "general")
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
from slack_sandbox.conversations import Conversation, Conversations, Kind
from slack_sandbox.errors import SlackError
from slack_sandbox.views import ViewStore

RESPONSE_URL_LIFETIME_S = 30 * 60  # Slack: a response_url works for 30 minutes ...
RESPONSE_URL_USES = 5  # ... and at most 5 times


@dataclass
class ResponseTarget:
    """Where a ``response_url`` delivers: the channel and user, and the message it came from."""

    channel: str
    user: str
    message_ts: str | None = None
    is_ephemeral: bool = False
    created: float = 0.0
    uses: int = 0


@dataclass
class Upload:
    """A file announced by files.getUploadURLExternal; ``content`` arrives at the upload URL.

    Once completed, Slack processes the file asynchronously: until then ``files.info`` shows it
    without a mimetype and an image block that names it is refused (``invalid slack file``). Here
    it is ready after ``processing_polls`` answers of ``files.info`` (or ``processing_s`` seconds).
    """

    file_id: str
    filename: str
    length: int
    user: str
    created: float
    content: bytes | None = None
    title: str | None = None
    channels: list[str] = field(default_factory=list)
    completed: float | None = None
    processing_polls: int = 0

    def ready(self, now: float, processing_s: float | None) -> bool:
        if self.completed is None or self.content is None:
            return False
        if self.processing_polls <= 0:
            return True
        return processing_s is not None and now - self.completed >= processing_s


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
        self.channels: dict[str, list[dict[str, Any]]] = {}  # messages, by conversation id
        self.refused_channels: dict[str, str] = {}
        self.ephemerals: list[dict[str, Any]] = []
        self.uploads: dict[str, Upload] = {}
        self.response_targets: dict[str, ResponseTarget] = {}
        self.file_processing_polls = 1  # files.info answers "still processing" this many times per file
        self.file_processing_s: float | None = None  # or a file is ready this long after completion
        self._last_ts_us = 0
        self._serial = 0
        self.conversations = Conversations(bot_user_id=bot_user_id, new_id=self.new_id)
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

    def add_channel(
        self, channel_id: str, name: str, *, kind: Kind = "public", members: Any = None, bot: bool = True,
        is_ext_shared: bool = False,
    ) -> Conversation:
        """A channel: by default every user of the workspace is in it, and the app too unless ``bot=False``."""
        people = set(self.users) if members is None else set(members)
        if bot:
            people.add(self.bot_user_id)
        return self.conversations.add(Conversation(channel_id, name, kind, people, is_ext_shared=is_ext_shared))

    def conversation_id(self, channel: Any, *, actor: str) -> str:
        """The conversation a call names; a user id means ``actor``'s DM with that user, as in Slack."""
        if not isinstance(channel, str) or not channel:
            raise SlackError("channel_not_found")
        if channel in self.refused_channels:
            raise SlackError(self.refused_channels[channel])
        if channel[0] in "UW" and channel != actor:
            if self.users and channel not in self.users:
                raise SlackError("channel_not_found")
            return self.conversations.dm([actor, channel]).id
        return channel

    def open_dm(self, users: list[str]) -> str:
        """The app's DM with one user (or group DM with several), opened on first use."""
        return self.conversations.dm([self.bot_user_id, *users]).id

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
        target.created = self.clock()
        self.response_targets[token] = target
        return token

    def use_response_url(self, token: str) -> ResponseTarget:
        """A response URL's target, counting this use: unknown or past 30 minutes ``expired_url``, a sixth use ``used_url``."""
        target = self.response_targets.get(token)
        if target is None or self.clock() - target.created > RESPONSE_URL_LIFETIME_S:
            raise SlackError("expired_url")
        if target.uses >= RESPONSE_URL_USES:
            raise SlackError("used_url")
        target.uses += 1
        return target

    def check_files_ready(self, blocks: Any, pointer: str = "/blocks") -> None:
        """An image block naming a file Slack has not finished processing (or never had) is refused."""
        errors = []
        for index, block in enumerate(blocks if isinstance(blocks, list) else []):
            found = _slack_file_id(block.get("slack_file") if isinstance(block, dict) else None)
            if found is None:
                continue
            upload = self.uploads.get(found)
            if upload is None or not upload.ready(self.clock(), self.file_processing_s):
                errors.append(f"invalid slack file [json-pointer:{pointer}/{index}/slack_file]")
        if errors:
            raise SlackError("invalid_blocks", errors=errors, response_metadata={"messages": [f"[ERROR] {e}" for e in errors]})

    def check_content(self, text: Any, blocks: Any, *, require_content: bool = True) -> None:
        check_message(text, blocks, require_content=require_content)
        self.check_files_ready(blocks)

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
        self.check_content(text, blocks)
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

    def file_ready(self, upload: Upload) -> bool:
        return upload.ready(self.clock(), self.file_processing_s)

    def file_object(self, upload: Upload) -> dict[str, Any]:
        """The file as the Web API shows it; while Slack processes it, mimetype and filetype are empty."""
        ready = self.file_ready(upload)
        url = f"{self.base_url}files/{upload.file_id}"
        return {
            "id": upload.file_id,
            "created": int(upload.created),
            "timestamp": int(upload.created),
            "name": upload.filename,
            "title": upload.title or upload.filename,
            "mimetype": guess_mimetype(upload.filename) if ready else "",
            "filetype": (upload.filename.rsplit(".", 1)[-1].lower() if "." in upload.filename else "binary") if ready else "",
            "pretty_type": (upload.filename.rsplit(".", 1)[-1].upper() if "." in upload.filename else "Binary") if ready else "",
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

    def user_record(self, user_id: Any, *, with_email: bool = True, with_locale: bool = False) -> dict[str, Any]:
        """A user as ``users.info`` shows them: the email only with ``users:read.email``, the locale on request.

        A user's entry may say ``is_restricted`` (a multi-channel guest), ``is_ultra_restricted`` (a
        single-channel guest) or ``team_id`` (someone from another organisation, in a Slack Connect channel).
        """
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
        team = str(info.get("team_id") or self.team_id)
        profile: dict[str, Any] = {"real_name": real_name, "display_name": info.get("display_name", name), "team": team}
        if with_email and info.get("email"):
            profile["email"] = info["email"]
        record: dict[str, Any] = {
            "id": user_id,
            "team_id": team,
            "name": name,
            "real_name": real_name,
            "deleted": False,
            "tz": tz,
            "tz_label": local_now.tzname(),
            "tz_offset": int(offset.total_seconds()) if offset else 0,
            "is_admin": bool(info.get("is_admin")),
            "is_owner": bool(info.get("is_owner")),
            "is_primary_owner": bool(info.get("is_primary_owner")),
            "is_restricted": bool(info.get("is_restricted") or info.get("is_ultra_restricted")),
            "is_ultra_restricted": bool(info.get("is_ultra_restricted")),
            "is_bot": bool(info.get("is_bot")),
            "is_app_user": False,
            "profile": profile,
        }
        if team != self.team_id:
            record["is_stranger"] = True
        if with_locale:
            record["locale"] = str(info.get("locale") or "en-US")
        return record


def _slack_file_id(slack_file: Any) -> str | None:
    """The file id of a ``slack_file`` object (``{"id": "F..."}`` or ``{"url": permalink}``)."""
    if not isinstance(slack_file, dict):
        return None
    if isinstance(slack_file.get("id"), str):
        return str(slack_file["id"])
    url = slack_file.get("url")
    return url.rstrip("/").rsplit("/", 1)[-1] if isinstance(url, str) and url else ""


def guess_mimetype(filename: str) -> str:
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"

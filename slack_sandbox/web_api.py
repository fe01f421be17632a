"""The Slack Web API methods the stand-in answers, one function per method.

Each takes the workspace and the call (merged query, form and JSON parameters, and who the token
belongs to) and returns the body of an ``ok`` answer, or raises ``SlackError``. Parameters arrive
as slack_sdk sends them: JSON values for ``chat.*`` and ``views.*``, strings (with JSON inside for
``blocks``, ``metadata``, ``view``, ``files``) in forms and query strings; both are accepted.

    METHODS["chat.postMessage"](workspace, Call(params={"channel": "C1", "text": "hi"}, actor="U0BOT"))
    -> {"channel": "C1", "ts": "1700000000.000100", "message": {...}}
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from slack_sandbox.blockkit_limits import MAX_MESSAGE_TEXT
from slack_sandbox.errors import SlackError
from slack_sandbox.workspace import Upload, Workspace, check_message, check_metadata


@dataclass(frozen=True)
class Call:
    params: dict[str, Any]
    actor: str  # the user id behind the token: the bot user, or an installer's user token


Method = Callable[[Workspace, Call], dict[str, Any]]


def json_param(params: dict[str, Any], name: str, error: str) -> Any:
    """A parameter that is JSON in a form (a string) and a value in a JSON body."""
    value = params.get(name)
    if isinstance(value, str):
        if not value:
            return None
        try:
            return json.loads(value)
        except ValueError as exc:
            raise SlackError(error) from exc
    return value


def flag(params: dict[str, Any], name: str) -> bool:
    value = params.get(name)
    return value is True or (isinstance(value, str) and value.lower() in ("1", "true")) or value == 1


def ts_value(ts: Any, default: Decimal) -> Decimal:
    if ts in (None, ""):
        return default
    try:
        return Decimal(str(ts))
    except InvalidOperation as exc:
        raise SlackError("invalid_ts_oldest") from exc


def public_message(message: dict[str, Any], *, include_metadata: bool = True) -> dict[str, Any]:
    """A stored message as the Web API shows it: absent fields left out."""
    shown = {key: value for key, value in message.items() if value is not None and key != "metadata"}
    if not shown.get("blocks"):
        shown.pop("blocks", None)
    if include_metadata and message.get("metadata"):
        shown["metadata"] = message["metadata"]
    return shown


def auth_test(ws: Workspace, call: Call) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "url": f"https://{ws.team_domain}.slack.com/",
        "team": ws.team_name,
        "team_id": ws.team_id,
        "user": ws.user_record(call.actor)["name"]
        if call.actor in ws.users or call.actor == ws.bot_user_id
        else "",
        "user_id": call.actor,
        "is_enterprise_install": False,
    }
    if call.actor == ws.bot_user_id:
        answer["bot_id"] = ws.bot_id
    return answer


def chat_post_message(ws: Workspace, call: Call) -> dict[str, Any]:
    p = call.params
    channel = ws.resolve_channel(p.get("channel"))
    blocks = json_param(p, "blocks", "invalid_blocks_format")
    metadata = json_param(p, "metadata", "invalid_metadata_format")
    check_message(p.get("text"), blocks or p.get("attachments"))
    check_metadata(metadata)
    message = ws.post_message(
        channel=channel,
        user=call.actor,
        text=p.get("text"),
        blocks=blocks,
        metadata=metadata,
        thread_ts=p.get("thread_ts"),
    )
    return {"channel": channel, "ts": message["ts"], "message": public_message(message)}


def chat_update(ws: Workspace, call: Call) -> dict[str, Any]:
    p = call.params
    channel = ws.resolve_channel(p.get("channel"))
    blocks = json_param(p, "blocks", "invalid_blocks_format")
    metadata = json_param(p, "metadata", "invalid_metadata_format")
    check_message(p.get("text"), blocks, require_content=False)
    check_metadata(metadata)
    message = ws.update_message(
        channel, p.get("ts"), user=call.actor, text=p.get("text"), blocks=blocks, metadata=metadata
    )
    return {
        "channel": channel,
        "ts": message["ts"],
        "text": message["text"],
        "message": public_message(message),
    }


def chat_post_ephemeral(ws: Workspace, call: Call) -> dict[str, Any]:
    p = call.params
    channel = ws.resolve_channel(p.get("channel"))
    user = p.get("user")
    if not isinstance(user, str) or not user or (ws.users and user not in ws.users):
        raise SlackError("user_not_in_channel")
    blocks = json_param(p, "blocks", "invalid_blocks_format")
    check_message(p.get("text"), blocks)
    ephemeral = ws.post_ephemeral(
        channel=channel, user=user, text=p.get("text"), blocks=blocks, thread_ts=p.get("thread_ts")
    )
    return {"message_ts": ephemeral["ts"]}


def chat_delete(ws: Workspace, call: Call) -> dict[str, Any]:
    channel = ws.resolve_channel(call.params.get("channel"))
    ws.delete_message(channel, call.params.get("ts"), user=call.actor)
    return {"channel": channel, "ts": call.params.get("ts")}


def chat_get_permalink(ws: Workspace, call: Call) -> dict[str, Any]:
    channel = ws.resolve_channel(call.params.get("channel"))
    message = ws.find_message(channel, call.params.get("message_ts"))
    permalink = f"{ws.base_url}archives/{channel}/p{message['ts'].replace('.', '')}"
    return {"channel": channel, "permalink": permalink}


def conversations_open(ws: Workspace, call: Call) -> dict[str, Any]:
    users = call.params.get("users")
    if isinstance(users, list):
        users = ",".join(users)
    if not isinstance(users, str) or not users:
        channel = call.params.get("channel")
        if not channel:
            raise SlackError("users_list_not_supplied")
        return {"channel": {"id": ws.resolve_channel(channel)}, "no_op": True, "already_open": True}
    members = [user.strip() for user in users.split(",") if user.strip()]
    if ws.users and any(user not in ws.users for user in members):
        raise SlackError("user_not_found")
    already_open = ",".join(sorted(members)) in ws.dm_channels
    channel_id = ws.open_dm(members)
    return {"channel": {"id": channel_id}, "no_op": already_open, "already_open": already_open}


def _page(ws: Workspace, call: Call, messages: list[dict[str, Any]]) -> dict[str, Any]:
    p = call.params
    limit = int(p.get("limit") or 100)
    cursor = p.get("cursor")
    start = int(base64.b64decode(cursor).decode().split(":")[1]) if cursor else 0
    page = messages[start : start + limit]
    has_more = start + limit < len(messages)
    next_cursor = base64.b64encode(f"next:{start + limit}".encode()).decode() if has_more else ""
    include_metadata = flag(p, "include_all_metadata")
    return {
        "messages": [public_message(m, include_metadata=include_metadata) for m in page],
        "has_more": has_more,
        "pin_count": 0,
        "response_metadata": {"next_cursor": next_cursor},
    }


def conversations_history(ws: Workspace, call: Call) -> dict[str, Any]:
    """Top-level messages, newest first, between ``oldest`` and ``latest`` (exclusive unless ``inclusive``)."""
    p = call.params
    ws.require_scope("channels:history")
    channel = ws.resolve_channel(p.get("channel"))
    oldest = ts_value(p.get("oldest"), Decimal(0))
    latest = ts_value(p.get("latest"), Decimal("1e12"))
    inclusive = flag(p, "inclusive")

    def in_range(ts: Decimal) -> bool:
        return (oldest <= ts <= latest) if inclusive else (oldest < ts < latest)

    top_level = [m for m in ws.messages(channel) if m.get("thread_ts") in (None, m["ts"])]
    chosen = [m for m in reversed(top_level) if in_range(Decimal(m["ts"]))]
    return _page(ws, call, chosen)


def conversations_replies(ws: Workspace, call: Call) -> dict[str, Any]:
    ws.require_scope("channels:history")
    channel = ws.resolve_channel(call.params.get("channel"))
    parent = ws.find_message(channel, call.params.get("ts"))
    replies = [m for m in ws.messages(channel) if m.get("thread_ts") == parent["ts"] and m is not parent]
    return _page(ws, call, [parent, *replies])


def views_open(ws: Workspace, call: Call) -> dict[str, Any]:
    view = json_param(call.params, "view", "invalid_arguments")
    return {"view": ws.view_store.open(call.params.get("trigger_id"), view)}


def views_push(ws: Workspace, call: Call) -> dict[str, Any]:
    view = json_param(call.params, "view", "invalid_arguments")
    return {"view": ws.view_store.push(call.params.get("trigger_id"), view)}


def views_update(ws: Workspace, call: Call) -> dict[str, Any]:
    p = call.params
    view = json_param(p, "view", "invalid_arguments")
    return {
        "view": ws.view_store.update(
            view, view_id=p.get("view_id"), external_id=p.get("external_id"), hash_=p.get("hash")
        )
    }


def views_publish(ws: Workspace, call: Call) -> dict[str, Any]:
    view = json_param(call.params, "view", "invalid_arguments")
    return {
        "view": ws.view_store.publish_home(call.params.get("user_id"), view, hash_=call.params.get("hash"))
    }


def files_get_upload_url_external(ws: Workspace, call: Call) -> dict[str, Any]:
    filename, length = call.params.get("filename"), call.params.get("length")
    if not isinstance(filename, str) or not filename:
        raise SlackError("invalid_arguments")
    try:
        size = int(length)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise SlackError("invalid_arguments") from exc
    if size <= 0:
        raise SlackError("invalid_arguments")
    file_id = ws.new_id("F")
    ws.uploads[file_id] = Upload(
        file_id=file_id, filename=filename, length=size, user=call.actor, created=ws.clock()
    )
    return {"upload_url": f"{ws.base_url}upload/v1/{file_id}", "file_id": file_id}


def files_complete_upload_external(ws: Workspace, call: Call) -> dict[str, Any]:
    """Share the uploaded files: one message in each channel, carrying the ``files`` list."""
    p = call.params
    entries = json_param(p, "files", "invalid_arguments")
    if not isinstance(entries, list) or not entries:
        raise SlackError("invalid_arguments")
    uploads: list[Upload] = []
    for entry in entries:
        upload = ws.uploads.get(str(entry.get("id"))) if isinstance(entry, dict) else None
        if upload is None or upload.content is None:
            raise SlackError("file_not_found")
        upload.title = entry.get("title") or upload.filename
        uploads.append(upload)
    channels = [p["channel_id"]] if p.get("channel_id") else []
    if isinstance(p.get("channels"), str) and p["channels"]:
        channels += [channel for channel in p["channels"].split(",") if channel]
    comment = p.get("initial_comment")
    if isinstance(comment, str) and len(comment) > MAX_MESSAGE_TEXT:
        raise SlackError("msg_too_long")
    resolved = [ws.resolve_channel(channel) for channel in channels]
    for upload in uploads:
        upload.channels.extend(resolved)
    for channel in resolved:
        ws.post_message(
            channel=channel,
            user=call.actor,
            text=comment,
            blocks=None,
            files=[ws.file_object(u) for u in uploads],
            thread_ts=p.get("thread_ts"),
        )
    return {"files": [ws.file_object(upload) for upload in uploads]}


def users_info(ws: Workspace, call: Call) -> dict[str, Any]:
    return {"user": ws.user_record(call.params.get("user"))}


METHODS: dict[str, Method] = {
    "auth.test": auth_test,
    "chat.postMessage": chat_post_message,
    "chat.update": chat_update,
    "chat.postEphemeral": chat_post_ephemeral,
    "chat.delete": chat_delete,
    "chat.getPermalink": chat_get_permalink,
    "conversations.open": conversations_open,
    "conversations.history": conversations_history,
    "conversations.replies": conversations_replies,
    "views.open": views_open,
    "views.push": views_push,
    "views.update": views_update,
    "views.publish": views_publish,
    "files.getUploadURLExternal": files_get_upload_url_external,
    "files.completeUploadExternal": files_complete_upload_external,
    "users.info": users_info,
}

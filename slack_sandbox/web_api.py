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
from decimal import Decimal, InvalidOperation
from typing import Any

from slack_sandbox.calls import Call, Method, flag, json_param
from slack_sandbox.conversations import HISTORY_SCOPES, READ_SCOPES
from slack_sandbox.errors import SlackError
from slack_sandbox.web_api_files import (
    files_complete_upload_external,
    files_get_upload_url_external,
    files_info,
)
from slack_sandbox.workspace import Workspace, check_metadata


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
    channel = ws.conversation_id(p.get("channel"), actor=call.actor)
    ws.conversations.for_posting(channel, actor=call.actor, scopes=call.scopes)
    blocks = json_param(p, "blocks", "invalid_blocks_format")
    metadata = json_param(p, "metadata", "invalid_metadata_format")
    ws.check_content(p.get("text"), blocks or p.get("attachments"))
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
    channel = ws.conversation_id(p.get("channel"), actor=call.actor)
    if ws.conversations.visible(channel, actor=call.actor).is_archived:
        raise SlackError("is_archived")
    blocks = json_param(p, "blocks", "invalid_blocks_format")
    metadata = json_param(p, "metadata", "invalid_metadata_format")
    ws.check_content(p.get("text"), blocks, require_content=False)
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
    """Only where the app is a member (chat:write.public does not cover ephemerals), to a member."""
    p = call.params
    channel = ws.conversation_id(p.get("channel"), actor=call.actor)
    conversation = ws.conversations.for_members(channel, actor=call.actor)
    user = p.get("user")
    if not isinstance(user, str) or not user or user not in conversation.members:
        raise SlackError("user_not_in_channel")
    blocks = json_param(p, "blocks", "invalid_blocks_format")
    ws.check_content(p.get("text"), blocks)
    ephemeral = ws.post_ephemeral(
        channel=channel, user=user, text=p.get("text"), blocks=blocks, thread_ts=p.get("thread_ts")
    )
    return {"message_ts": ephemeral["ts"]}


def chat_delete(ws: Workspace, call: Call) -> dict[str, Any]:
    channel = ws.conversations.visible(ws.conversation_id(call.params.get("channel"), actor=call.actor), actor=call.actor).id
    ws.delete_message(channel, call.params.get("ts"), user=call.actor)
    return {"channel": channel, "ts": call.params.get("ts")}


def chat_get_permalink(ws: Workspace, call: Call) -> dict[str, Any]:
    channel = ws.conversations.visible(ws.conversation_id(call.params.get("channel"), actor=call.actor), actor=call.actor).id
    message = ws.find_message(channel, call.params.get("message_ts"))
    permalink = f"{ws.base_url}archives/{channel}/p{message['ts'].replace('.', '')}"
    return {"channel": channel, "permalink": permalink}


def conversations_open(ws: Workspace, call: Call) -> dict[str, Any]:
    """The actor's DM with one user (``im:write``) or group DM with several (``mpim:write``)."""
    users = call.params.get("users")
    if isinstance(users, list):
        users = ",".join(users)
    if not isinstance(users, str) or not users:
        channel = call.params.get("channel")
        if not channel:
            raise SlackError("users_list_not_supplied")
        found = ws.conversations.visible(ws.conversation_id(channel, actor=call.actor), actor=call.actor)
        return {"channel": {"id": found.id}, "no_op": True, "already_open": True}
    members = [user.strip() for user in users.split(",") if user.strip()]
    if ws.users and any(user not in ws.users for user in members):
        raise SlackError("user_not_found")
    call.grant.require("im:write" if len(members) == 1 else "mpim:write")
    before = len(ws.conversations.by_id)
    conversation = ws.conversations.dm([call.actor, *members])
    already_open = len(ws.conversations.by_id) == before
    return {"channel": {"id": conversation.id}, "no_op": already_open, "already_open": already_open}


def conversations_join(ws: Workspace, call: Call) -> dict[str, Any]:
    """Join a public channel (``channels:join``); private channels and DMs only by invitation."""
    conversation, already = ws.conversations.join(
        ws.conversation_id(call.params.get("channel"), actor=call.actor), actor=call.actor
    )
    answer: dict[str, Any] = {"channel": conversation.info(for_user=call.actor)}
    if already:
        answer.update(warning="already_in_channel", response_metadata={"warnings": ["already_in_channel"]})
    return answer


def conversations_info(ws: Workspace, call: Call) -> dict[str, Any]:
    conversation = ws.conversations.visible(ws.conversation_id(call.params.get("channel"), actor=call.actor), actor=call.actor)
    call.grant.require(READ_SCOPES[conversation.kind])
    return {"channel": conversation.info(for_user=call.actor)}


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
    channel = _readable(ws, call, p.get("channel"))
    oldest = ts_value(p.get("oldest"), Decimal(0))
    latest = ts_value(p.get("latest"), Decimal("1e12"))
    inclusive = flag(p, "inclusive")

    def in_range(ts: Decimal) -> bool:
        return (oldest <= ts <= latest) if inclusive else (oldest < ts < latest)

    top_level = [m for m in ws.messages(channel) if m.get("thread_ts") in (None, m["ts"])]
    chosen = [m for m in reversed(top_level) if in_range(Decimal(m["ts"]))]
    return _page(ws, call, chosen)


def _readable(ws: Workspace, call: Call, channel: Any) -> str:
    """A conversation whose messages the actor may read: its kind's history scope, and membership."""
    conversation = ws.conversations.visible(ws.conversation_id(channel, actor=call.actor), actor=call.actor)
    call.grant.require(HISTORY_SCOPES[conversation.kind])
    return ws.conversations.for_members(conversation.id, actor=call.actor).id


def conversations_replies(ws: Workspace, call: Call) -> dict[str, Any]:
    channel = _readable(ws, call, call.params.get("channel"))
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


def users_info(ws: Workspace, call: Call) -> dict[str, Any]:
    """A user; their email only for a token with ``users:read.email``, their locale when asked (``include_locale``)."""
    return {"user": ws.user_record(call.params.get("user"), with_email="users:read.email" in call.scopes,
                                   with_locale=flag(call.params, "include_locale"))}


METHODS: dict[str, Method] = {
    "auth.test": auth_test,
    "chat.postMessage": chat_post_message,
    "chat.update": chat_update,
    "chat.postEphemeral": chat_post_ephemeral,
    "chat.delete": chat_delete,
    "chat.getPermalink": chat_get_permalink,
    "conversations.open": conversations_open,
    "conversations.join": conversations_join,
    "conversations.info": conversations_info,
    "conversations.history": conversations_history,
    "conversations.replies": conversations_replies,
    "views.open": views_open,
    "views.push": views_push,
    "views.update": views_update,
    "views.publish": views_publish,
    "files.getUploadURLExternal": files_get_upload_url_external,
    "files.completeUploadExternal": files_complete_upload_external,
    "files.info": files_info,
    "users.info": users_info,
}

"""The Web API's file methods in the stand-in: the two-step upload of files_upload_v2, and files.info.

``files.getUploadURLExternal`` announces a file and hands out an upload URL; the bytes go there;
``files.completeUploadExternal`` shares the file into a conversation (the app must be a member)
as one message carrying it. Slack then processes the file asynchronously: ``files.info`` (scope
``files:read``) shows it with an empty ``mimetype`` until it is done, and an image block naming it
before then is refused. The stand-in finishes after ``Workspace.file_processing_polls`` answers of
``files.info`` for that file.
"""

from __future__ import annotations

from typing import Any

from slack_sandbox.blockkit_limits import MAX_MESSAGE_TEXT
from slack_sandbox.calls import Call, json_param
from slack_sandbox.errors import SlackError
from slack_sandbox.workspace import Upload, Workspace


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
        upload.completed = ws.clock()
        upload.processing_polls = ws.file_processing_polls
        uploads.append(upload)
    channels = [p["channel_id"]] if p.get("channel_id") else []
    if isinstance(p.get("channels"), str) and p["channels"]:
        channels += [channel for channel in p["channels"].split(",") if channel]
    comment = p.get("initial_comment")
    if isinstance(comment, str) and len(comment) > MAX_MESSAGE_TEXT:
        raise SlackError("msg_too_long")
    resolved = [ws.conversations.for_members(ws.conversation_id(channel, actor=call.actor), actor=call.actor).id
                for channel in channels]
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


def files_info(ws: Workspace, call: Call) -> dict[str, Any]:
    """The file; each answer while Slack still processes it counts towards it being ready."""
    upload = ws.uploads.get(str(call.params.get("file") or ""))
    if upload is None or upload.completed is None:
        raise SlackError("file_not_found")
    shown = ws.file_object(upload)
    if not ws.file_ready(upload):
        upload.processing_polls -= 1
    return {"file": shown, "comments": [], "response_metadata": {"next_cursor": ""}}

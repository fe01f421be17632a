"""Whether Tamio can post in a conversation, made so where Slack allows it, and said plainly where not.

Slack lets an app post where it is a member (and in public channels with ``chat:write.public``,
but uploads, ephemerals and history still need membership). What Tamio can do about a conversation:

- a public channel: join it (``conversations.join``, scope ``channels:join``);
- a private channel it is not in: nothing; a member must ``/invite @Tamio`` (Slack hides the channel
  from it: ``channel_not_found``);
- a DM between people, or a group DM: nothing; apps are not members of those.

``conversations.join`` tells the cases apart without reading scopes Tamio does not ask for: it joins
a public channel, answers ``method_not_supported_for_channel_type`` for a private channel Tamio is
already in, and ``channel_not_found`` for one it cannot see.

    access = await make_postable(client, "C0FINANCE", channel_name="finance")
    if not access.postable:
        text = access.explain("post the daily digest")
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger("tamio.bot")

MEMBER, JOINED = "member", "joined"
NOT_INVITED, DIRECT, GROUP_DM, ARCHIVED, CANNOT_JOIN = "not_invited", "direct", "group_dm", "archived", "cannot_join"
# Slack errors that say Tamio can no longer post somewhere, whatever it retries.
LOST_CHANNEL_ERRORS = frozenset({"not_in_channel", "channel_not_found", "is_archived", "restricted_action",
                                 "restricted_action_read_only_channel", "team_access_not_granted"})


@dataclass(frozen=True)
class ChannelAccess:
    channel_id: str
    state: str

    @property
    def postable(self) -> bool:
        return self.state in (MEMBER, JOINED)

    def explain(self, doing: str) -> str:
        """Why Tamio cannot ``doing`` here, and what to do instead."""
        where = f"<#{self.channel_id}>" if self.channel_id.startswith(("C", "G")) else "this conversation"
        if self.state == DIRECT:
            return (f":no_entry: I can't {doing} in a direct message: only the two of you are in it. "
                    "Run this in the channel that should get it.")
        if self.state == GROUP_DM:
            return (f":no_entry: I can't {doing} in a group DM: apps can't join those. "
                    "Run this in a channel (make a private one for a small group).")
        if self.state == NOT_INVITED:
            return (f":lock: {where} is private and I'm not in it, so I can't {doing} there. "
                    "Invite me with `/invite @Tamio`, then run this again.")
        if self.state == ARCHIVED:
            return f":file_cabinet: {where} is archived, so I can't {doing} there. Choose another channel."
        if self.state == CANNOT_JOIN:
            return (f":no_entry: I'm not in {where} and can't join it by myself. "
                    "Invite me with `/invite @Tamio`, then run this again.")
        return f"I can {doing} in {where}."


def conversation_kind_from_name(channel_id: str, channel_name: str | None) -> str | None:
    """What a slash command or a click tells about its conversation: DM, group DM, or nothing certain."""
    name = channel_name or ""
    if channel_id.startswith("D") or name == "directmessage":
        return DIRECT
    if name.startswith("mpdm-"):
        return GROUP_DM
    return None


async def make_postable(client: AsyncWebClient, channel_id: str, *, channel_name: str | None = None) -> ChannelAccess:
    """Join ``channel_id`` if Tamio can; what Tamio's access to it is now (see the module docstring)."""
    kind = conversation_kind_from_name(channel_id, channel_name)
    if kind is not None:
        return ChannelAccess(channel_id, kind)
    try:
        joined = await client.conversations_join(channel=channel_id)
    except SlackApiError as exc:
        error = str(exc.response.get("error") or "")
        if error == "method_not_supported_for_channel_type":
            return ChannelAccess(channel_id, MEMBER)  # a private channel Tamio is in (it could not see it otherwise)
        if error == "channel_not_found":
            return ChannelAccess(channel_id, NOT_INVITED)
        if error == "is_archived":
            return ChannelAccess(channel_id, ARCHIVED)
        if error in ("missing_scope", "restricted_action"):
            log.warning("cannot join %s: %s", channel_id, error)
            return ChannelAccess(channel_id, CANNOT_JOIN)
        raise
    return ChannelAccess(channel_id, MEMBER if joined.get("warning") == "already_in_channel" else JOINED)

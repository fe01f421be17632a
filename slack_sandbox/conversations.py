"""Conversations in the stand-in, and who may do what in each: Slack's channel rules, as errors.

A conversation is a public channel, a private channel, a DM (``im``) or a group DM (``mpim``), with
its members. Slack answers a token by what its user (the bot, for a bot token) can see:

- an id nobody created, a private channel or a (group) DM the user is not in: ``channel_not_found``
  (private conversations are invisible to non-members);
- a public channel the user is not in: posting needs ``chat:write.public`` (else ``not_in_channel``);
  reading its history, sharing a file into it, or an ephemeral there: ``not_in_channel``;
- ``conversations.join`` joins a public channel (``channels:join``); on a private channel or a DM it
  answers ``method_not_supported_for_channel_type``;
- an archived channel: ``is_archived`` for anything that writes.

    rules = Conversations(bot_user_id="U0BOT", new_id=...)
    rules.add(Conversation("C1", "general", "public", {"U0BOT", "U1"}))
    rules.visible("C1", actor="U0BOT")        # the conversation, or SlackError("channel_not_found")
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from slack_sandbox.errors import SlackError

Kind = Literal["public", "private", "im", "mpim"]
HISTORY_SCOPES: dict[str, str] = {"public": "channels:history", "private": "groups:history", "im": "im:history",
                                  "mpim": "mpim:history"}
READ_SCOPES: dict[str, str] = {"public": "channels:read", "private": "groups:read", "im": "im:read", "mpim": "mpim:read"}


@dataclass
class Conversation:
    id: str
    name: str
    kind: Kind
    members: set[str] = field(default_factory=set)
    is_archived: bool = False
    is_ext_shared: bool = False  # a Slack Connect channel shared with another organisation

    @property
    def is_private(self) -> bool:
        return self.kind != "public"

    def command_channel_name(self) -> str:
        """``channel_name`` in a slash command's payload, as Slack fills it in."""
        if self.kind == "im":
            return "directmessage"
        if self.kind == "private":
            return "privategroup"
        return self.name

    def info(self, *, for_user: str) -> dict[str, object]:
        """The conversation object of ``conversations.info`` / ``conversations.join``."""
        shown: dict[str, object] = {
            "id": self.id,
            "name": self.name,
            "is_channel": self.kind == "public",
            "is_group": self.kind == "private",
            "is_im": self.kind == "im",
            "is_mpim": self.kind == "mpim",
            "is_private": self.is_private,
            "is_archived": self.is_archived,
            "is_ext_shared": self.is_ext_shared,
            "is_shared": self.is_ext_shared,
            "is_member": for_user in self.members,
            "num_members": len(self.members),
        }
        if self.kind == "im":
            shown["user"] = next((m for m in sorted(self.members) if m != for_user), for_user)
        return shown


class Conversations:
    """Every conversation of the workspace and the rules of access to each."""

    def __init__(self, *, bot_user_id: str, new_id: Callable[[str], str]) -> None:
        self.bot_user_id = bot_user_id
        self._new_id = new_id
        self.by_id: dict[str, Conversation] = {}
        self._dms: dict[str, str] = {}  # sorted member ids -> conversation id

    def add(self, conversation: Conversation) -> Conversation:
        self.by_id[conversation.id] = conversation
        if conversation.kind in ("im", "mpim"):
            self._dms[",".join(sorted(conversation.members))] = conversation.id
        return conversation

    def dm(self, users: Iterable[str]) -> Conversation:
        """The DM (two people) or group DM (more) of exactly these users, opened on first use."""
        members = sorted(set(users))
        key = ",".join(members)
        found = self._dms.get(key)
        if found is not None:
            return self.by_id[found]
        kind: Kind = "im" if len(members) <= 2 else "mpim"
        prefix = "D" if kind == "im" else "G"
        name = "-".join(members) if kind == "im" else "mpdm-" + "--".join(m.lower() for m in members) + "-1"
        return self.add(Conversation(prefix + self._new_id(""), name, kind, set(members)))

    def visible(self, channel: str, *, actor: str) -> Conversation:
        """The conversation as ``actor`` may see it: unknown or private-and-not-a-member is not found."""
        conversation = self.by_id.get(channel)
        if conversation is None or (conversation.is_private and actor not in conversation.members):
            raise SlackError("channel_not_found")
        return conversation

    def for_posting(self, channel: str, *, actor: str, scopes: frozenset[str]) -> Conversation:
        """Where a message may be posted: members anywhere; others in public channels with chat:write.public."""
        conversation = self.visible(channel, actor=actor)
        if conversation.is_archived:
            raise SlackError("is_archived")
        if actor not in conversation.members and "chat:write.public" not in scopes:
            raise SlackError("not_in_channel")
        return conversation

    def for_members(self, channel: str, *, actor: str) -> Conversation:
        """What only a member may do (history, sharing a file, an ephemeral): otherwise not_in_channel."""
        conversation = self.visible(channel, actor=actor)
        if actor not in conversation.members:
            raise SlackError("not_in_channel")
        return conversation

    def join(self, channel: str, *, actor: str) -> tuple[Conversation, bool]:
        """conversations.join: (the channel, whether the actor was already in it)."""
        conversation = self.visible(channel, actor=actor)
        if conversation.kind != "public":
            raise SlackError("method_not_supported_for_channel_type")
        if conversation.is_archived:
            raise SlackError("is_archived")
        already = actor in conversation.members
        conversation.members.add(actor)
        return conversation, already

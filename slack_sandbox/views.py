"""Modals and Home tabs in the stand-in: trigger ids, views, their stacks, and Slack's rules on them.

A trigger id is single-use and lives 3 seconds (``invalid_trigger_id``, ``expired_trigger_id``,
``exchanged_trigger_id``); a modal stack holds at most 3 views (``push_limit_reached``); an
update with a stale ``hash`` gets ``hash_conflict``; a view past Block Kit's limits gets
``invalid_arguments`` with the problems listed, as ``views.*`` does in Slack.

    store = ViewStore(team_id="T0001", app_id="A0APP", bot_id="B0BOT", clock=time.time, new_id=...)
    view = store.open(store.new_trigger("U1"), {"type": "modal", "title": ..., "blocks": []})
    store.views[view["id"]] is view
"""

from __future__ import annotations

import copy
import itertools
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_sandbox.blockkit_limits import view_errors
from slack_sandbox.errors import SlackError

TRIGGER_LIFETIME_S = 3.0
MAX_VIEW_STACK = 3


@dataclass
class Trigger:
    user: str
    created: float
    view_id: str | None = None  # set when the interaction happened inside a view (for views.push)
    used: bool = False
    channel: str | None = None  # the conversation the interaction happened in (a command's, a message's)


class ViewStore:
    """Every modal the app opened (by view id), the open stacks, and each user's Home tab."""

    def __init__(
        self,
        *,
        team_id: str,
        app_id: str,
        bot_id: str,
        clock: Callable[[], float],
        new_id: Callable[[str], str],
    ) -> None:
        self.team_id, self.app_id, self.bot_id = team_id, app_id, bot_id
        self.clock = clock
        self._new_id = new_id
        self._serials = itertools.count(1)
        self.views: dict[str, dict[str, Any]] = {}
        self.view_users: dict[str, str] = {}
        self.view_stacks: dict[str, list[str]] = {}  # root view id -> open views, bottom first
        self.home_views: dict[str, dict[str, Any]] = {}
        self.triggers: dict[str, Trigger] = {}

    def _next_serial(self) -> int:
        return next(self._serials)

    def new_hash(self) -> str:
        return f"{int(self.clock())}.{secrets.token_hex(4)}"

    def new_trigger(self, user: str, view_id: str | None = None, channel: str | None = None) -> str:
        trigger_id = f"{self._next_serial()}.{secrets.randbelow(10**9)}.{secrets.token_hex(16)}"
        self.triggers[trigger_id] = Trigger(user=user, created=self.clock(), view_id=view_id, channel=channel)
        return trigger_id

    def take_trigger(self, trigger_id: Any) -> Trigger:
        """Use a trigger: unknown, older than 3 s, or used before -> Slack's error."""
        trigger = self.triggers.get(trigger_id) if isinstance(trigger_id, str) else None
        if trigger is None:
            raise SlackError("invalid_trigger_id")
        if self.clock() - trigger.created > TRIGGER_LIFETIME_S:
            raise SlackError("expired_trigger_id")
        if trigger.used:
            raise SlackError("exchanged_trigger_id")
        trigger.used = True
        return trigger

    def _checked_view(self, view: Any) -> dict[str, Any]:
        errors = view_errors(view)
        if errors:
            raise SlackError(
                "invalid_arguments",
                errors=errors,
                response_metadata={"messages": [f"[ERROR] {e}" for e in errors]},
            )
        assert isinstance(view, dict)
        return view

    def _view_record(
        self, view: dict[str, Any], *, view_id: str, root_view_id: str | None, previous_view_id: str | None
    ) -> dict[str, Any]:
        record = {key: copy.deepcopy(value) for key, value in view.items()}
        record.update(
            id=view_id,
            team_id=self.team_id,
            app_id=self.app_id,
            bot_id=self.bot_id,
            private_metadata=view.get("private_metadata", ""),
            callback_id=view.get("callback_id", ""),
            external_id=view.get("external_id", ""),
            state={"values": {}},
            hash=self.new_hash(),
            clear_on_close=bool(view.get("clear_on_close")),
            notify_on_close=bool(view.get("notify_on_close")),
            root_view_id=root_view_id,
            previous_view_id=previous_view_id,
        )
        return record

    def open(self, trigger_id: Any, view: Any) -> dict[str, Any]:
        view = self._checked_view(view)
        trigger = self.take_trigger(trigger_id)
        view_id = self._new_id("V")
        record = self._view_record(view, view_id=view_id, root_view_id=view_id, previous_view_id=None)
        _preselect_current_conversation(record, trigger.channel)
        self.views[view_id], self.view_users[view_id] = record, trigger.user
        self.view_stacks[view_id] = [view_id]
        return record

    def push(self, trigger_id: Any, view: Any) -> dict[str, Any]:
        view = self._checked_view(view)
        trigger = self.take_trigger(trigger_id)
        below = trigger.view_id
        root = self.views[below]["root_view_id"] if below in self.views else None
        stack = self.view_stacks.get(root, []) if root else []
        if len(stack) >= MAX_VIEW_STACK:
            raise SlackError("push_limit_reached")
        view_id = self._new_id("V")
        record = self._view_record(
            view, view_id=view_id, root_view_id=root or view_id, previous_view_id=stack[-1] if stack else None
        )
        self.views[view_id], self.view_users[view_id] = record, trigger.user
        self.view_stacks.setdefault(record["root_view_id"], []).append(view_id)
        return record

    def update(self, view: Any, *, view_id: Any, external_id: Any, hash_: Any) -> dict[str, Any]:
        view = self._checked_view(view)
        current = self.views.get(view_id) if view_id else None
        if current is None and external_id:
            current = next((v for v in self.views.values() if v.get("external_id") == external_id), None)
        if current is None:
            raise SlackError("not_found")
        if hash_ and hash_ != current["hash"]:
            raise SlackError("hash_conflict")
        record = self._view_record(
            view,
            view_id=current["id"],
            root_view_id=current["root_view_id"],
            previous_view_id=current["previous_view_id"],
        )
        self.views[current["id"]] = record
        return record

    def close(self, view_id: str, *, clear: bool) -> None:
        """What Slack does after an empty ``view_submission`` ack (close) or ``clear``."""
        record = self.views.get(view_id)
        if record is None:
            return
        stack = self.view_stacks.get(record["root_view_id"], [])
        if clear:
            stack.clear()
        elif view_id in stack:
            stack.remove(view_id)

    def publish_home(self, user_id: Any, view: Any, *, hash_: Any) -> dict[str, Any]:
        if not isinstance(user_id, str) or not user_id:
            raise SlackError("invalid_arguments")
        view = self._checked_view(view)
        if view.get("type") != "home":
            raise SlackError(
                "invalid_arguments", errors=["views.publish takes a home view [json-pointer:/view/type]"]
            )
        current = self.home_views.get(user_id)
        if current is not None and hash_ and hash_ != current["hash"]:
            raise SlackError("hash_conflict")
        view_id = current["id"] if current else self._new_id("V")
        record = self._view_record(view, view_id=view_id, root_view_id=None, previous_view_id=None)
        self.home_views[user_id] = record
        return record


def _preselect_current_conversation(view: dict[str, Any], channel: str | None) -> None:
    """``default_to_current_conversation``: Slack's picker starts on the conversation the modal came from."""
    if not channel:
        return
    for block in view.get("blocks") or []:
        element = block.get("element") if isinstance(block, dict) else None
        if isinstance(element, dict) and element.get("default_to_current_conversation"):
            key = "initial_conversation" if element.get("type") == "conversations_select" else "initial_channel"
            element.setdefault(key, channel)

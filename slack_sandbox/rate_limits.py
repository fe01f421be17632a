"""Slack's per-method rate limits: past a method's tier, ``429`` with ``Retry-After``, and nothing done.

Slack rates each Web API method by tier, per token (per workspace for a bot token): Tier 1 about one
call a minute, Tier 2 twenty, Tier 3 fifty, Tier 4 a hundred; ``chat.postMessage`` is special, about
one message a second per channel with short bursts allowed. The stand-in counts calls in a sliding
window on its clock and answers the call that goes past it with ``429``, ``{"ok": false, "error":
"ratelimited"}`` and ``Retry-After`` (whole seconds until the window has room again).

    limits = RateLimits()
    limits.set("chat.update", calls=2, per_s=60)    # a test that wants to see a 429 soon
    limits.take("chat.update", key="xoxb-1", now=0.0)  # None, or the seconds to wait
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

TIERS: dict[int, int] = {1: 1, 2: 20, 3: 50, 4: 100}  # calls per minute
METHOD_TIERS: dict[str, int] = {
    "chat.update": 3,
    "chat.delete": 3,
    "chat.postEphemeral": 4,
    "chat.getPermalink": 4,
    "conversations.open": 3,
    "conversations.join": 3,
    "conversations.info": 3,
    "conversations.history": 3,
    "conversations.replies": 3,
    "views.open": 4,
    "views.push": 4,
    "views.update": 4,
    "views.publish": 4,
    "files.getUploadURLExternal": 4,
    "files.completeUploadExternal": 4,
    "files.info": 4,
    "users.info": 4,
    "users.lookupByEmail": 3,
}
POST_MESSAGE_BURST = 60  # chat.postMessage: one a second per channel on average, bursts allowed


@dataclass(frozen=True)
class Limit:
    calls: int
    per_s: float
    per_channel: bool = False  # counted per conversation (chat.postMessage) instead of per token


def default_limits() -> dict[str, Limit]:
    limits = {method: Limit(TIERS[tier], 60.0) for method, tier in METHOD_TIERS.items()}
    limits["chat.postMessage"] = Limit(POST_MESSAGE_BURST, float(POST_MESSAGE_BURST), per_channel=True)
    return limits


class RateLimits:
    """Sliding windows of recent calls, per method and token (or channel)."""

    def __init__(self, limits: dict[str, Limit] | None = None) -> None:
        self.limits = default_limits() if limits is None else dict(limits)
        self._calls: dict[tuple[str, str], deque[float]] = {}
        self.refused: list[tuple[str, int]] = []  # (method, Retry-After) of each 429 served

    def set(self, method: str, *, calls: int, per_s: float, per_channel: bool = False) -> None:
        self.limits[method] = Limit(calls, per_s, per_channel)

    def off(self) -> None:
        self.limits = {}

    def take(self, method: str, *, token: str, channel: str | None, now: float) -> int | None:
        """Count this call; ``None`` when it is within the limit, else the ``Retry-After`` seconds."""
        limit = self.limits.get(method)
        if limit is None:
            return None
        key = (method, f"channel:{channel}" if limit.per_channel and channel else f"token:{token}")
        window = self._calls.setdefault(key, deque())
        while window and now - window[0] >= limit.per_s:
            window.popleft()
        if len(window) >= limit.calls:
            wait = max(1, math.ceil(limit.per_s - (now - window[0])))
            self.refused.append((method, wait))
            return wait
        window.append(now)
        return None

"""Who a (team, user) is, remembered for a few seconds (``Runtime.workspaces``).

It holds plain column values, not rows: ``bot.workspace`` attaches them to each request's session.
It sits below ``bot.runtime``, which keeps one per process, and ``bot.workspace``, which fills it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tamio.accounts.models import Account, Member

Key = tuple[str, str | None, str | None]


@dataclass(frozen=True)
class Known:
    account: dict[str, Any]
    member: dict[str, Any] | None
    expires: float


class KnownWorkspaces:
    """Who a (team, user) is, remembered for a few seconds so an ack needs no database round trip.

    Listeners that change something (write paths, decisions) reload the account and member first
    (``Scope.fresh``), so a role or threshold changed on another replica counts at once there;
    read-only answers may see a change up to ``ttl`` seconds late. This process forgets an
    account's entries as soon as it changes its roles or settings (``forget``).
    """

    def __init__(self, ttl: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.clock = ttl, clock
        self._entries: dict[Key, Known] = {}

    def get(self, key: Key) -> Known | None:
        known = self._entries.get(key)
        if known is None or known.expires < self.clock():
            self._entries.pop(key, None)
            return None
        return known

    def put(self, key: Key, account: Account, member: Member | None) -> None:
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[key] = Known(_values(account), _values(member) if member else None, self.clock() + self.ttl)

    def forget(self, account_id: str) -> None:
        for key in [k for k, v in self._entries.items() if v.account["id"] == account_id]:
            self._entries.pop(key, None)


def _values(row: Account | Member) -> dict[str, Any]:
    return {attr.key: getattr(row, attr.key) for attr in type(row).__mapper__.column_attrs}

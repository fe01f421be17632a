"""Stay under Xero's per-organisation call limit instead of finding it by hitting 429s.

Xero allows 60 calls a minute per tenant (and 5,000 a day). ``TenantRateLimiter`` keeps a sliding
window of the moments calls were started, per tenant, and before each call waits until the window
has room. The clock and the sleep are injected, so tests drive a fake clock and run instantly.
Share one limiter between adapters that talk to the same tenants in one process.

    limiter = TenantRateLimiter(max_calls=60, period=60.0, clock=time.monotonic, sleep=asyncio.sleep)
    await limiter.acquire(tenant_id)   # returns at once, or after sleeping until there is room
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class TenantRateLimiter:
    def __init__(self, *, max_calls: int, period: float, clock: Clock, sleep: Sleep) -> None:
        if max_calls < 1 or period <= 0:
            raise ValueError("max_calls must be >= 1 and period > 0")
        self.max_calls = max_calls
        self.period = period
        self._clock = clock
        self._sleep = sleep
        self._calls: dict[str, deque[float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _window(self, tenant_id: str, now: float) -> deque[float]:
        window = self._calls.setdefault(tenant_id, deque())
        while window and now - window[0] >= self.period:
            window.popleft()
        return window

    def wait_needed(self, tenant_id: str) -> float:
        """Seconds until a call for this tenant would fit in the window (0 when it fits now)."""
        now = self._clock()
        window = self._window(tenant_id, now)
        if len(window) < self.max_calls:
            return 0.0
        return max(0.0, self.period - (now - window[len(window) - self.max_calls]))

    async def acquire(self, tenant_id: str) -> None:
        """Wait until the tenant's window has room, then count one call."""
        lock = self._locks.setdefault(tenant_id, asyncio.Lock())
        async with lock:  # callers for one tenant take turns, so none jumps the queue
            while (wait := self.wait_needed(tenant_id)) > 0:
                await self._sleep(wait)
            now = self._clock()
            self._window(tenant_id, now).append(now)

"""Waiting for something a test cannot be told about directly: a row another task writes, a request a
server is holding.

``until`` checks a condition every few milliseconds until it holds. It makes no assumption about
how long that takes (a slow machine just checks more often); the timeout only turns a hang into a
failure that says what never happened.

    await until(lambda: bool(slack.messages("C0FINANCE")), what="the message was posted")
    await until(claims_made, what="every frequent job claimed its slot")   # an async condition
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable

HANG_S = 120.0


async def until(condition: Callable[[], bool | Awaitable[bool]], *, what: str, timeout: float = HANG_S) -> None:  # noqa: ASYNC109
    async def holds() -> bool:
        answer = condition()
        return bool(await answer) if inspect.isawaitable(answer) else bool(answer)

    async def poll() -> None:
        while not await holds():  # noqa: ASYNC110 (the one poll: for what no event announces)
            await asyncio.sleep(0.005)

    try:
        await asyncio.wait_for(poll(), timeout)
    except TimeoutError:
        raise AssertionError(f"gave up after {timeout:.0f} s waiting until {what}") from None

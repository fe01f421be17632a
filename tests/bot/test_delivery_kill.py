"""A delivery worker killed mid-send (SIGKILL of its process) still ends with each message once.

The worker runs in its own process (``python -m tests.bot.test_delivery_kill ...``) against the
local Slack stand-in, which stalls one chat.postMessage: either after posting it (Slack has it;
the worker never hears back) or before (Slack never gets it). The worker is killed while it
waits. A second worker takes the row over once its lease runs out, looks in the channel for the
message's idempotency key, and adopts the message it finds or posts the one that never arrived.

Both workers' clocks are fakes starting at ``NOW``: the doomed one's stands still (its leases end
at ``NOW + LEASE``), the survivor's is stepped to the moment a lease runs out, never waited for.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from slack_sandbox.standin import SlackStandIn
from tests.bot.test_delivery_reliability import (
    NOW,
    deliver_everything,
    outbox_workspace,
    posted_keys,
    queue,
    rows,
    team,
    worker_for,
)
from tests.conftest import TEST_SECRET_KEY, secret_for_tests
from tests.fake_clock import FakeClock

ROOT = Path(__file__).resolve().parents[2]
LEASE = timedelta(seconds=2)  # short for the test; the worker's HTTP timeout stays below it


class Stall:
    """Stalls the next chat.postMessage, ``after`` Slack applied it or ``before``; records its key."""

    def __init__(self) -> None:
        self.mode = "off"
        self.key: str | None = None
        self.stalled = asyncio.Event()
        self.release = asyncio.Event()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        if self.mode == "off" or not request.path.endswith("/chat.postMessage"):
            return await handler(request)
        mode, self.mode = self.mode, "off"
        body = await request.json()
        self.key = body["metadata"]["event_payload"]["key"]
        if mode == "after":
            response = await handler(request)  # Slack has posted it ...
            self.stalled.set()
            await self.release.wait()  # ... and the answer is still on its way when the worker dies
            return response
        self.stalled.set()  # "before": the worker dies before Slack gets to it ...
        await self.release.wait()
        return web.Response(status=499)  # ... so Slack never does


async def run_worker(url: str, api_url: str, token: str) -> None:
    """The worker process: deliver forever with a short lease (until killed), its clock standing at ``NOW``."""
    from slack_sdk.web.async_client import AsyncWebClient

    import tamio.models  # noqa: F401
    from bot.charts import ChartLinks
    from bot.delivery import DeliveryWorker
    from bot.oauth import SingleWorkspaceToken
    from bot.runtime import Runtime
    from tamio.config import Settings
    from tamio.db import create_engine, make_session_factory
    from tamio.outbox.service import RetryPolicy

    settings = Settings(database_url=url, slack_bot_token=token, slack_api_url=api_url, slack_signing_secret="s",
                        secret_key=TEST_SECRET_KEY)
    sessions = make_session_factory(create_engine(url), secret_for_tests())
    client = AsyncWebClient(token=token, base_url=api_url, timeout=LEASE.total_seconds() - 1)
    worker = DeliveryWorker(Runtime(settings, sessions, lambda: NOW), client, SingleWorkspaceToken(token), ChartLinks(settings),
                            policy=RetryPolicy(base_seconds=0.05, cap_seconds=0.2, lease=LEASE), interval=0.05, name="doomed")
    await worker.run_forever(asyncio.Event())


async def kill_mid_send(slack: SlackStandIn, stall: Stall, db_url: str, mode: str) -> None:
    stall.mode, stall.key = mode, None
    stall.stalled.clear()
    stall.release.clear()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.bot.test_delivery_kill", db_url, slack.api_url, slack.bot_token,
        cwd=ROOT, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    try:
        await asyncio.wait_for(stall.stalled.wait(), timeout=30)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        await process.wait()
    assert process.returncode == -signal.SIGKILL
    stall.release.set()


@pytest.mark.parametrize("mode", ["after", "before"])
async def test_a_worker_killed_mid_send_leaves_each_message_delivered_once(
    db_url: str, session_factory: async_sessionmaker[AsyncSession], mode: str,
) -> None:
    stall = Stall()
    slack = outbox_workspace()
    slack.app.middlewares.append(stall.middleware)
    async with slack:
        account_id = await team(session_factory)
        messages = [("slack_post", f"C{n}", f"post:{n}:{i}") for n in range(3) for i in range(2)]
        messages.append(("digest", "C0FINANCE", f"digest:{account_id}:2026-12-07"))
        await queue(session_factory, account_id, messages)

        await kill_mid_send(slack, stall, db_url, mode)
        clock = FakeClock(NOW)
        survivor = worker_for(slack, session_factory, "survivor", policy=worker_policy(), clock=clock)
        await deliver_everything([survivor], session_factory, clock)

        assert posted_keys(slack, {"C0", "C1", "C2", "C0FINANCE"}) == {key: 1 for _, _, key in messages}
        by_key: dict[str, Any] = {r.idempotency_key: r for r in await rows(session_factory)}
        stalled = by_key[stall.key]
        assert stalled.status == "delivered" and stalled.attempts == 2 and stalled.claimed_by == "survivor"
        assert bool(stalled.result.get("found_earlier")) is (mode == "after")
        assert stalled.delivered_at >= NOW + LEASE  # taken over only once the dead worker's lease ran out


def worker_policy() -> Any:
    from tamio.outbox.service import RetryPolicy

    return RetryPolicy(base_seconds=0.05, cap_seconds=0.2, lease=LEASE)


if __name__ == "__main__":
    asyncio.run(run_worker(sys.argv[1], sys.argv[2], sys.argv[3]))

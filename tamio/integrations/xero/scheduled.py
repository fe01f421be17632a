"""The daily Xero sync: every account with an active Xero connection pulls what changed.

The scheduler's ``xero_sync`` job (``tamio.scheduler.jobs``) calls ``sync_every_connection`` once a
day. With no active connection it does nothing (and asks nothing of Xero); when the server lacks
the Xero settings it says so and skips. Each account syncs on its own (``sync_connected_accounts``):
one whose tokens Xero refuses is marked for reconnection and its channel is told once, and the
others go on. A sync that Xero's rate limit stopped resumes where it stopped on the next run (or
the next ``/tamio sync``).

The job's time is taken once by the scheduler; the sync needs a clock that moves (token expiry,
the lease renewed with every page), so it runs on that time plus the real time elapsed since.

    details = await sync_every_connection(sessions, settings=settings, now=run.now)
    # {"connections": 2, "synced": 2, "changed": 14, "incomplete": 0, "stopped": 0}
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.config import Settings
from tamio.integrations.connections import ACTIVE
from tamio.integrations.models import IntegrationConnection
from tamio.integrations.xero.routes import missing_settings
from tamio.integrations.xero.sync import INTEGRATION, SyncReport, sync_connected_accounts

log = logging.getLogger("tamio.scheduler")

MAX_PROBLEMS_LISTED = 20


def moving_clock(start: datetime) -> Callable[[], datetime]:
    """``start``, then moving on with the real (monotonic) time elapsed since."""
    origin = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - origin)


async def active_connections(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as db:
        stmt = select(func.count()).select_from(IntegrationConnection).where(
            IntegrationConnection.integration_type == INTEGRATION, IntegrationConnection.status == ACTIVE
        )
        return int((await db.execute(stmt)).scalar_one())


async def sync_every_connection(
    sessions: async_sessionmaker[AsyncSession], *, settings: Settings, now: datetime, **adapter_options: Any
) -> dict[str, Any]:
    """Sync each active Xero connection; what happened, for the job's claim (``outcome`` when not "ok")."""
    connections = await active_connections(sessions)
    if not connections:
        return {"connections": 0}
    missing = missing_settings(settings)
    if missing:
        note = f"{connections} Xero connections wait, but this server lacks {', '.join(missing)}"
        log.warning("xero sync: %s; skipped", note)
        return {"outcome": "skipped", "connections": connections, "note": note}
    clock = moving_clock(now)
    adapter_options.setdefault("now", clock)
    async with aiohttp.ClientSession() as http:
        results = await sync_connected_accounts(sessions, settings=settings, http=http, clock=clock, **adapter_options)
    reports = [r for r in results.values() if isinstance(r, SyncReport)]
    problems = {account: reason for account, reason in results.items() if isinstance(reason, str)}
    details: dict[str, Any] = {
        "connections": len(results),
        "synced": len(reports),
        "changed": sum(r.changed for r in reports),
        "incomplete": sum(not r.complete for r in reports),
        "stopped": len(problems),
    }
    if problems:
        details["problems"] = dict(sorted(problems.items())[:MAX_PROBLEMS_LISTED])
        details["outcome"] = "failed" if not reports else "partial"
    return details

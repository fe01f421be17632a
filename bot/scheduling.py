"""Starts the scheduler inside ``tamio serve`` (every replica runs one; claim rows keep runs single).

``bot.server.build_web_app`` adds ``scheduler_context`` to the web app's clean-up contexts when the
server runs its delivery worker (a harness that builds the app with ``run_delivery=False``, as bot
tests that deliver by hand do, gets no scheduler either). The scheduler starts with the web app and
stops with it, after letting runs in progress record their outcome. Its clock is the app's clock
and its doorbell is the delivery worker's, so a digest or alert queued by a job goes out at once.
On PostgreSQL big passes are split into shards that replicas share; on SQLite one replica works on
one account at a time (writers queue anyway).

    web_app.cleanup_ctx.append(scheduler_context(runtime, settings, sessions))
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.runtime import Runtime
from tamio.config import Settings
from tamio.db import is_sqlite
from tamio.scheduler.runner import SchedulerApp
from tamio.scheduler.setup import setup_apscheduler, shutdown_apscheduler

log = logging.getLogger("tamio.scheduler")

PG_SHARDS, PG_CONCURRENCY = 8, 4


def scheduler_for(runtime: Runtime, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> SchedulerApp:
    sqlite = is_sqlite(settings.database_url)
    return SchedulerApp(settings, sessions, clock=runtime.clock, wake=runtime.wake_delivery,
                        shards=1 if sqlite else PG_SHARDS, concurrency=1 if sqlite else PG_CONCURRENCY)


def scheduler_context(runtime: Runtime, settings: Settings, sessions: async_sessionmaker[AsyncSession],
                      ) -> Callable[[web.Application], AsyncIterator[None]]:
    async def context(web_app: web.Application) -> AsyncIterator[None]:
        app = scheduler_for(runtime, settings, sessions)
        scheduler = await setup_apscheduler(app)
        log.info("scheduler started as %s (%s)", app.replica, ", ".join(app.jobs))
        try:
            yield
        finally:
            await shutdown_apscheduler(scheduler, app, timeout=20)

    return context

"""Starts the scheduler inside ``tamio serve`` (every replica runs one; claim rows keep runs single).

``bot.server.build_web_app`` finds this module and calls ``install(web_app, settings, sessions)``.
The scheduler starts with the web app and stops with it, after letting runs in progress record
their outcome. Its clock is the app's clock and its doorbell is the delivery worker's, so a
digest or alert queued by a job goes out at once. On PostgreSQL big passes are split into shards
that replicas share; on SQLite one replica works on one account at a time (writers queue anyway).

Background work runs only where the server runs its delivery worker: a harness that builds the
app with ``run_delivery=False`` (bot tests that deliver by hand) gets no scheduler either.

    web_app = build_web_app(settings, sessions)       # installs this; the scheduler starts on startup
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.config import Settings
from tamio.db import is_sqlite
from tamio.scheduler.runner import SchedulerApp
from tamio.scheduler.setup import setup_apscheduler, shutdown_apscheduler

log = logging.getLogger("tamio.scheduler")

PG_SHARDS, PG_CONCURRENCY = 8, 4


def background_enabled(web_app: web.Application) -> bool:
    """Whether this app runs background work: an explicit flag when the server sets one, else
    whether it started its delivery worker."""
    import bot.server

    flag: Any = getattr(bot.server, "BACKGROUND", None)
    if flag is not None and flag in web_app:
        return bool(web_app[flag])
    return any(getattr(ctx, "__qualname__", "").startswith("_delivery.") for ctx in web_app.cleanup_ctx)


def scheduler_for(web_app: web.Application, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> SchedulerApp:
    from bot.server import RUNTIME

    runtime = web_app[RUNTIME]
    sqlite = is_sqlite(settings.database_url)
    return SchedulerApp(settings, sessions, clock=runtime.clock, wake=runtime.wake_delivery,
                        shards=1 if sqlite else PG_SHARDS, concurrency=1 if sqlite else PG_CONCURRENCY)


def install(web_app: web.Application, settings: Settings, session_factory: async_sessionmaker[AsyncSession]) -> None:
    web_app.cleanup_ctx.append(_scheduler(settings, session_factory))


def _scheduler(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> Callable[[web.Application], AsyncIterator[None]]:
    async def context(web_app: web.Application) -> AsyncIterator[None]:
        if not background_enabled(web_app):
            yield
            return
        app = scheduler_for(web_app, settings, sessions)
        scheduler = await setup_apscheduler(app)
        log.info("scheduler started as %s (%s)", app.replica, ", ".join(app.jobs))
        try:
            yield
        finally:
            await shutdown_apscheduler(scheduler, app, timeout=20)

    return context

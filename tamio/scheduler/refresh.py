"""Draining refresh requests: the TARGETED pipeline for each account whose money data changed.

``request_refresh`` (called for every audited change to money data) leaves one row per account;
``drain_refreshes`` runs ``tamio.pipeline.refresh_figures`` for each, one transaction per account,
the oldest request first. The server's scheduler drains every ``refresh_seconds`` (so changes made
within that time get one run); the CLI drains right after its own command, so someone who only
uses the command line sees alerts and cards that match the change they just made. Replicas drain
side by side: a run locks its account, and a request already answered is gone when the next looks.

    results = await drain_refreshes(sessions, now=now, settings=settings)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.config import Settings
from tamio.db import read_only
from tamio.pipeline import PipelineResult, refresh_figures
from tamio.refresh import service as refresh

log = logging.getLogger("tamio.refresh")


async def drain_refreshes(
    sessions: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    settings: Settings,
    account_ids: Sequence[str] | None = None,
    limit: int = 500,
    wake: Callable[[], None] | None = None,
) -> dict[str, PipelineResult]:
    """Answer the waiting requests (of ``account_ids`` only, when given); an account that fails is
    rolled back, logged and left asking (the next drain tries again), and the others go on."""
    async with sessions() as db:
        read_only(db)  # looking takes no write lock (SQLite): replicas poll this every few seconds
        waiting = [r.user_id for r in await refresh.waiting(db, limit=limit, account_ids=list(account_ids) if account_ids is not None else None)]
    results: dict[str, PipelineResult] = {}
    for account_id in waiting:
        try:
            async with sessions() as db, db.begin():
                result = await refresh_figures(db, account_id, now=now, settings=settings)
        except Exception:
            log.exception("refreshing the figures of account %s failed; it stays asked for the next drain", account_id)
            continue
        if result is not None:
            results[account_id] = result
            if wake is not None:
                wake()
    return results

"""Draining refresh requests: the TARGETED pipeline for each account whose money data changed.

``request_refresh`` (called for every audited change to money data) leaves one row per account;
``drain_refreshes`` runs ``tamio.pipeline.refresh_figures`` for each, one transaction per account,
the oldest request first. The server's scheduler drains every ``refresh_seconds`` (so changes made
within that time get one run); the CLI drains right after its own command, so someone who only
uses the command line sees alerts and cards that match the change they just made. Replicas drain
side by side: a run locks its account, and a request already answered is gone when the next looks.

What a person reads (Slack's alerts and cards, the API's actions, the CLI's) follows the changes
already made: the edge calls ``up_to_date`` first, which answers the account's waiting request, if
any, or waits for the run another replica has started (never running it a second time).

    results = await drain_refreshes(sessions, now=now, settings=settings)
    current = await up_to_date(sessions, account_id=account.id, now=now, settings=settings)
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


# How long a read waits for another replica's run of its account before it shows what is stored.
FRESH_WAIT_S = 20.0


class _Busy(Exception):
    """Another replica's run of the account did not end within the wait."""


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
    rolled back, logged and left asking (the next drain tries again), and the others go on. An
    account another replica is refreshing is left to it."""
    results, _ = await _drain(sessions, now=now, settings=settings, account_ids=account_ids, limit=limit, wake=wake, wait_seconds=0)
    return results


async def up_to_date(
    sessions: async_sessionmaker[AsyncSession], *, account_id: str, now: datetime, settings: Settings,
    wait_seconds: float = FRESH_WAIT_S, wake: Callable[[], None] | None = None,
) -> bool:
    """Before the account's alerts, cards or figures are shown: its waiting refresh request answered,
    so what is shown follows every change already made (one read when nothing waits). A run another
    replica has started is waited for, up to ``wait_seconds``, and never run twice. False when the
    figures may be behind: that run did not end in time, or this one failed (logged; the next drain
    tries again) -- the caller shows what is stored."""
    _, behind = await _drain(sessions, now=now, settings=settings, account_ids=[account_id], limit=1, wait_seconds=wait_seconds,
                             wake=wake)
    return not behind


async def _drain(
    sessions: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    settings: Settings,
    account_ids: Sequence[str] | None,
    limit: int,
    wait_seconds: float,
    wake: Callable[[], None] | None = None,
) -> tuple[dict[str, PipelineResult], list[str]]:
    """The runs' results, and the accounts left asking (their run failed, or another's did not end in time)."""
    async with sessions() as db:
        read_only(db)  # looking takes no write lock (SQLite): replicas poll this every few seconds
        waiting = [r.user_id for r in await refresh.waiting(db, limit=limit, account_ids=list(account_ids) if account_ids is not None else None)]
    results: dict[str, PipelineResult] = {}
    behind: list[str] = []
    for account_id in waiting:
        try:
            async with sessions() as db, db.begin():
                if wait_seconds and not await refresh.wait_turn(db, account_id=account_id, seconds=wait_seconds):
                    raise _Busy
                result = await refresh_figures(db, account_id, now=now, settings=settings)
        except _Busy:
            log.warning("another run of account %s's figures did not end within %.0f s; showing what is stored", account_id, wait_seconds)
            behind.append(account_id)
            continue
        except Exception:
            log.exception("refreshing the figures of account %s failed; it stays asked for the next drain", account_id)
            behind.append(account_id)
            continue
        if result is not None:
            results[account_id] = result
            if wake is not None:
                wake()
    return results, behind

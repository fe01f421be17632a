"""``tamio serve`` runs the scheduler next to the delivery worker; a harness that delivers by hand runs neither."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import create_app
from bot.server import build_web_app
from slack_sandbox.standin import SlackStandIn
from tamio.outbox.service import enqueue
from tamio.scheduler.models import SchedulerClaim
from tests.bot.conftest import free_port, make_settings
from tests.bot.test_delivery_reliability import outbox_workspace, team
from tests.waiting import until


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    async with outbox_workspace() as stand_in:
        yield stand_in


pytestmark = pytest.mark.backends("sqlite")
NOW = datetime(2026, 12, 7, 9, 0, 30, tzinfo=UTC)


async def claims(sessions: async_sessionmaker[AsyncSession]) -> list[SchedulerClaim]:
    async with sessions() as db:
        return list((await db.execute(select(SchedulerClaim))).scalars())


async def test_the_server_runs_the_scheduler_and_delivers_what_it_queues(
    slack: SlackStandIn, session_factory: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture,
) -> None:
    account_id = await team(session_factory)
    settings = make_settings(slack, free_port())
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    app = create_app(settings, session_factory, client, clock=lambda: NOW)  # 30 s into a slot of every frequent job
    web_app = build_web_app(settings, session_factory, app=app)
    runner = web.AppRunner(web_app, access_log=None)
    with caplog.at_level(logging.INFO, logger="tamio.scheduler"):
        await runner.setup()  # start-up: the delivery worker, then the scheduler catching up the current slots
    assert "scheduler started as" in caplog.text
    try:
        async def frequent_jobs_claimed() -> bool:
            return {c.job_name for c in await claims(session_factory)} >= {"critical", "pipeline", "executions"}

        await until(frequent_jobs_claimed, what="the scheduler claimed the current slot of every frequent job")
        async with session_factory() as db, db.begin():
            await enqueue(db, account_id=account_id, kind="slack_post", channel="C0FINANCE", payload={"text": "hello"},
                          idempotency_key="hello", now=NOW)
        await until(lambda: bool(slack.messages("C0FINANCE")), what="the delivery worker posted what was queued")
    finally:
        await runner.cleanup()  # waits for runs in progress to record their outcome
    assert [m["text"] for m in slack.messages("C0FINANCE")] == ["hello"]
    assert all(c.outcome == "ok" and c.finished_at is not None for c in await claims(session_factory))


async def test_a_harness_that_delivers_by_hand_starts_no_scheduler(
    slack: SlackStandIn, session_factory: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture,
) -> None:
    await team(session_factory)
    settings = make_settings(slack, free_port())
    web_app = build_web_app(settings, session_factory, AsyncWebClient(token=slack.bot_token, base_url=slack.api_url),
                            run_delivery=False)
    runner = web.AppRunner(web_app, access_log=None)
    with caplog.at_level(logging.INFO, logger="tamio.scheduler"):
        await runner.setup()  # a scheduler would have started here, in the start-up contexts
    await runner.cleanup()
    assert "scheduler started" not in caplog.text
    assert await claims(session_factory) == []

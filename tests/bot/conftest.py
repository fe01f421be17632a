"""A real Tamio Slack app on 127.0.0.1, its Web API client pointed at the local Slack stand-in.

Tests play Slack with ``SlackSender`` (signed commands, interactions and events) and read what the
app did from the stand-in (messages, ephemerals, views, uploads) and from the database.

    async def test_help(bot: BotHarness) -> None:
        reply = await bot.command(ADMIN, "help")
        assert "forecast" in bot.slack.ephemerals[-1]["text"]
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import bot.oauth_tables  # noqa: F401  (Slack's OAuth tables join the schema the fixtures create)
from bot.app import TamioApp, create_app
from bot.delivery import DeliveryWorker
from bot.oauth import BOT_SCOPES
from bot.server import build_web_app
from slack_sandbox.signed import AppReply, SlackSender
from slack_sandbox.standin import SlackStandIn
from tamio.accounts.models import Account
from tamio.config import Settings
from tests.conftest import TEST_SECRET_KEY

SIGNING_SECRET = "test-signing-secret"
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # a Monday
ADMIN, APPROVER, VIEWER, APPROVER2 = "UADMIN", "UAPPROVER", "UVIEWER", "UAPPROVER2"
CHANNEL = "C0FINANCE"
USERS = {
    ADMIN: {"name": "maria", "is_admin": True},
    APPROVER: {"name": "sam"},
    APPROVER2: {"name": "lee"},
    VIEWER: {"name": "vic"},
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class BotHarness:
    slack: SlackStandIn
    app: TamioApp
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings
    sender: SlackSender
    url: str
    worker: DeliveryWorker

    async def settle(self) -> None:
        """Let after-ack work finish, answer refresh requests (the server's scheduler does, every few
        seconds) and deliver the outbox until nothing is left (twice nothing: a failure may queue a
        message of its own, like the admins' note about a lost channel)."""
        from tamio.scheduler.refresh import drain_refreshes

        idle = 0
        for _ in range(12):
            await self.app.runtime.drain()
            refreshed = await drain_refreshes(self.sessions, now=self.app.runtime.clock(), settings=self.settings)
            idle = 0 if await self.worker.run_once() or refreshed else idle + 1
            if idle == 2:
                await self.app.runtime.drain()
                return

    async def command(self, user: str, text: str, channel: str = CHANNEL, **kwargs: Any) -> AppReply:
        reply = await self.sender.slash_command(user, text, channel, **kwargs)
        await self.settle()
        return reply

    def sender_for(self, team_id: str) -> SlackSender:
        return SlackSender(self.url + "slack/events", SIGNING_SECRET, team_id, self.slack)

    def ephemerals_for(self, user: str) -> list[dict[str, Any]]:
        return [e for e in self.slack.ephemerals if e["user"] == user]


@asynccontextmanager
async def write_lock_held(bot: BotHarness) -> AsyncIterator[None]:
    """Another connection in the middle of a write transaction until the block ends (SQLite's write lock)."""
    async with bot.sessions() as db:
        await db.begin()
        await db.execute(update(Account).values(name=Account.name))  # BEGIN IMMEDIATE: the lock is ours
        try:
            yield
        finally:
            await db.commit()


def make_settings(slack: SlackStandIn, port: int, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": "sqlite+aiosqlite:///:memory:", "slack_bot_token": slack.bot_token,
        "slack_signing_secret": SIGNING_SECRET, "slack_api_url": slack.api_url, "public_url": f"http://127.0.0.1:{port}",
        "base_currency": "USD", "timezone": "UTC", "use_obligation_for_forecast": True,
        "slack_client_id": None, "slack_client_secret": None, "secret_key": TEST_SECRET_KEY, "slack_app_token": None,
        "smtp_host": "127.0.0.1",  # SMTP settings are there (nothing listens unless a test starts a mailbox)
    }
    values.update(overrides)
    if values["smtp_host"] is None:  # a server without SMTP settings
        del values["smtp_host"]
    return Settings(**values)


async def start_bot(slack: SlackStandIn, sessions: async_sessionmaker[AsyncSession], **overrides: Any) -> AsyncIterator[BotHarness]:
    port = free_port()
    settings = make_settings(slack, port, **overrides)
    client = AsyncWebClient(token=None if settings.slack_client_id else slack.bot_token, base_url=slack.api_url)
    app = create_app(settings, sessions, client, clock=lambda: NOW)
    web_app = build_web_app(settings, sessions, app=app, run_delivery=False)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    url = f"http://127.0.0.1:{port}/"
    sender = SlackSender(url + "slack/events", SIGNING_SECRET, slack.workspace.team_id, slack)
    worker = DeliveryWorker(app.runtime, app.client, app.bot_tokens, app.charts)
    try:
        yield BotHarness(slack, app, sessions, settings, sender, url, worker)
    finally:
        await app.runtime.drain()
        await runner.cleanup()


def workspace(**kwargs: Any) -> SlackStandIn:
    """The test workspace: its people, #finance with everyone and Tamio in it, and the token scopes of the
    app's manifest (``bot.oauth.BOT_SCOPES``), so a call the manifest does not allow fails here as in Slack."""
    options: dict[str, Any] = {"users": {k: dict(v) for k, v in USERS.items()}, "bot_scopes": BOT_SCOPES,
                               "channels": {CHANNEL: "finance"}}
    options.update(kwargs)
    return SlackStandIn(**options)


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    async with workspace() as stand_in:
        yield stand_in


@pytest.fixture
async def bot(slack: SlackStandIn, session_factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[BotHarness]:
    async for harness in start_bot(slack, session_factory):
        yield harness

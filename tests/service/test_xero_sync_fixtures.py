"""The Xero sync's test world: an account on the test database, a Xero stand-in on loopback and a
fake clock shared by both, so tokens expire and rate limits pass without real waiting.

Other ``test_xero_sync_*`` and ``test_integrations_*`` modules import ``world_fixture`` (the ``world``
fixture) and ``World``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.config import Settings
from tamio.db import Base
from tamio.integrations.connections import save_connection
from tamio.integrations.crypto import TokenCipher
from tamio.integrations.models import IntegrationConnection
from tamio.integrations.xero import XeroAdapter, choose_tenant
from tamio.integrations.xero.sync import SyncService
from tests.service.books import Books
from tests.xero_standin import XeroStandIn

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TODAY = START.date()
REDIRECT = "http://127.0.0.1:3000/integrations/xero/callback"
KEY = TokenCipher.generate_key()


class FakeClock:
    """Epoch seconds for the stand-in, aware datetimes for Tamio; sleeping moves time on at once."""

    def __init__(self) -> None:
        self.now = START.timestamp()
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def utc(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta).total_seconds()

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class World:
    xero: XeroStandIn
    clock: FakeClock
    http: aiohttp.ClientSession
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings
    account_id: str

    @property
    def cipher(self) -> TokenCipher:
        return TokenCipher.from_settings(self.settings)

    def adapter(self, **options: Any) -> XeroAdapter:
        values: dict[str, Any] = {
            "tenant_id": None, "access_token": None, "client_id": self.xero.client_id,
            "client_secret": self.xero.client_secret, "api_base": self.xero.base_url,
            "identity_base": self.xero.base_url, "clock": self.clock, "sleep": self.clock.sleep, "now": self.clock.utc,
        }
        return XeroAdapter(self.http, **(values | options))

    def service(self, **adapter_options: Any) -> SyncService:
        return SyncService(
            self.sessions, account_id=self.account_id, settings=self.settings, adapter=self.adapter(**adapter_options),
            cipher=self.cipher, clock=self.clock.utc,
        )

    async def connect(self) -> IntegrationConnection:
        """What the OAuth callback does: trade a code for tokens, pick the organisation, store it."""
        adapter = self.adapter()
        tokens = await adapter.connect(self.xero.issue_code(redirect_uri=REDIRECT), REDIRECT)
        tenant = choose_tenant(await adapter.connections())
        async with self.sessions() as db, db.begin():
            return await save_connection(
                db, account_id=self.account_id, integration_type="xero", tokens=tokens, cipher=self.cipher,
                tenant_id=tenant.tenant_id, tenant_name=tenant.tenant_name, now=self.clock.utc(),
            )

    async def connection(self) -> IntegrationConnection:
        async with self.sessions() as db:
            row = (await db.execute(select(IntegrationConnection).where(IntegrationConnection.user_id == self.account_id))).scalars().one()
            return row

    async def rows(self, model: Any, *where: Any) -> list[Any]:
        async with self.sessions() as db:
            return list((await db.execute(select(model).where(*where))).scalars().all())

    async def table_counts(self) -> dict[str, int]:
        async with self.sessions() as db:
            return {
                name: int((await db.execute(select(func.count()).select_from(table))).scalar_one())
                for name, table in sorted(Base.metadata.tables.items())
            }

    async def table_contents(self, *skip: str) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table (but ``skip``), sorted, to compare before and after."""
        async with self.sessions() as db:
            contents = {}
            for name, table in sorted(Base.metadata.tables.items()):
                if name in skip:
                    continue
                rows = (await db.execute(select(table))).all()
                contents[name] = sorted(tuple(map(repr, row)) for row in rows)
            return contents


def make_settings(xero: XeroStandIn, secret_key: str = KEY) -> Settings:
    return Settings(
        database_url="sqlite+aiosqlite:///:memory:", use_obligation_for_forecast=True, secret_key=secret_key,
        xero_client_id=xero.client_id, xero_client_secret=xero.client_secret, xero_api_base=xero.base_url,
        xero_identity_base=xero.base_url, xero_login_base=xero.base_url, public_url="http://127.0.0.1:3000",
    )


@pytest.fixture(name="world")
async def world_fixture(session_factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[World]:
    clock = FakeClock()
    async with XeroStandIn(clock=clock) as xero, aiohttp.ClientSession() as http:
        async with session_factory() as db, db.begin():
            books = await Books.open(db, today=TODAY, name="Harbour Bakery")
            books.account.digest_channel_id = "C0FINANCE"
            account_id = books.account.id
        yield World(xero, clock, http, session_factory, make_settings(xero), account_id)


def days(n: int) -> date:
    return TODAY + timedelta(days=n)


async def test_the_world_connects_one_organisation(world: World) -> None:
    connection = await world.connect()
    assert connection.tenant_id == world.xero.tenant_id
    assert connection.status == "active" and connection.tenant_name == "Demo Company (US)"

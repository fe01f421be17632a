"""A sync survives Xero's limits and its tokens: interrupted by 429s and resumed without duplicates,
an expired or refused access token refreshed mid-way, and a refused refresh token reported once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tamio.data.models import Client
from tamio.errors import Conflict
from tamio.integrations.base import ReconnectRequired
from tamio.integrations.connections import mark_needs_reconnect, read_tokens, save_connection
from tamio.integrations.models import IntegrationConnection, IntegrationMapping, XeroSyncLog
from tamio.integrations.xero.sync import SyncReport, sync_connected_accounts
from tamio.outbox.models import OutboxMessage
from tests.service.books import Books
from tests.service.test_xero_sync_fixtures import World, days, world_fixture  # noqa: F401


def seed_customers(world: World, n: int) -> None:
    for i in range(n):
        contact = world.xero.add_contact(name=f"Customer {i:03d}", is_customer=True)
        if i % 50 == 0:
            world.xero.add_invoice(contact_id=contact, total=f"{100 + i}.00", issue_date=days(-1), due_date=days(29))


def accounting(world: World, start: int = 0) -> list[tuple[str, str, int]]:
    return [(c.path.rsplit("/", 1)[-1], c.query.get("page", ""), c.status) for c in world.xero.calls[start:] if c.path.startswith("/api.xro")]


async def test_a_sync_interrupted_by_429s_resumes_where_it_stopped_without_duplicates(world: World) -> None:
    seed_customers(world, 101)  # two pages of contacts
    await world.connect()
    world.xero.day_limit = 1  # the daily limit: Xero answers 429 and the adapter gives up at once

    stopped = await world.service().sync()

    assert not stopped.complete and stopped.retry_after and stopped.retry_after > 0
    assert accounting(world) == [("Contacts", "1", 200), ("Contacts", "2", 429)]
    assert len(await world.rows(Client)) == 100  # page 1 is in, for good
    cursor = (await world.connection()).sync_cursor["clients"]
    assert (cursor["page"], cursor["in_progress"], cursor["since"]) == (2, True, None)
    assert [(log.status, log.records_processed) for log in await world.rows(XeroSyncLog)] == [("partial", 100)]

    world.xero.day_limit = 5000
    world.clock.advance(hours=1)
    world.xero.rate_limit_next(2, retry_after=7)  # two more 429s the adapter waits out (Retry-After: 7)
    calls_before = len(world.xero.calls)
    resumed = await world.service().sync()

    assert resumed.complete and resumed.resumed
    assert world.clock.sleeps[-2:] == [7, 7]
    assert accounting(world, calls_before)[:4] == [("Contacts", "2", 429), ("Contacts", "2", 429), ("Contacts", "2", 200), ("Contacts", "1", 200)]
    assert resumed.counts["clients created"] == 1 and resumed.counts["invoices created"] == 3
    async with world.sessions() as db:
        names = (await db.execute(select(func.count(Client.id), func.count(func.distinct(Client.name))))).one()
        mappings = (await db.execute(select(func.count()).select_from(IntegrationMapping).where(IntegrationMapping.external_type == "contact"))).scalar_one()
    assert tuple(names) == (101, 101) and mappings == 101
    statuses = [log.status for log in sorted(await world.rows(XeroSyncLog), key=lambda log: log.started_at)]
    assert statuses == ["partial", "success"]


async def test_a_token_past_its_expiry_is_refreshed_first_and_the_new_refresh_token_kept(world: World) -> None:
    world.xero.add_contact(name="Harbour Cafe", is_customer=True)
    connection = await world.connect()
    old_refresh = read_tokens(connection, world.cipher).refresh_token
    world.clock.advance(minutes=31)  # the 30-minute access token has expired

    report = await world.service().sync()

    assert report.complete and report.counts == {"clients created": 1}
    token_calls = [c for c in world.xero.calls if c.path == "/connect/token"]
    assert len(token_calls) == 2  # the code exchange, then one refresh
    assert all(status == 200 for *_, status in accounting(world))
    stored = read_tokens(await world.connection(), world.cipher)
    assert stored.refresh_token != old_refresh  # rotated, and stored at once
    assert stored.expires_at > world.clock.utc()


async def test_an_access_token_refused_mid_sync_is_refreshed_and_the_call_retried(world: World) -> None:
    world.xero.add_contact(name="Harbour Cafe", is_customer=True)
    connection = await world.connect()
    world.xero._access.pop(read_tokens(connection, world.cipher).access_token)  # Xero forgot it early

    report = await world.service().sync()

    assert report.complete and report.counts == {"clients created": 1}
    assert accounting(world)[:2] == [("Contacts", "1", 401), ("Contacts", "1", 200)]


async def test_a_refused_refresh_token_marks_the_connection_and_tells_the_channel_once(world: World) -> None:
    connection = await world.connect()
    world.xero._refresh.clear()  # the user disconnected Tamio in Xero: every refresh is invalid_grant
    world.clock.advance(minutes=31)

    with pytest.raises(ReconnectRequired):
        await world.service().sync()
    with pytest.raises(ReconnectRequired, match="reconnect"):
        await world.service().sync()

    stored = await world.connection()
    assert stored.status == "needs_reconnect" and stored.reconnect_notified_at is not None
    messages = await world.rows(OutboxMessage)
    assert [(m.kind, m.channel) for m in messages] == [("integration_reconnect", "C0FINANCE")]
    assert "/tamio connect xero" in messages[0].payload["text"]
    assert messages[0].idempotency_key.startswith(f"reconnect:{connection.id}:")
    logs = await world.rows(XeroSyncLog)  # the first run failed and says why; the second did not start
    assert [(log.status, log.records_processed) for log in logs] == [("failed", 0)] and "Xero" in (logs[0].error or "")

    # Another replica that did not see the first notice still adds nothing: the key is the same.
    async with world.sessions() as db, db.begin():
        row = await db.get(IntegrationConnection, connection.id)
        assert row is not None
        row.reconnect_notified_at = None
        assert not await mark_needs_reconnect(db, connection=row, cipher=world.cipher, now=world.clock.utc(), reason="again")
    assert len(await world.rows(OutboxMessage)) == 1

    # Reconnecting makes it active again; a later refusal is a new story, told again.
    reconnected = await world.connect()
    assert (reconnected.id, reconnected.status, reconnected.reconnect_notified_at) == (connection.id, "active", None)
    world.xero._refresh.clear()
    world.clock.advance(minutes=31)
    with pytest.raises(ReconnectRequired):
        await world.service().sync()
    assert len(await world.rows(OutboxMessage)) == 2


async def test_a_reconnect_to_another_organisation_starts_the_next_sync_from_scratch(world: World) -> None:
    connection = await world.connect()
    async with world.sessions() as db, db.begin():
        row = await db.get(IntegrationConnection, connection.id)
        assert row is not None
        row.sync_cursor = {"clients": {"page": 1, "in_progress": False, "synced_until": world.clock.utc().isoformat()}}
        tokens = read_tokens(row, world.cipher)
        await save_connection(
            db, account_id=world.account_id, integration_type="xero", tokens=tokens, cipher=world.cipher,
            tenant_id="another-organisation", tenant_name="Other Ltd", now=world.clock.utc(),
        )
    assert (await world.connection()).sync_cursor == {}


async def test_one_sync_at_a_time_per_account_and_a_dead_syncs_lease_expires(world: World) -> None:
    seed_customers(world, 3)
    connection = await world.connect()

    results = await asyncio.gather(world.service().sync(), world.service().sync(), return_exceptions=True)
    assert {type(r) for r in results} <= {SyncReport, Conflict} and any(isinstance(r, SyncReport) for r in results)
    assert len(await world.rows(Client)) == 3 and "lease" not in (await world.connection()).sync_cursor

    async with world.sessions() as db, db.begin():  # a sync on another replica died mid-way
        row = await db.get(IntegrationConnection, connection.id)
        assert row is not None
        until = (world.clock.utc() + timedelta(minutes=30)).isoformat()
        row.sync_cursor = {**row.sync_cursor, "lease": {"holder": "replica-2", "until": until}}
    with pytest.raises(Conflict, match="already running"):
        await world.service().sync()
    world.clock.advance(minutes=31)
    assert (await world.service().sync()).complete


async def test_the_daily_job_syncs_every_connected_account_and_one_failure_stops_no_other(world: World) -> None:
    world.xero.add_contact(name="Harbour Cafe", is_customer=True)
    first = world.account_id
    await world.connect()
    async with world.sessions() as db, db.begin():
        second = (await Books.open(db, today=days(0), name="Second Bakery")).account.id
    world.account_id = second
    broken = await world.connect()  # the same organisation, connected by a second account...
    world.xero._refresh.pop(read_tokens(broken, world.cipher).refresh_token)  # ...whose access was then revoked
    world.clock.advance(minutes=31)

    results = await sync_connected_accounts(
        world.sessions, settings=world.settings, http=world.http, clock=world.clock.utc,
        now=world.clock.utc, sleep=world.clock.sleep,
    )

    assert isinstance(results[first], SyncReport) and results[first].counts == {"clients created": 1}
    assert "no longer accepts" in str(results[second])
    assert [c.name for c in await world.rows(Client, Client.user_id == first)] == ["Harbour Cafe"]
    assert (await world.rows(IntegrationConnection, IntegrationConnection.user_id == second))[0].status == "needs_reconnect"

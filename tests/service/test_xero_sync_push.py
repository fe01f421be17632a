"""Pushing to Xero and pulling back the same contact; Xero owns the names it syncs; synced invoices
carry more forecast confidence than what was typed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tamio.accounts.models import Account
from tamio.audit.models import AuditLog
from tamio.data.models import Client
from tamio.errors import LockedField
from tamio.forecast.confidence import item_confidence
from tamio.forecast.service import load_forecast_inputs
from tamio.integrations.base import DuplicateContact
from tamio.integrations.models import IntegrationMapping, XeroSyncLog
from tamio.integrations.service import IntegrationMappingService
from tamio.obligations.counterparties import CounterpartyService
from tests.service.books import Books
from tests.service.test_xero_sync_fixtures import TODAY, World, days, world_fixture  # noqa: F401


async def add_client(world: World, name: str, **fields: object) -> str:
    async with world.sessions() as db, db.begin():
        account = await db.get(Account, world.account_id)
        assert account is not None
        books = Books(db, account, TODAY, world.settings)
        client = await books.client(name, "1500", books.every("once", days(12)), **fields)
        return client.id


async def test_push_creates_then_updates_the_contact_and_a_pull_finds_the_same_client(world: World) -> None:
    client_id = await add_client(world, "Bright Co", contact_email="hello@bright.test", contact_name="Ann Lee")
    await world.connect()

    created = await world.service().push_client_to_xero(client_id)

    in_xero = world.xero.tenants[world.xero.tenant_id].contacts[created.external_id]
    assert (in_xero["Name"], in_xero["EmailAddress"], in_xero["FirstName"], in_xero["LastName"]) == ("Bright Co", "hello@bright.test", "Ann", "Lee")
    assert [(c.method, c.path) for c in world.xero.calls if c.path.startswith("/api.xro")] == [("PUT", "/api.xro/2.0/Contacts")]
    client = (await world.rows(Client))[0]
    assert client.xero_contact_id == created.external_id  # the legacy column...
    async with world.sessions() as db:
        mappings = IntegrationMappingService(db, account_id=world.account_id, integration_type="xero", now=world.clock.utc())
        found = await mappings.find_entity(created.external_id)  # ...and the mapping, which reads come from
    assert found is not None and (found.entity_type, found.entity_id) == ("client", client_id)
    audit = await world.rows(AuditLog, AuditLog.action == "sync")
    assert [(a.integration, a.direction, a.changes["details"]["action"]) for a in audit] == [("xero", "push", "create")]

    async with world.sessions() as db, db.begin():
        account = await db.get(Account, world.account_id)
        row = await db.get(Client, client_id)
        assert account is not None and row is not None
        await CounterpartyService(db, account=account, settings=world.settings, today=TODAY, now=world.clock.utc()).update_client(row, contact_email="ap@bright.test")
    world.clock.advance(minutes=1)
    updated = await world.service().push_client_to_xero(client_id)

    assert updated.external_id == created.external_id
    assert world.xero.calls[-1].method == "POST" and world.xero.calls[-1].path.endswith(f"/Contacts/{created.external_id}")
    assert in_xero["EmailAddress"] == "ap@bright.test"
    assert [(log.direction, log.status, log.details["action"]) for log in await world.rows(XeroSyncLog)] == [
        ("push", "success", "create"), ("push", "success", "update"),
    ]

    # A pull right after echoes nothing back; a change made in Xero comes back to the same client.
    report = await world.service().sync()
    assert report.changed == 0
    world.clock.advance(minutes=5)
    world.xero.update_contact(created.external_id, EmailAddress="accounts@bright.test")
    world.xero.add_invoice(contact_id=created.external_id, total="1500.00", issue_date=days(0), due_date=days(12), number="INV-9")
    report = await world.service().sync()
    assert report.counts == {"clients updated": 1, "invoices created": 1}
    clients = await world.rows(Client)
    assert [(c.id, c.contact_email) for c in clients] == [(client_id, "accounts@bright.test")]
    assert len(await world.rows(IntegrationMapping, IntegrationMapping.external_type == "contact")) == 1


async def test_a_pulled_client_pushed_back_updates_its_xero_contact(world: World) -> None:
    contact_id = world.xero.add_contact(name="Harbour Cafe", is_customer=True)
    await world.connect()
    await world.service().pull_clients_from_xero()
    client = (await world.rows(Client))[0]
    async with world.sessions() as db, db.begin():
        account = await db.get(Account, world.account_id)
        row = await db.get(Client, client.id)
        assert account is not None and row is not None
        await CounterpartyService(db, account=account, settings=world.settings, today=TODAY, now=world.clock.utc()).update_client(row, contact_email="pay@harbour.test")

    pushed = await world.service().push_client_to_xero(client.id)

    assert pushed.external_id == contact_id and world.xero.calls[-1].method == "POST"
    assert world.xero.tenants[world.xero.tenant_id].contacts[contact_id]["EmailAddress"] == "pay@harbour.test"
    assert len(world.xero.tenants[world.xero.tenant_id].contacts) == 1


async def test_pushing_a_name_xero_already_has_is_refused_and_logged(world: World) -> None:
    world.xero.add_contact(name="Acme Ltd")
    client_id = await add_client(world, "Acme Ltd")
    await world.connect()
    with pytest.raises(DuplicateContact, match="Acme Ltd"):
        await world.service().push_client_to_xero(client_id)
    assert [(log.direction, log.status) for log in await world.rows(XeroSyncLog)] == [("push", "failed")]
    assert not await world.rows(IntegrationMapping)


async def test_a_slack_edit_of_a_name_xero_owns_is_refused_with_a_reason(world: World) -> None:
    world.xero.add_contact(name="Harbour Cafe", is_customer=True)
    await world.connect()
    await world.service().sync()
    client = (await world.rows(Client))[0]
    async with world.sessions() as db, db.begin():
        account = await db.get(Account, world.account_id)
        assert account is not None
        row = await db.get(Client, client.id)
        assert row is not None
        service = CounterpartyService(db, account=account, settings=world.settings, today=TODAY, now=world.clock.utc(), actor="slack:U1")
        with pytest.raises(LockedField, match="comes from Xero, which owns it"):
            await service.update_client(row, name="Harbour Coffee")
        await service.update_client(row, notes="pays on Fridays")  # what Xero does not own stays editable
    assert (await world.rows(Client))[0].name == "Harbour Cafe"


async def test_synced_invoices_are_more_certain_in_the_forecast_than_typed_ones(world: World) -> None:
    cafe = world.xero.add_contact(name="Harbour Cafe", is_customer=True)
    world.xero.add_invoice(contact_id=cafe, total="1500.00", issue_date=days(0), due_date=days(12))
    await add_client(world, "Typed Client")  # 1500 once, due in 12 days, entered by hand
    await world.connect()
    await world.service().sync()

    async with world.sessions() as db:
        items = (await load_forecast_inputs(db, world.account_id, as_of=TODAY, settings=world.settings)).items
    by_confidence = sorted(items, key=lambda item: item.confidence)
    assert [item.amount for item in by_confidence] == [Decimal("1500"), Decimal("1500")]
    typed, synced = by_confidence
    assert typed.confidence == item_confidence(amount_type="fixed", source="manual")
    assert synced.confidence == item_confidence(amount_type="fixed", source="xero") > typed.confidence

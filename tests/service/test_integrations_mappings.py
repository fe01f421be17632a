"""IntegrationMapping: find by external id, several mappings per entity, and the legacy column written too."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tamio.data.models import Client
from tamio.integrations.service import EntityRef, IntegrationMappingService
from tests.service.books import Books

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TODAY = date(2026, 3, 2)


async def test_link_find_move_and_unlink_with_the_legacy_column_in_step(session: AsyncSession) -> None:
    books = await Books.open(session, today=TODAY)
    other = await Books.open(session, today=TODAY, name="Someone Else")
    acme = await books.client("Acme Corp", "5000", books.every("monthly", TODAY, day=15))
    beta = await books.client("Beta Ltd", "900", books.every("monthly", TODAY, day=1))
    bucket = await books.expense("Acme Corp", "120", books.every("monthly", TODAY, day=3))
    xero = IntegrationMappingService(session, account_id=books.account.id, integration_type="xero", now=NOW)
    quickbooks = IntegrationMappingService(session, account_id=books.account.id, integration_type="quickbooks", now=NOW)

    await xero.link("client", acme.id, external_id="xero-c-1", external_type="contact", details={"updated_at": "t1"})
    await xero.link("expense_bucket", bucket.id, external_id="xero-c-1", external_type="contact")
    await quickbooks.create_or_update_mapping("client", acme.id, external_id="qb-77", external_type="customer")
    await session.commit()

    assert await xero.find_entity("xero-c-1", entity_type="client") == EntityRef("client", acme.id)
    assert {m.entity_type for m in await xero.find_mappings("xero-c-1")} == {"client", "expense_bucket"}
    assert [(m.integration_type, m.external_id) for m in await xero.mappings_of("client", acme.id)] == [
        ("quickbooks", "qb-77"), ("xero", "xero-c-1"),
    ]
    assert (acme.xero_contact_id, acme.quickbooks_customer_id, bucket.xero_contact_id) == ("xero-c-1", "qb-77", "xero-c-1")
    theirs = IntegrationMappingService(session, account_id=other.account.id, integration_type="xero", now=NOW)
    assert await theirs.find_entity_by_external_id("xero-c-1") is None  # scoped to the account

    # Linking again with the same values writes nothing; new details merge into the old ones.
    row = (await xero.find_mappings("xero-c-1", entity_type="client"))[0]
    stamp = row.updated_at
    await xero.link("client", acme.id, external_id="xero-c-1", external_type="contact", details={"updated_at": "t1"})
    assert row.updated_at == stamp and row.details == {"updated_at": "t1"}

    # The Xero contact now stands for Beta: the mapping moves, and both legacy columns follow.
    await xero.link("client", beta.id, external_id="xero-c-1", external_type="contact")
    await session.commit()
    assert await xero.find_entity("xero-c-1", entity_type="client") == EntityRef("client", beta.id)
    assert (acme.xero_contact_id, beta.xero_contact_id) == (None, "xero-c-1")

    assert await xero.unlink("client", beta.id, "contact")
    assert await xero.find_entity("xero-c-1", entity_type="client") is None and beta.xero_contact_id is None
    assert not await xero.unlink("client", beta.id, "contact")


async def test_reads_come_from_the_mapping_and_fall_back_to_the_legacy_column_only_without_one(session: AsyncSession) -> None:
    books = await Books.open(session, today=TODAY)
    old = await books.client("Old Timer", "100", books.every("monthly", TODAY, day=1))
    old.xero_contact_id = "legacy-id"  # written before mappings existed
    synced = await books.client("Synced", "100", books.every("monthly", TODAY, day=1))
    xero = IntegrationMappingService(session, account_id=books.account.id, integration_type="xero", now=NOW)
    await xero.link("client", synced.id, external_id="mapped-id", external_type="contact")
    synced.xero_contact_id = "stale-legacy-id"  # drift: the mapping wins
    await session.flush()

    assert await xero.external_id_of("client", old.id) == "legacy-id"
    assert await xero.external_id_of("client", synced.id) == "mapped-id"
    assert await xero.external_id_of("client", "cli_missing") is None
    assert isinstance(await session.get(Client, synced.id), Client)

"""IntegrationMappingService: which Tamio entity an integration's record is, and back.

The design document replaces the scattered legacy columns (``clients.xero_contact_id``) with one
``integration_mappings`` table. During the transition (its pitfall 4) reads come from the mapping
and writes go to both: linking a client or expense bucket to a Xero contact also sets its
``xero_contact_id``. An entity may have several mappings (a Xero contact and a QuickBooks
customer; a contact that is both a customer and a supplier maps to a client and an expense
bucket). Every query is scoped to one account. The caller owns the transaction.

    mappings = IntegrationMappingService(db, account_id=account.id, integration_type="xero", now=now)
    await mappings.link("client", client.id, external_id=contact_id, external_type="contact")
    found = await mappings.find_entity(contact_id)            # ("client", "cli_...")
    # (also named create_or_update_mapping and find_entity_by_external_id)
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.data.models import Client, ExpenseBucket
from tamio.integrations.models import IntegrationMapping

SYNCED, PENDING, ERROR = "synced", "pending", "error"

# The legacy columns still written during the transition: (entity_type, integration, external_type).
LEGACY_FIELDS: dict[tuple[str, str, str], tuple[type[Client] | type[ExpenseBucket], str]] = {
    ("client", "xero", "contact"): (Client, "xero_contact_id"),
    ("expense_bucket", "xero", "contact"): (ExpenseBucket, "xero_contact_id"),
    ("client", "quickbooks", "customer"): (Client, "quickbooks_customer_id"),
}


@dataclass(frozen=True)
class EntityRef:
    entity_type: str  # client, expense_bucket, obligation_schedule, payment_event
    entity_id: str


class IntegrationMappingService:
    def __init__(self, db: AsyncSession, *, account_id: str, integration_type: str, now: datetime) -> None:
        self.db = db
        self.account_id = account_id
        self.integration_type = integration_type
        self.now = now

    # -- reads ------------------------------------------------------------------------------------

    async def find_mappings(
        self, external_id: str, external_type: str = "contact", *, entity_type: str | None = None
    ) -> list[IntegrationMapping]:
        """The design document's "Find entity by Xero ID" query, scoped to the account."""
        stmt = select(IntegrationMapping).where(
            IntegrationMapping.user_id == self.account_id,
            IntegrationMapping.integration_type == self.integration_type,
            IntegrationMapping.external_id == external_id,
            IntegrationMapping.external_type == external_type,
        )
        if entity_type is not None:
            stmt = stmt.where(IntegrationMapping.entity_type == entity_type)
        return list((await self.db.execute(stmt.order_by(IntegrationMapping.entity_type))).scalars().all())

    async def find_entity(
        self, external_id: str, external_type: str = "contact", *, entity_type: str | None = None
    ) -> EntityRef | None:
        """The entity an external record maps to (the first by entity type when there are several)."""
        found = await self.find_mappings(external_id, external_type, entity_type=entity_type)
        return EntityRef(found[0].entity_type, found[0].entity_id) if found else None

    async def find_many(
        self, external_ids: Collection[str], external_type: str, *, entity_type: str | None = None
    ) -> dict[str, IntegrationMapping]:
        """Mappings of a page of external records in one query, keyed by external id."""
        if not external_ids:
            return {}
        stmt = select(IntegrationMapping).where(
            IntegrationMapping.user_id == self.account_id,
            IntegrationMapping.integration_type == self.integration_type,
            IntegrationMapping.external_type == external_type,
            IntegrationMapping.external_id.in_(list(external_ids)),
        )
        if entity_type is not None:
            stmt = stmt.where(IntegrationMapping.entity_type == entity_type)
        return {m.external_id: m for m in (await self.db.execute(stmt)).scalars().all()}

    async def mappings_of(self, entity_type: str, entity_id: str) -> list[IntegrationMapping]:
        """Every mapping of one entity, across integrations."""
        stmt = select(IntegrationMapping).where(
            IntegrationMapping.user_id == self.account_id,
            IntegrationMapping.entity_type == entity_type,
            IntegrationMapping.entity_id == entity_id,
        )
        return list((await self.db.execute(stmt.order_by(IntegrationMapping.integration_type))).scalars().all())

    async def mapping_of(self, entity_type: str, entity_id: str, external_type: str) -> IntegrationMapping | None:
        stmt = select(IntegrationMapping).where(
            IntegrationMapping.user_id == self.account_id,
            IntegrationMapping.integration_type == self.integration_type,
            IntegrationMapping.entity_type == entity_type,
            IntegrationMapping.entity_id == entity_id,
            IntegrationMapping.external_type == external_type,
        )
        return (await self.db.execute(stmt)).scalars().first()

    async def external_id_of(self, entity_type: str, entity_id: str, external_type: str = "contact") -> str | None:
        """The external id of an entity: the mapping first; the legacy column only for rows made
        before mappings existed."""
        mapping = await self.mapping_of(entity_type, entity_id, external_type)
        if mapping is not None:
            return mapping.external_id
        legacy = LEGACY_FIELDS.get((entity_type, self.integration_type, external_type))
        if legacy is None:
            return None
        model, column = legacy
        entity = await self._counterparty(model, entity_id)
        if entity is None:
            return None
        value = getattr(entity, column)
        return str(value) if value else None

    # -- writes -----------------------------------------------------------------------------------

    async def link(
        self,
        entity_type: str,
        entity_id: str,
        *,
        external_id: str,
        external_type: str,
        sync_status: str = SYNCED,
        last_synced_at: datetime | None = None,
        details: Mapping[str, Any] | None = None,
        sync_error: str | None = None,
    ) -> IntegrationMapping:
        """Create or update the mapping, and write the legacy column where there is one.

        The entity keeps one mapping per integration and external type: linking it to another
        external record moves that mapping. Nothing is written when nothing changes.
        """
        found = await self.find_mappings(external_id, external_type, entity_type=entity_type)
        row = found[0] if found else await self.mapping_of(entity_type, entity_id, external_type)
        if row is not None and row.entity_id != entity_id:  # the external record now stands for another entity
            await self._write_legacy(entity_type, row.entity_id, external_type, None)
        synced_at = last_synced_at or self.now
        wanted: dict[str, Any] = {
            "entity_id": entity_id,
            "external_id": external_id,
            "sync_status": sync_status,
            "sync_error": sync_error,
        }
        if details is not None:
            wanted["details"] = {**((row.details or {}) if row else {}), **details}
        if row is None:
            row = IntegrationMapping(
                user_id=self.account_id,
                entity_type=entity_type,
                integration_type=self.integration_type,
                external_type=external_type,
                last_synced_at=synced_at,
                created_at=self.now,
                updated_at=self.now,
                details={},
            )
            for key, value in wanted.items():
                setattr(row, key, value)
            self.db.add(row)
        elif any(getattr(row, key) != value for key, value in wanted.items()):
            for key, value in wanted.items():
                setattr(row, key, value)
            row.last_synced_at = synced_at
            row.updated_at = self.now
        await self._write_legacy(entity_type, entity_id, external_type, external_id)
        await self.db.flush()
        return row

    # The words for the two main calls.
    create_or_update_mapping = link
    find_entity_by_external_id = find_entity

    async def mark_error(self, mapping: IntegrationMapping, error: str) -> None:
        if mapping.sync_status != ERROR or mapping.sync_error != error:
            mapping.sync_status = ERROR
            mapping.sync_error = error[:2000]
            mapping.updated_at = self.now
            await self.db.flush()

    async def unlink(self, entity_type: str, entity_id: str, external_type: str) -> bool:
        mapping = await self.mapping_of(entity_type, entity_id, external_type)
        if mapping is None:
            return False
        await self.db.delete(mapping)
        await self._write_legacy(entity_type, entity_id, external_type, None)
        await self.db.flush()
        return True

    async def _write_legacy(self, entity_type: str, entity_id: str, external_type: str, external_id: str | None) -> None:
        legacy = LEGACY_FIELDS.get((entity_type, self.integration_type, external_type))
        if legacy is None:
            return
        model, column = legacy
        entity = await self._counterparty(model, entity_id)
        if entity is not None and getattr(entity, column) != external_id:
            setattr(entity, column, external_id)

    async def _counterparty(
        self, model: type[Client] | type[ExpenseBucket], entity_id: str
    ) -> Client | ExpenseBucket | None:
        entity: Client | ExpenseBucket | None = (
            await self.db.get(Client, entity_id) if model is Client else await self.db.get(ExpenseBucket, entity_id)
        )
        return entity if entity is not None and entity.user_id == self.account_id else None

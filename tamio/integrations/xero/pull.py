"""Apply one page of Xero records to an account's books: the page's context, and contacts.

Each apply function (here and in ``tamio.integrations.xero.invoices``) takes the page's transaction
(``PageContext``) and is an idempotent upsert keyed by ``IntegrationMapping``: a record whose
``UpdatedDateUTC`` is the one last applied is skipped, so pulling the same page twice changes
nothing. One record that cannot be applied (a name clash, a missing exchange rate) is rolled back
to its savepoint and reported; the rest of the page goes on.

Contacts: customers become clients, suppliers expense buckets (``source="xero"``,
``locked_fields=["name"]``: Xero owns the name, and a Slack edit of it is refused). An existing
entity is adopted first by its legacy ``xero_contact_id``, then by name; archived contacts are
paused; Xero's blanks never erase what the team typed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account
from tamio.config import Settings
from tamio.data.models import Client, CounterpartyStatus, ExpenseBucket
from tamio.errors import NotFound, TamioError
from tamio.integrations.base import ExternalContact, ExternalInvoice
from tamio.integrations.service import IntegrationMappingService
from tamio.obligations.counterparties import CounterpartyService, find_client, find_expense
from tamio.obligations.service import ObligationService

SOURCE = "xero"
Role = Literal["clients", "suppliers"]
Counterparty = Client | ExpenseBucket


@dataclass
class Tally:
    """What a sync did, counted as it goes ("clients created": 3)."""

    counts: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    pages: int = 0


@dataclass
class PageContext:
    db: AsyncSession
    account: Account
    today: date
    now: datetime
    counterparties: CounterpartyService
    mappings: IntegrationMappingService
    tally: Tally

    @classmethod
    async def open(cls, db: AsyncSession, *, account_id: str, settings: Settings, now: datetime, tally: Tally) -> PageContext:
        account = await db.get(Account, account_id)
        if account is None:
            raise NotFound(f"There is no account `{account_id}`.")
        today = now.astimezone(ZoneInfo(account.timezone)).date()
        service = CounterpartyService(db, account=account, settings=settings, today=today, actor=SOURCE, now=now)
        mappings = IntegrationMappingService(db, account_id=account.id, integration_type=SOURCE, now=now)
        return cls(db, account, today, now, service, mappings, tally)

    @property
    def obligations(self) -> ObligationService:
        return self.counterparties.obligations


def _entity_type(role: Role) -> str:
    return "client" if role == "clients" else "expense_bucket"


async def _load(db: AsyncSession, role: Role, account_id: str, ids: Sequence[str]) -> dict[str, Counterparty]:
    if not ids:
        return {}
    rows: Sequence[Counterparty]
    if role == "clients":
        rows = (await db.execute(select(Client).where(Client.user_id == account_id, Client.id.in_(list(ids))))).scalars().all()
    else:
        rows = (
            await db.execute(select(ExpenseBucket).where(ExpenseBucket.user_id == account_id, ExpenseBucket.id.in_(list(ids))))
        ).scalars().all()
    return {row.id: row for row in rows}


async def _by_legacy_id(db: AsyncSession, role: Role, account_id: str, external_id: str) -> Counterparty | None:
    if role == "clients":
        stmt = select(Client).where(Client.user_id == account_id, Client.xero_contact_id == external_id)
        return (await db.execute(stmt)).scalars().first()
    bucket = select(ExpenseBucket).where(ExpenseBucket.user_id == account_id, ExpenseBucket.xero_contact_id == external_id)
    return (await db.execute(bucket)).scalars().first()


# -- contacts -------------------------------------------------------------------------------------


async def apply_contacts(ctx: PageContext, contacts: Sequence[ExternalContact], role: Role) -> None:
    entity_type = _entity_type(role)
    found = await ctx.mappings.find_many([c.external_id for c in contacts], "contact", entity_type=entity_type)
    entities = await _load(ctx.db, role, ctx.account.id, [m.entity_id for m in found.values()])
    for contact in contacts:
        mapping = found.get(contact.external_id)
        entity = entities.get(mapping.entity_id) if mapping else None
        stamp = contact.updated_at.isoformat()
        if entity is not None and mapping is not None and mapping.details.get("updated_at") == stamp:
            continue  # unchanged since the last pull
        wanted = contact.is_customer if role == "clients" else contact.is_supplier
        if entity is None and (not wanted or contact.status != "active"):
            continue
        try:
            async with ctx.db.begin_nested():
                if entity is None:
                    entity, how = await adopt_or_create(ctx, contact, role)
                else:
                    how = "updated" if await _update_counterparty(ctx, entity, contact) else ""
                await ctx.mappings.link(
                    entity_type, entity.id, external_id=contact.external_id, external_type="contact",
                    details={"updated_at": stamp},
                )
                if how:
                    ctx.tally.counts[f"{role} {how}"] += 1
                    await ctx.counterparties.audit.log_sync(
                        entity_type, entity.id, SOURCE, "pull", {"contact_id": contact.external_id, "result": how}
                    )
        except TamioError as exc:
            ctx.tally.errors.append(f"Xero contact {contact.name}: {exc}")


async def adopt_or_create(ctx: PageContext, contact: ExternalContact, role: Role) -> tuple[Counterparty, str]:
    """The Tamio entity for a Xero contact not mapped yet: one that has its legacy id or its name, or a new one."""
    legacy = await _by_legacy_id(ctx.db, role, ctx.account.id, contact.external_id)
    named: Counterparty | None = legacy or (
        await find_client(ctx.db, account_id=ctx.account.id, name=contact.name)
        if role == "clients"
        else await find_expense(ctx.db, account_id=ctx.account.id, name=contact.name)
    )
    if named is not None:
        other = await ctx.mappings.mapping_of(_entity_type(role), named.id, "contact")
        if other is not None and other.external_id != contact.external_id:
            raise TamioError(
                f"{named.name} is already linked to another Xero contact with that name.",
                hint="Rename one of the two contacts in Xero, then sync again.",
            )
        await _own(ctx, named, role)
        await _update_counterparty(ctx, named, contact)
        return named, "linked"
    fields: dict[str, Any] = {k: v for k, v in (("contact_email", contact.email), ("contact_name", contact.contact_name)) if v}
    entity: Counterparty
    if role == "clients":
        entity = await ctx.counterparties.create_client(name=contact.name, source=SOURCE, **fields)
    else:
        entity = await ctx.counterparties.create_expense(name=contact.name, source=SOURCE, **fields)
    entity.locked_fields = ["name"]
    await ctx.db.flush()
    return entity, "created"


async def _own(ctx: PageContext, entity: Counterparty, role: Role) -> None:
    """Xero owns the name of a synced counterparty from now on."""
    locked = sorted({*(entity.locked_fields or []), "name"})
    if entity.source != SOURCE or list(entity.locked_fields or []) != locked:
        changes = {"source": (entity.source, SOURCE), "locked_fields": (entity.locked_fields, locked)}
        entity.source, entity.locked_fields = SOURCE, locked
        await ctx.db.flush()
        await ctx.counterparties.audit.log_update(_entity_type(role), entity.id, changes)


async def _update_counterparty(ctx: PageContext, entity: Counterparty, contact: ExternalContact) -> bool:
    """Bring the fields Xero knows in line; Xero's blanks never erase what the team typed."""
    status = CounterpartyStatus.ACTIVE if contact.status == "active" else CounterpartyStatus.PAUSED
    if entity.status == CounterpartyStatus.ENDED:
        status = CounterpartyStatus.ENDED  # ended in Tamio stays ended
    wanted = {"name": contact.name, "contact_email": contact.email, "contact_name": contact.contact_name, "status": status}
    changed: dict[str, Any] = {k: v for k, v in wanted.items() if v is not None and getattr(entity, k) != v}
    if not changed:
        return False
    if isinstance(entity, Client):
        await ctx.counterparties.update_client(entity, enforce_locks=False, **changed)
    else:
        await ctx.counterparties.update_expense(entity, enforce_locks=False, **changed)
    return True


async def counterparty_for_invoice(ctx: PageContext, invoice: ExternalInvoice) -> Counterparty:
    role: Role = "clients" if invoice.kind == "receivable" else "suppliers"
    entity_type = _entity_type(role)
    mapping = (await ctx.mappings.find_many([invoice.contact_external_id], "contact", entity_type=entity_type)).get(
        invoice.contact_external_id
    )
    if mapping is not None:
        entity = (await _load(ctx.db, role, ctx.account.id, [mapping.entity_id])).get(mapping.entity_id)
        if entity is not None:
            return entity
    # A contact that became a customer (or supplier) with this invoice: its flags may not be pulled yet.
    contact = ExternalContact(
        external_id=invoice.contact_external_id, name=invoice.contact_name or invoice.contact_external_id,
        email=None, is_customer=role == "clients", is_supplier=role == "suppliers", updated_at=invoice.updated_at,
    )
    entity, how = await adopt_or_create(ctx, contact, role)
    await ctx.mappings.link(entity_type, entity.id, external_id=contact.external_id, external_type="contact", details={})
    ctx.tally.counts[f"{role} {how}"] += 1
    return entity

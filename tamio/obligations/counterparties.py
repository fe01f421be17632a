"""Clients and expense buckets, the user-input layer, kept in step with their obligations.

Routes, Slack and the CLI call these, never ObligationService directly (design pitfall 1:
forgetting to create obligations). It lives with the obligations, not with the client and expense
tables (``tamio.data``), because it writes agreements, schedules and cash events: ``tamio.data``
sits below all three. Each counterparty's ``billing_config`` keeps a ``lines`` list,
one line per obligation, which the legacy forecast path reads when ``USE_OBLIGATION_FOR_FORECAST``
is off.

    client = await create_client(db, account=account, settings=settings, today=today,
                                 name="Acme Corp", amount=Decimal("5000"), currency="EUR",
                                 recurrence=RecurrenceSpec(Frequency.MONTHLY, start_date=..., day=-1))
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account
from tamio.audit.service import to_jsonable
from tamio.config import Settings
from tamio.currency.service import apply_conversion
from tamio.data.models import (
    Client,
    CounterpartyStatus,
    Criticality,
    ExpenseBucket,
    ExpenseCategory,
    FlexibilityLevel,
    RelationshipType,
    RiskLevel,
)
from tamio.data.service import same_name
from tamio.errors import LockedField, NotFound, ValidationError
from tamio.limits import check_name, check_notes
from tamio.money import normalize_currency, quantize
from tamio.obligations.event_generator import generate_events_for_agreement
from tamio.obligations.models import AgreementStatus, AmountType, ObligationAgreement, ObligationType
from tamio.obligations.schemas import RecurrenceSpec
from tamio.obligations.service import ObligationService

CLIENT_FIELDS = {
    "name", "contact_name", "contact_email", "relationship_type", "avg_payment_delay_days", "revenue_percent",
    "risk_level", "tags", "notes", "status",
}
EXPENSE_FIELDS = {
    "name", "category", "contact_name", "contact_email", "payment_terms", "payment_terms_days", "flexibility_level",
    "criticality", "tags", "notes", "status",
}
ENUM_FIELDS: dict[str, Any] = {
    "relationship_type": RelationshipType,
    "risk_level": RiskLevel,
    "category": ExpenseCategory,
    "flexibility_level": FlexibilityLevel,
    "criticality": Criticality,
    "status": CounterpartyStatus,
}


MAX_EMAIL_LENGTH = 320
MAX_CONTACT_NAME_LENGTH = 200
_LOCAL_PART = re.compile(r"[^\s@<>()\[\],;:\"\\]{1,64}")
_DOMAIN_LABEL = re.compile(r"[^\W_](?:[\w-]{0,61}[^\W_])?")


def is_email(address: str) -> bool:
    """Whether ``address`` (already stripped) looks like one deliverable address: ``local@domain.tld``.

    Stricter than the REST API's shape check: where a person types one address by hand (Slack, the
    CLI, a CSV cell), ``ap@acme`` or ``ap@@acme.com`` is a typo worth catching before an email bounces.
    """
    local, at, domain = address.rpartition("@")
    labels = domain.split(".")
    return (
        bool(at) and len(address) <= MAX_EMAIL_LENGTH and _LOCAL_PART.fullmatch(local) is not None
        and not local.startswith(".") and not local.endswith(".") and ".." not in local
        and len(domain) <= 255 and len(labels) >= 2 and all(_DOMAIN_LABEL.fullmatch(label) for label in labels)
        and not labels[-1].isdigit()
    )


def read_email(text: str) -> str:
    """An email address as typed (surrounding spaces dropped), or ``ValidationError`` saying what would be right."""
    address = text.strip()
    if not is_email(address):
        shown = f"`{address[:80]}` is not an email address" if address else "The email address is empty"
        raise ValidationError(f"{shown}; write it like ap@client.com.",
                              field_errors={"contact_email": "must be an email address such as ap@client.com"})
    return address


def read_contact_name(text: str) -> str:
    """The name of the person to write to: one line, at most 200 characters."""
    name = " ".join(text.split())
    if not name or len(name) > MAX_CONTACT_NAME_LENGTH or any(ord(ch) < 32 for ch in name):
        problem = "is empty" if not name else f"has more than {MAX_CONTACT_NAME_LENGTH} characters"
        raise ValidationError(f"The contact name {problem}; write the person's name, like Jane Doe.",
                              field_errors={"contact_name": f"one line, 1 to {MAX_CONTACT_NAME_LENGTH} characters"})
    return name


@dataclass(frozen=True)
class BillingLine:
    amount: Decimal
    currency: str
    recurrence: RecurrenceSpec
    obligation_type: ObligationType
    amount_type: AmountType = AmountType.FIXED


def _coerce(field: str, value: Any) -> Any:
    if field == "notes" and value is not None:
        return check_notes(str(value))
    enum_cls = ENUM_FIELDS.get(field)
    if enum_cls is None or value is None or isinstance(value, enum_cls):
        return value
    try:
        return enum_cls(str(value).lower())
    except ValueError as exc:
        choices = ", ".join(m.value for m in enum_cls)
        raise ValidationError(f"`{value}` is not a valid {field.replace('_', ' ')}; use one of: {choices}.", field_errors={field: f"one of: {choices}"}) from exc


async def _find_by_name(db: AsyncSession, model: type[Client] | type[ExpenseBucket], account_id: str, name: str) -> str | None:
    rows = await db.execute(select(model.id, model.name).where(model.user_id == account_id))
    return next((row_id for row_id, row_name in rows if same_name(row_name, name)), None)


class DuplicateName(ValidationError):
    """Another client (or expense) of the account already has the name: a conflict with what is stored."""

    status = 409
    title = "Conflict"


async def _ensure_unique_name(db: AsyncSession, model: type[Client] | type[ExpenseBucket], account_id: str, name: str, exclude_id: str | None = None) -> None:
    found = await _find_by_name(db, model, account_id, name)
    if found and found != exclude_id:
        kind = "a client" if model is Client else "an expense"
        raise DuplicateName(f"There is already {kind} named `{name}`.", field_errors={"name": "already exists"})


async def find_client(db: AsyncSession, *, account_id: str, name: str) -> Client | None:
    found = await _find_by_name(db, Client, account_id, name)
    return await db.get(Client, found) if found else None


async def find_expense(db: AsyncSession, *, account_id: str, name: str) -> ExpenseBucket | None:
    found = await _find_by_name(db, ExpenseBucket, account_id, name)
    return await db.get(ExpenseBucket, found) if found else None


async def find_counterparty(db: AsyncSession, *, account_id: str, name: str, kind: str | None = None) -> Client | ExpenseBucket:
    """The client (``kind="client"``) or expense bucket (``"expense"``) called ``name``; without a
    kind, whichever has the name, and ``ValidationError`` when both do."""
    client = await find_client(db, account_id=account_id, name=name) if kind in (None, "client") else None
    bucket = await find_expense(db, account_id=account_id, name=name) if kind in (None, "expense") else None
    if client is not None and bucket is not None:
        raise ValidationError(f"Both a client and an expense are called `{name}`.", hint="Say which: `client` or `expense` before the name.")
    found = client or bucket
    if found is None:
        what = {"client": "client", "expense": "expense"}.get(kind or "", "client or expense")
        raise NotFound(f"There is no {what} called `{name}`.", hint="Check the spelling; names are matched ignoring case.")
    return found


async def get_client(db: AsyncSession, *, account_id: str, client_id: str) -> Client:
    client = await db.get(Client, client_id)
    if client is None or client.user_id != account_id:
        raise NotFound(f"There is no client `{client_id}` in this account.")
    return client


async def get_expense(db: AsyncSession, *, account_id: str, expense_id: str) -> ExpenseBucket:
    bucket = await db.get(ExpenseBucket, expense_id)
    if bucket is None or bucket.user_id != account_id:
        raise NotFound(f"There is no expense bucket `{expense_id}` in this account.")
    return bucket


async def list_counterparty_names(db: AsyncSession, *, account_id: str, prefix: str = "", limit: int = 100) -> list[tuple[str, str, str]]:
    """(kind, id, name) of clients and expense buckets whose name starts with ``prefix`` (autocomplete)."""
    like = f"{prefix.lower()}%"
    clients = await db.execute(
        select(Client.id, Client.name).where(Client.user_id == account_id, func.lower(Client.name).like(like)).limit(limit)
    )
    buckets = await db.execute(
        select(ExpenseBucket.id, ExpenseBucket.name).where(ExpenseBucket.user_id == account_id, func.lower(ExpenseBucket.name).like(like)).limit(limit)
    )
    found = [("client", r[0], r[1]) for r in clients] + [("expense", r[0], r[1]) for r in buckets]
    return sorted(found, key=lambda x: x[2].lower())[:limit]


def locked_field(entity: Any, fields: Iterable[str]) -> LockedField | None:
    """The refusal to set ``fields`` on a client or vendor when an integration owns one of them."""
    locked = set(entity.locked_fields or []) & set(fields)
    if not locked:
        return None
    return LockedField(f"`{sorted(locked)[0]}` of {entity.name} comes from {entity.source.title()}, which owns it; change it there and sync.")


class CounterpartyService:
    """Create and update clients and expense buckets with their obligations, in the caller's transaction."""

    def __init__(self, db: AsyncSession, *, account: Account, settings: Settings, today: date, now: datetime, actor: str = "system") -> None:
        self.db = db
        self.account = account
        self.settings = settings
        self.today = today
        self.actor = actor
        self.obligations = ObligationService(db, account=account, settings=settings, today=today, actor=actor, now=now)
        self.audit = self.obligations.audit

    async def create_client(self, *, name: str, billing: BillingLine | None = None, source: str = "manual", **fields: Any) -> Client:
        name = check_name(name, what="The client's name")
        await _ensure_unique_name(self.db, Client, self.account.id, name)
        values = {k: _coerce(k, v) for k, v in fields.items() if k in CLIENT_FIELDS}
        unknown = set(fields) - CLIENT_FIELDS
        if unknown:
            raise ValidationError(f"Unknown client fields: {', '.join(sorted(unknown))}.")
        currency = billing.currency if billing else self.account.base_currency
        client = Client(user_id=self.account.id, name=name, source=source, currency=normalize_currency(currency), billing_config={"lines": []}, **values)
        self.db.add(client)
        await self.db.flush()
        await self.audit.log_create("client", client.id, {"name": name, **values})
        if billing is not None:
            await self.add_billing_line(client, billing)
        return client

    async def create_expense(self, *, name: str, billing: BillingLine | None = None, source: str = "manual", **fields: Any) -> ExpenseBucket:
        name = check_name(name, what="The expense's name")
        await _ensure_unique_name(self.db, ExpenseBucket, self.account.id, name)
        values = {k: _coerce(k, v) for k, v in fields.items() if k in EXPENSE_FIELDS}
        unknown = set(fields) - EXPENSE_FIELDS
        if unknown:
            raise ValidationError(f"Unknown expense fields: {', '.join(sorted(unknown))}.")
        currency = billing.currency if billing else self.account.base_currency
        bucket = ExpenseBucket(user_id=self.account.id, name=name, source=source, currency=normalize_currency(currency), billing_config={"lines": []}, **values)
        self.db.add(bucket)
        await self.db.flush()
        await self.audit.log_create("expense_bucket", bucket.id, {"name": name, **values})
        if billing is not None:
            await self.add_billing_line(bucket, billing)
        return bucket

    async def add_billing_line(
        self, counterparty: Client | ExpenseBucket, billing: BillingLine, *, import_key: str | None = None
    ) -> ObligationAgreement | None:
        """Record a recurring amount on the counterparty and (when enabled) its ObligationAgreement."""
        currency = normalize_currency(billing.currency)
        amount = quantize(billing.amount, currency)
        if amount <= 0:
            raise ValidationError("The amount must be more than zero.", field_errors={"amount": "must be more than zero"})
        agreement: ObligationAgreement | None = None
        if self.settings.use_obligation_system:
            if isinstance(counterparty, Client):
                agreement = await self.obligations.create_obligation_from_client(
                    counterparty, billing.recurrence, amount=amount, currency=currency, amount_type=billing.amount_type, import_key=import_key
                )
            else:
                agreement = await self.obligations.create_obligation_from_expense(
                    counterparty, billing.recurrence, amount=amount, currency=currency,
                    obligation_type=billing.obligation_type, amount_type=billing.amount_type, import_key=import_key,
                )
        line = {
            "agreement_id": agreement.id if agreement else None,
            "import_key": import_key,
            "obligation_type": billing.obligation_type.value,
            "amount": format(amount, "f"),
            "currency": currency,
            "amount_type": billing.amount_type.value,
            "recurrence": billing.recurrence.to_config(),
            # Where the line came from, as its schedules say (a later Xero link changes the counterparty's source).
            "origin": agreement.source if agreement else counterparty.source,
        }
        if agreement is None:
            self.account.schedules_through = None  # a line without schedules: the schedules path backfills it first
        # The counterparty's own amount is its first line's, converted at write time.
        if counterparty.amount is None:
            counterparty.amount = amount
            await apply_conversion(self.db, counterparty, amount=amount, currency=currency, base_currency=self.account.base_currency, on_date=self.today,
                                   account_id=self.account.id)
        if agreement is not None:
            line["base_amount"] = format(agreement.base_currency_amount or Decimal(0), "f")
            line["rate"] = format(agreement.exchange_rate_used or Decimal(1), "f")
        else:
            probe = Client(currency=currency)
            await apply_conversion(self.db, probe, amount=amount, currency=currency, base_currency=self.account.base_currency, on_date=self.today,
                                   account_id=self.account.id)
            line["base_amount"] = format(probe.base_currency_amount or Decimal(0), "f")
            line["rate"] = format(probe.exchange_rate_used or Decimal(1), "f")
        config = dict(counterparty.billing_config or {})
        config["lines"] = [*config.get("lines", []), line]
        counterparty.billing_config = config
        await self.db.flush()
        await generate_events_for_agreement(self.db, account=self.account, settings=self.settings, counterparty=counterparty, agreement=agreement, line=line, today=self.today, horizon=self.obligations.horizon, now=self.obligations.now)
        return agreement

    async def update_client(self, client: Client, *, billing: BillingLine | None = None, enforce_locks: bool = True, **fields: Any) -> Client:
        await self._update(client, CLIENT_FIELDS, "client", billing, enforce_locks, fields)
        return client

    async def update_expense(self, bucket: ExpenseBucket, *, billing: BillingLine | None = None, enforce_locks: bool = True, **fields: Any) -> ExpenseBucket:
        await self._update(bucket, EXPENSE_FIELDS, "expense_bucket", billing, enforce_locks, fields)
        return bucket

    async def set_contact(self, entity: Client | ExpenseBucket, *, email: str | None = None, contact_name: str | None = None) -> bool:
        """Set who to write to (read with ``read_email`` / ``read_contact_name`` first); ``None`` keeps
        what is there. An audit row when something changed; ``LockedField`` when an integration owns it."""
        fields: dict[str, Any] = {k: v for k, v in (("contact_email", email), ("contact_name", contact_name)) if v is not None}
        changed = any(getattr(entity, k) != v for k, v in fields.items())
        if changed:
            if isinstance(entity, Client):
                await self.update_client(entity, **fields)
            else:
                await self.update_expense(entity, **fields)
        return changed

    async def _update(self, entity: Any, allowed: set[str], entity_type: str, billing: BillingLine | None, enforce_locks: bool, fields: dict[str, Any]) -> None:
        unknown = set(fields) - allowed
        if unknown:
            raise ValidationError(f"Unknown fields: {', '.join(sorted(unknown))}.")
        locked = locked_field(entity, fields) if enforce_locks else None
        if locked is not None:
            raise locked
        changes: dict[str, tuple[Any, Any]] = {}
        for key, value in fields.items():
            value = _coerce(key, value)
            if key == "name":
                value = check_name(str(value))
                await _ensure_unique_name(self.db, type(entity), self.account.id, value, exclude_id=entity.id)
            old = getattr(entity, key)
            if old != value:
                changes[key] = (old, value)
                setattr(entity, key, value)
        if billing is not None:
            await self._replace_first_line(entity, billing)
            changes["billing"] = (None, to_jsonable({"amount": billing.amount, "currency": billing.currency}))
        if changes:
            await self.db.flush()
            await self.audit.log_update(entity_type, entity.id, changes)
            if "status" in changes and changes["status"][1] == CounterpartyStatus.ENDED:
                for agreement in await self.agreements_of(entity):
                    await self.obligations.cancel_agreement(agreement)

    async def _replace_first_line(self, entity: Client | ExpenseBucket, billing: BillingLine) -> None:
        config = dict(entity.billing_config or {})
        lines = list(config.get("lines", []))
        if not lines:
            await self.add_billing_line(entity, billing)
            return
        first = dict(lines[0])
        agreement = await self.db.get(ObligationAgreement, first["agreement_id"]) if first.get("agreement_id") else None
        currency = normalize_currency(billing.currency)
        amount = quantize(billing.amount, currency)
        if agreement is not None:
            await self.obligations.update_agreement(agreement, amount=amount, currency=currency, spec=billing.recurrence, amount_type=billing.amount_type)
            first["base_amount"] = format(agreement.base_currency_amount or Decimal(0), "f")
            first["rate"] = format(agreement.exchange_rate_used or Decimal(1), "f")
        first.update({"amount": format(amount, "f"), "currency": currency, "amount_type": billing.amount_type.value, "recurrence": billing.recurrence.to_config()})
        lines[0] = first
        config["lines"] = lines
        entity.billing_config = config
        entity.amount = amount
        await apply_conversion(self.db, entity, amount=amount, currency=currency, base_currency=self.account.base_currency, on_date=self.today,
                                   account_id=self.account.id)

    async def agreements_of(self, entity: Client | ExpenseBucket) -> list[ObligationAgreement]:
        column = ObligationAgreement.client_id if isinstance(entity, Client) else ObligationAgreement.expense_bucket_id
        stmt = select(ObligationAgreement).where(column == entity.id, ObligationAgreement.status == AgreementStatus.ACTIVE)
        return list((await self.db.execute(stmt)).scalars().all())


def lines_of(entities: Iterable[Client | ExpenseBucket]) -> list[tuple[Client | ExpenseBucket, dict[str, Any]]]:
    return [(entity, line) for entity in entities for line in (entity.billing_config or {}).get("lines", [])]

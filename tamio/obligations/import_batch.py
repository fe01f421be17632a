"""Writing one planned batch of an obligations import in a few multi-row statements per table.

``importer`` plans a batch in memory; ``write_batch`` works out its rows and hands back their writing,
which the importer runs in its transaction while it plans the next batch, in the order the foreign keys
need: the new clients and vendors (``copy_rows``: COPY on PostgreSQL), the changed ones (an executemany
UPDATE by primary key per table), the agreements, the audit rows (``AuditService.log_many``: one read
and one move of the chain's head for the whole batch), the schedules (``ObligationService.generate_many``
over the batch at once) and their cash events (``insert_events``). The number of statements grows with
batches, not with rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account
from tamio.audit.service import AuditEntry, AuditService
from tamio.bulk import copy_rows
from tamio.config import Settings
from tamio.currency.service import Conversion
from tamio.data.models import Client, ExpenseBucket, ExpenseCategory, FlexibilityLevel
from tamio.obligations.event_generator import insert_events, legacy_event_rows, schedule_event_rows
from tamio.obligations.models import (
    AgreementStatus,
    AmountType,
    Direction,
    ObligationAgreement,
    ObligationSchedule,
    ObligationType,
)
from tamio.obligations.recurrence import BusinessDayConvention, Frequency
from tamio.obligations.service import ObligationService

CHUNK = 500  # rows per statement, and ids per IN list: within every backend's limit on parameters


@dataclass(eq=False, slots=True)  # slots: an import holds one for each of the account's clients and vendors
class Party:
    """A client or vendor as an import sees it: what the database had, and what the import changes."""

    id: str
    name: str
    is_client: bool
    source: str
    locked_fields: list[str]
    contact_email: str | None
    contact_name: str | None
    has_amount: bool
    flexibility: FlexibilityLevel | None = None
    created: bool = False  # made by this import
    written: bool = True  # in the database (False: made by the batch being planned)
    category: ExpenseCategory | None = None
    amount: Decimal | None = None  # set when the batch gives it its first amount
    conversion: tuple[str, Conversion] | None = None  # that amount's currency and conversion
    lines: list[dict[str, Any]] = field(default_factory=list)  # billing lines the batch adds
    changed: set[str] = field(default_factory=set)  # columns the batch changes

    @property
    def entity_type(self) -> str:
        return "client" if self.is_client else "expense_bucket"

    def settle(self) -> None:
        """The batch is written (or, in a dry run, taken as written): later batches find it there."""
        self.written, self.lines, self.changed, self.conversion = True, [], set(), None


@dataclass
class Batch:
    parties: list[Party] = field(default_factory=list)  # made by this batch
    touched: dict[str, Party] = field(default_factory=dict)  # already there, changed by this batch
    agreements: list[dict[str, Any]] = field(default_factory=list)
    lines: list[tuple[Party, dict[str, Any]]] = field(default_factory=list)  # in file order
    audit: list[AuditEntry] = field(default_factory=list)  # in file order
    invoices: dict[str, str] = field(default_factory=dict)  # agreement id -> the invoice number its schedule carries

    def touch(self, party: Party) -> None:
        if party.written:
            self.touched[party.id] = party

    def settle(self) -> None:
        for party in (*self.parties, *self.touched.values()):
            party.settle()


@dataclass(frozen=True, slots=True)
class AgreementRecord:
    """An agreement row the batch inserts, as schedule and event generation read it (``Scheduled``)."""

    id: str
    user_id: str
    client_id: str | None
    expense_bucket_id: str | None
    obligation_type: ObligationType
    description: str
    status: AgreementStatus
    frequency: Frequency
    rrule: str
    start_date: date
    business_day_convention: BusinessDayConvention
    holiday_calendar: str | None
    direction: Direction
    amount_type: AmountType
    source: str
    base_amount: Decimal
    currency: str
    base_currency_amount: Decimal | None
    exchange_rate_used: Decimal | None
    exchange_rate_date: date | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> AgreementRecord:
        return cls(**{name: row[name] for name in cls.__slots__})


@dataclass(frozen=True)
class Change:
    """One thing an import did or, in a dry run, would do."""

    subject: str  # "client" or "expense" (a counterparty), or "obligation" (an agreement)
    action: str  # "create", "update" or "unchanged"
    name: str  # the counterparty's name
    lines: tuple[int, ...]  # the file's lines that name it
    detail: str = ""  # what changes ("flexibility can_delay"), or the obligation ("expense $4,500.00 monthly ...")


@dataclass(frozen=True)
class ImportResult:
    created: int
    skipped: int
    new_counterparties: int
    flexibility_set: int = 0  # vendors already there whose flexibility the file changed
    contacts_set: int = 0  # clients and vendors already there whose email or contact name the file changed
    changes: tuple[Change, ...] = ()  # a dry run's, in file order: counterparties, then each row's obligation


def write_batch(
    db: AsyncSession, batch: Batch, *, account: Account, settings: Settings, today: date, now: datetime, actor: str, horizon: date
) -> Coroutine[Any, Any, None]:
    """The batch's writes, to run: the rows are worked out from the batch now and the batch settled, so
    what runs reads nothing the planning of the next batch changes. The caller may run it while it plans
    the next batch (the database taking in one batch while this process works out the next) and must
    have it done before the session's next use."""
    created = {model: [_new_row(party, account, now) for party in batch.parties if party.is_client == (model is Client)]
               for model in (Client, ExpenseBucket)}
    updates = [_update_of(party, now) for party in batch.touched.values()]
    if batch.lines and not batch.agreements:
        account.schedules_through = None  # lines without schedules: the schedules path backfills them first
    lines = [(party.id, party.is_client, party.name, line) for party, line in batch.lines]
    batch.settle()
    return _write(db, created, updates, batch.agreements, batch.audit, lines, batch.invoices, account=account, settings=settings,
                  today=today, now=now, actor=actor, horizon=horizon)


async def _write(
    db: AsyncSession, created: dict[type[Client] | type[ExpenseBucket], list[dict[str, Any]]], updates: list[_Update],
    agreement_rows: list[dict[str, Any]], audit: list[AuditEntry], lines: list[tuple[str, bool, str, dict[str, Any]]],
    invoices: dict[str, str], *, account: Account, settings: Settings, today: date, now: datetime, actor: str, horizon: date,
) -> None:
    for model, rows in created.items():
        await copy_rows(db, model, rows)
    await _update_parties(db, updates)
    await copy_rows(db, ObligationAgreement, agreement_rows)
    await AuditService(db, account.id, actor=actor, clock=lambda: now).log_many(audit)
    agreements = [AgreementRecord.of(row) for row in agreement_rows]
    schedules: list[dict[str, Any]] = []
    await ObligationService(db, account=account, settings=settings, today=today, actor=actor, now=now).generate_many(
        agreements, new=True, inserted=schedules, arrears=True)
    await _invoice_numbers(db, invoices, schedules)
    await _events(db, lines, agreements, schedules, account=account, settings=settings, now=now, horizon=horizon, today=today)


async def _invoice_numbers(db: AsyncSession, invoices: dict[str, str], schedules: list[dict[str, Any]]) -> None:
    """Each invoice's number on its (one-off) schedule, in one executemany UPDATE by primary key."""
    rows = []
    for schedule in schedules:
        if (number := invoices.get(schedule["obligation_id"])) is not None:
            schedule["invoice_number"] = number
            rows.append({"id": schedule["id"], "invoice_number": number})
    for start in range(0, len(rows), CHUNK):
        await db.execute(update(ObligationSchedule), rows[start : start + CHUNK])


def _new_row(party: Party, account: Account, now: datetime) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": party.id, "user_id": account.id, "name": party.name, "source": party.source, "billing_config": {"lines": party.lines},
        "contact_email": party.contact_email, "contact_name": party.contact_name, "locked_fields": [], "tags": [],
        "currency": account.base_currency, "amount": party.amount, "base_currency_amount": None, "exchange_rate_used": None,
        "exchange_rate_date": None, "created_at": now, "updated_at": now,
    }
    if not party.is_client:
        row.update(category=party.category, flexibility_level=party.flexibility)
    row.update(_converted(party))
    return row


def _converted(party: Party) -> dict[str, Any]:
    if party.conversion is None:
        return {}
    currency, conversion = party.conversion
    return {"amount": party.amount, "currency": currency, "base_currency_amount": conversion.amount,
            "exchange_rate_used": conversion.rate, "exchange_rate_date": conversion.rate_date}


@dataclass(frozen=True, slots=True)
class _Update:
    """A client or vendor already there as the batch changes it: its changed columns and new billing lines."""

    is_client: bool
    values: dict[str, Any]
    lines: list[dict[str, Any]]


def _update_of(party: Party, now: datetime) -> _Update:
    values: dict[str, Any] = {"id": party.id, "updated_at": now}
    values.update({column: getattr(party, column) for column in party.changed & {"contact_email", "contact_name"}})
    if "flexibility_level" in party.changed:
        values["flexibility_level"] = party.flexibility
    values.update(_converted(party))
    return _Update(party.is_client, values, list(party.lines))


async def _update_parties(db: AsyncSession, updates: list[_Update]) -> None:
    """The changed columns of clients and vendors already there, appending their new billing lines."""
    configs: dict[str, dict[str, Any]] = {}
    for model in (Client, ExpenseBucket):
        ids = [u.values["id"] for u in updates if u.lines and u.is_client == (model is Client)]
        for start in range(0, len(ids), CHUNK):
            found = await db.execute(select(model.id, model.billing_config).where(model.id.in_(ids[start : start + CHUNK])))
            configs.update((row_id, dict(config or {})) for row_id, config in found)
    groups: dict[tuple[bool, frozenset[str]], list[dict[str, Any]]] = defaultdict(list)
    for update_ in updates:
        values = dict(update_.values)
        if update_.lines:
            config = configs[values["id"]]
            values["billing_config"] = {**config, "lines": [*config.get("lines", []), *update_.lines]}
        groups[(update_.is_client, frozenset(values))].append(values)
    for (is_client, _), rows in groups.items():
        for start in range(0, len(rows), CHUNK):
            await db.execute(update(Client if is_client else ExpenseBucket), rows[start : start + CHUNK])


async def _events(
    db: AsyncSession, lines: list[tuple[str, bool, str, dict[str, Any]]], agreements: list[AgreementRecord], inserted: list[dict[str, Any]], *,
    account: Account, settings: Settings, today: date, now: datetime, horizon: date,
) -> None:
    """The batch's cash events: from its schedules, or (until DEPRECATE_DIRECT_CASH_EVENTS) its billing
    lines (each with its counterparty's id, whether a client, and name)."""
    rows: list[dict[str, Any]] = []
    if not settings.deprecate_direct_cash_events:
        for party_id, is_client, name, line in lines:
            rows += legacy_event_rows(
                account_id=account.id, client_id=party_id if is_client else None,
                expense_bucket_id=None if is_client else party_id, description=name, line=line,
                start=today, end=horizon, now=now,
            )
    else:
        schedules: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for schedule in inserted:  # the batch's agreements are new: these are all their schedules
            schedules[schedule["obligation_id"]].append(schedule)
        for agreement in agreements:
            rows += schedule_event_rows(account_id=account.id, schedules=schedules[agreement.id], agreement=agreement, now=now)
    await insert_events(db, account.id, rows, new_keys=settings.use_obligation_system)  # keys name the new agreements

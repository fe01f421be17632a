"""Import parsed obligation rows (``csv_format``) into an account: set-based, idempotent, all or nothing.

Each row finds or creates its counterparty (a client for revenue; an expense bucket of category
expense, payroll or tax otherwise) and adds a billing line with the row's ``import_key``; a row
whose key is already there is skipped, so importing the same file twice changes nothing. A row's
optional ``flexibility`` is set on its vendor (with an audit row) whether the row is new or already
there, so adding that column to a file imported before fills it in; so are the optional ``email`` and
``contact_name``, on the client or vendor (an integration that owns them refuses, naming the line).
A one-off row's ``invoice`` lands on its schedule, as ``/tamio add ... ref INV-1042`` puts it there: a
number the client or vendor already has, in the database or on a line above, is refused.
The caller's transaction makes it all-or-nothing: an error names the row's line and nothing stays.

Why set-based: row by row, each obligation took a dozen statements and every name lookup read all
the account's counterparties (22 ms a row, and growing). Here the account's counterparties and
import keys are read once; rows come in batches of ``BATCH_ROWS``, each planned in memory (what to
create and update, with its audit rows, in file order, exactly as ``CounterpartyService`` would row by
row: a test compares the two) with one rate book, then written by ``import_batch`` in multi-row
statements. Rows are taken from any iterable, so a file streams through (``ObligationsReader``).

    result = await import_obligations(db, account=account, settings=settings, today=today, now=now,
                                      rows=ObligationsReader(source.lines(), currency=account.base_currency))
    result.created, result.skipped                       # (120, 4)
    plan = await import_obligations(..., dry_run=True)   # nothing written; plan.changes says what would be
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import date, datetime
from itertools import islice
from typing import Any

from sqlalchemy import exists, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account
from tamio.audit.service import AuditEntry
from tamio.config import Settings
from tamio.currency.service import Conversion, RateBook
from tamio.data.models import Client, ExpenseBucket, ExpenseCategory, FlexibilityLevel
from tamio.data.service import name_key
from tamio.db import new_id
from tamio.errors import MissingExchangeRate, TamioError, ValidationError
from tamio.limits import check_name
from tamio.money import format_money, quantize
from tamio.obligations.add import known_invoice
from tamio.obligations.adding import AddObligation
from tamio.obligations.counterparties import locked_field
from tamio.obligations.csv_format import CsvImportError, ObligationRow
from tamio.obligations.import_batch import Batch, Change, ImportResult, Party, write_batch
from tamio.obligations.models import (
    AgreementStatus,
    AmountType,
    ObligationAgreement,
    ObligationSchedule,
    ObligationType,
)
from tamio.obligations.recurrence import Frequency, describe
from tamio.obligations.schemas import RecurrenceSpec
from tamio.obligations.service import direction_for, horizon_end

__all__ = ["BATCH_ROWS", "Change", "ImportResult", "import_obligations", "spec_for"]

BATCH_ROWS = 2000  # rows planned and written together: big enough for few statements, small enough to hold
YIELD_EVERY = 32  # rows read or planned between turns of the batch being written (its next statement sent, a reply taken)
ANALYZE_AFTER = 1000  # obligations created, from which an import takes the tables' statistics afresh (PostgreSQL)
ANALYZED_TABLES = ("clients", "expense_buckets", "obligation_agreements", "obligation_schedules", "cash_events")
KIND_TO_TYPE = {
    "revenue": ObligationType.REVENUE,
    "expense": ObligationType.EXPENSE,
    "payroll": ObligationType.PAYROLL,
    "tax": ObligationType.TAX,
}
KIND_TO_CATEGORY = {"expense": ExpenseCategory.OPERATING, "payroll": ExpenseCategory.PAYROLL, "tax": ExpenseCategory.TAX}


# The core input's fields (``AddObligation``) as the file's columns, to name the cell a refusal is about.
ROW_COLUMNS = {"name": "counterparty", "kind": "kind", "amount": "amount", "currency": "currency", "start_date": "start_date",
               "end_date": "end_date", "day": "day", "frequency": "frequency", "calendar": "calendar", "contact_email": "email",
               "invoice": "invoice"}


def row_obligation(row: ObligationRow, *, today: date) -> AddObligation:
    """The row as the core's one input, held to its rules (``tamio.obligations.adding``): a row the file
    format reads is refused by the same rules, in the same words, as ``/tamio add`` and the API."""
    return AddObligation.read({
        "kind": "client" if row.is_client else row.kind, "name": row.counterparty, "amount": row.amount, "currency": row.currency,
        "recurrence": spec_for(row), "contact_email": row.email, "invoice": row.invoice,
    }, today=today)


def spec_for(row: ObligationRow) -> RecurrenceSpec:
    return RecurrenceSpec(
        frequency=Frequency.CUSTOM,
        start_date=row.start_date,
        end_date=row.end_date,
        day=row.day,
        custom_rrule=row.rrule,
        convention=row.convention,
        calendar=row.calendar,
    ) if row.frequency == Frequency.CUSTOM else RecurrenceSpec(
        frequency=row.frequency,
        start_date=row.start_date,
        end_date=row.end_date,
        day=row.day,
        convention=row.convention,
        calendar=row.calendar,
    )


async def import_obligations(
    db: AsyncSession, *, account: Account, settings: Settings, rows: Iterable[ObligationRow], today: date, now: datetime,
    actor: str = "import", dry_run: bool = False, batch_rows: int = BATCH_ROWS,
) -> ImportResult:
    """Import ``rows`` in the caller's transaction (``dry_run``: write nothing, and list the changes).

    Problems of the file itself (``CsvImportError``, raised by a reader at its end) come before a
    problem found while importing, as when a file was read whole first: after one of those, the
    rest of the rows are still read to see whether the file has any.
    """
    run = _Import(db, account=account, settings=settings, today=today, now=now, actor=actor, dry_run=dry_run)
    await run.load()
    remaining = iter(rows)
    try:
        async for chunk in _batches(remaining, batch_rows):
            batch = await run.plan(chunk)
            if not dry_run:
                await run.written()
                run.writing = asyncio.ensure_future(write_batch(  # written while the next batch is planned
                    db, batch, account=account, settings=settings, today=today, now=now, actor=actor, horizon=run.horizon))
        await run.written()
    except TamioError as exc:
        await run.written()  # a failure writing the batch before came first
        if not isinstance(exc, CsvImportError):
            for _ in remaining:  # raises the file's own problems, if it has any
                pass
        raise
    except BaseException:
        await run.abandon()
        raise
    if not dry_run and run.created and run.first_obligations:
        # Every obligation of the account is this import's, its schedules generated through the horizon: the
        # forecast reads them at once (one summed query) rather than working out its billing lines until the
        # 6 AM job backfills; both give the same figures to the cent (tamio.forecast.service).
        account.schedules_through = run.horizon
    if not dry_run and run.created >= ANALYZE_AFTER:
        await _fresh_statistics(db)
    return run.result()


async def _fresh_statistics(db: AsyncSession) -> None:
    """PostgreSQL's statistics of the tables a large import filled, taken now (in its transaction): until
    autovacuum comes round, the planner takes them for the few rows they had, and the figures' refresh
    after a 10,000-row import read its schedules by a nested loop in 17.6 s instead of 0.2 s. ANALYZE
    reads a bounded sample (about half a second here). SQLite plans these reads well without."""
    if db.get_bind().dialect.name != "postgresql":
        return
    for table in ANALYZED_TABLES:
        await db.execute(text(f"ANALYZE {table}"))


async def _batches(rows: Iterator[ObligationRow], size: int) -> AsyncIterator[list[ObligationRow]]:
    """The rows in batches of ``size``, read a few at a time: between them, the batch being written goes on."""
    chunk: list[ObligationRow] = []
    while part := list(islice(rows, min(YIELD_EVERY, size - len(chunk)))):
        chunk += part
        if len(chunk) == size:
            yield chunk
            chunk = []
        await asyncio.sleep(0)
    if chunk:
        yield chunk


class _Import:
    """What one import knows between batches: the account's counterparties by name and its import keys."""

    def __init__(self, db: AsyncSession, *, account: Account, settings: Settings, today: date, now: datetime, actor: str,
                 dry_run: bool) -> None:
        self.db = db
        self.account = account
        self.settings = settings
        self.today = today
        self.now = now
        self.dry_run = dry_run
        self.horizon = horizon_end(today, settings.schedule_horizon_months)
        self.parties: dict[tuple[bool, str], Party] = {}  # (is a client, name key) -> the client or vendor
        self.known: set[str] = set()
        self.invoices: dict[tuple[str, str], str] = {}  # (counterparty's id, invoice number) -> where it is: its due date or line
        self.created = self.skipped = self.new_counterparties = self.flexibility_set = 0
        self.contacts_set: set[str] = set()
        self.changes: dict[str, Change] = {}  # a dry run's: the counterparty's id (or "line N" of a row) -> what it would be
        self._book = RateBook([])
        self._book_currencies: frozenset[str] = frozenset()
        self._batch = Batch()
        self.writing: asyncio.Future[None] | None = None  # the last batch, being written
        # The account has no obligation yet and the import makes agreements: once written, every one of its
        # obligations has schedules through the horizon (``Account.schedules_through``); set by ``load``.
        self.first_obligations = False

    async def written(self) -> None:
        """The last batch wholly written (the session free again), or its failure raised."""
        writing, self.writing = self.writing, None
        if writing is not None:
            await writing

    async def abandon(self) -> None:
        """Stop the batch being written (the import failed otherwise): its transaction is rolled back."""
        writing, self.writing = self.writing, None
        if writing is not None and not writing.done():
            writing.cancel()
            with contextlib.suppress(BaseException):
                await writing

    async def load(self) -> None:
        """The account's counterparties and import keys, in a fixed number of queries (streamed)."""
        had_lines = False
        keys = await self.db.execute(select(ObligationAgreement.import_key).where(
            ObligationAgreement.user_id == self.account.id, ObligationAgreement.import_key.is_not(None)))
        self.known.update(key for key in keys.scalars() if key)
        invoices = (select(ObligationSchedule.invoice_number, ObligationSchedule.due_date, ObligationAgreement.client_id,
                           ObligationAgreement.expense_bucket_id)
                    .join(ObligationAgreement, ObligationAgreement.id == ObligationSchedule.obligation_id)
                    .where(ObligationSchedule.user_id == self.account.id, ObligationSchedule.invoice_number.is_not(None))
                    .execution_options(yield_per=500))
        async for number, due, client_id, bucket_id in await self.db.stream(invoices):
            self.invoices.setdefault((str(client_id or bucket_id), str(number)), f"due {due.isoformat()}")
        for model in (Client, ExpenseBucket):
            columns = [model.id, model.name, model.source, model.locked_fields, model.contact_email, model.contact_name,
                       model.amount, model.billing_config]
            if model is ExpenseBucket:
                columns.append(ExpenseBucket.flexibility_level)
            stmt = select(*columns).where(model.user_id == self.account.id).execution_options(yield_per=500)
            async for found in await self.db.stream(stmt):
                party = Party(id=found.id, name=found.name, is_client=model is Client, source=found.source,
                              locked_fields=list(found.locked_fields or []), contact_email=found.contact_email,
                              contact_name=found.contact_name, has_amount=found.amount is not None,
                              flexibility=None if model is Client else found.flexibility_level)
                self.parties.setdefault((party.is_client, name_key(party.name)), party)
                lines = (found.billing_config or {}).get("lines", [])
                had_lines = had_lines or bool(lines)
                self.known.update(line["import_key"] for line in lines if line.get("import_key"))
        self.first_obligations = (
            self.settings.use_obligation_system and self.account.schedules_through is None and not had_lines
            and not (await self.db.execute(select(exists().where(ObligationAgreement.user_id == self.account.id)))).scalar()
        )

    async def plan(self, rows: list[ObligationRow]) -> Batch:
        """What the rows change, in file order, with their audit rows; nothing is written here."""
        self._batch = Batch()
        wanted = {row.currency for row in rows if row.import_key not in self.known} | {self.account.base_currency}
        if not wanted <= self._book_currencies:
            await self.written()  # the session is the batch being written's until then
            self._book_currencies = self._book_currencies | wanted
            self._book = await RateBook.load(self.db, self._book_currencies, self.today, account_id=self.account.id)
        for n, row in enumerate(rows, 1):
            if n % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # the batch being written takes a turn
            try:
                self._plan_row(row)
            except MissingExchangeRate as exc:  # keeps the pair: the edge may fetch the feed and try again
                raise MissingExchangeRate(f"line {row.line}, column currency: {exc.message}", hint=exc.hint,
                                          currencies=exc.currencies) from exc
            except _Refused as exc:
                raise TamioError(f"line {row.line}{exc.column}: {exc.reason}") from exc.reason
            except TamioError as exc:
                raise TamioError(f"line {row.line}: {exc}") from exc
        batch, self._batch = self._batch, Batch()
        if self.dry_run:  # what the batch would make stands for what the next batches see
            batch.settle()
        return batch

    def _plan_row(self, row: ObligationRow) -> None:
        flexibility = FlexibilityLevel(row.flexibility) if row.flexibility else None
        party = self.parties.get((row.is_client, name_key(row.counterparty)))
        if row.import_key in self.known:
            self.skipped += 1
            if party is not None:
                self._touch(party, row.line)
                self._update(party, row, flexibility)
            self._note_obligation(row, "unchanged", party.name if party is not None else row.counterparty)
            return
        try:  # the rules every edge holds an obligation to (Slack, the form, the CLI, the API): one function
            invoice = row_obligation(row, today=self.today).invoice
        except ValidationError as exc:
            field = next(iter(exc.field_errors), "")
            raise _Refused(ValidationError(exc.message), column=ROW_COLUMNS.get(field)) from exc
        if invoice is not None and party is not None and (where := self.invoices.get((party.id, invoice))) is not None:
            raise _Refused(known_invoice(party.name, invoice, where), column="invoice")
        if party is None:
            party = self._create(row, flexibility)
        else:
            self._touch(party, row.line)
            self._update(party, row, flexibility)
        self._add_line(party, row, invoice)
        if invoice is not None:
            self.invoices[(party.id, invoice)] = f"line {row.line}"
        self.known.add(row.import_key)
        self.created += 1

    def _create(self, row: ObligationRow, flexibility: FlexibilityLevel | None) -> Party:
        contact = {k: v for k, v in (("contact_email", row.email), ("contact_name", row.contact_name)) if v is not None}
        if row.is_client:
            name = check_name(row.counterparty, what="The client's name")
            values: dict[str, Any] = dict(contact)
        else:
            name = check_name(row.counterparty, what="The expense's name")
            values = {"category": KIND_TO_CATEGORY[row.kind], **({"flexibility_level": flexibility} if flexibility else {}), **contact}
        party = Party(id=new_id("cli" if row.is_client else "exp"), name=name, is_client=row.is_client, source="csv",
                      locked_fields=[], contact_email=row.email, contact_name=row.contact_name, has_amount=False,
                      flexibility=flexibility, created=True, written=False, category=values.get("category"))
        self.parties[(row.is_client, name_key(name))] = party
        self._batch.parties.append(party)
        self._batch.audit.append(AuditEntry.create(party.entity_type, party.id, {"name": name, **values}))
        self.new_counterparties += 1
        self._note(party.id, Change("client" if party.is_client else "expense", "create", name, (row.line,)))
        return party

    def _update(self, party: Party, row: ObligationRow, flexibility: FlexibilityLevel | None) -> None:
        """The row's flexibility and contact on a counterparty already there, as ``update_expense`` and
        ``set_contact`` would set them (an audit row for each that changes something)."""
        if not party.is_client and flexibility is not None and party.flexibility != flexibility:
            if (refused := locked_field(party, ["flexibility_level"])) is not None:
                raise _Refused(refused)
            self._change(party, {"flexibility_level": (party.flexibility, flexibility)})
            party.flexibility = flexibility
            self.flexibility_set += 1
        fields: dict[str, Any] = {k: v for k, v in (("contact_email", row.email), ("contact_name", row.contact_name)) if v is not None}
        if not any(getattr(party, k) != v for k, v in fields.items()):
            return
        if (refused := locked_field(party, fields)) is not None:
            email_locked = "contact_email" in party.locked_fields and row.email is not None
            raise _Refused(refused, column="email" if email_locked else "contact_name")
        self._change(party, {k: (getattr(party, k), v) for k, v in fields.items() if getattr(party, k) != v})
        for k, v in fields.items():
            setattr(party, k, v)
        self.contacts_set.add(party.id)

    def _change(self, party: Party, changes: dict[str, tuple[Any, Any]]) -> None:
        self._batch.audit.append(AuditEntry.update(party.entity_type, party.id, changes))
        party.changed.update(changes)
        self._batch.touch(party)
        shown = {"flexibility_level": "flexibility", "contact_email": "email", "contact_name": "contact name"}
        noted = self.changes.get(party.id)
        if self.dry_run and noted is not None and noted.action != "create":
            details = [d for d in noted.detail.split("; ") if d] + [f"{shown[k]} {new.value if isinstance(new, FlexibilityLevel) else new}"
                                                                   for k, (_, new) in changes.items()]
            self.changes[party.id] = Change(noted.subject, "update", noted.name, noted.lines, "; ".join(details))

    def _add_line(self, party: Party, row: ObligationRow, invoice: str | None) -> None:
        """The row's obligation: its agreement (with its audit row), the counterparty's billing line, and
        the invoice number its schedule carries (as ``add_obligation`` puts it there)."""
        currency = row.currency
        amount = quantize(row.amount, currency)
        conversion: Conversion = self._book.convert(amount, currency, self.account.base_currency, self.today)
        spec = spec_for(row)
        obligation_type = KIND_TO_TYPE[row.kind]
        agreement_id: str | None = None
        recurrence = spec.to_config()
        if self.settings.use_obligation_system:
            agreement_id = new_id("obl")
            rrule = recurrence["rrule"]
            self._batch.agreements.append({
                "id": agreement_id, "user_id": self.account.id, "client_id": party.id if party.is_client else None,
                "expense_bucket_id": None if party.is_client else party.id, "cash_account_id": None,
                "obligation_type": obligation_type, "direction": direction_for(obligation_type), "description": party.name[:300],
                "base_amount": amount, "currency": currency, "base_currency_amount": conversion.amount,
                "exchange_rate_used": conversion.rate, "exchange_rate_date": conversion.rate_date, "amount_type": AmountType.FIXED,
                "frequency": spec.frequency, "rrule": rrule, "business_day_convention": spec.convention,
                "holiday_calendar": spec.calendar, "day_of_month": spec.day, "start_date": spec.start_date, "end_date": spec.end_date,
                "occurrence_count": spec.count, "status": AgreementStatus.ACTIVE, "source": party.source, "import_key": row.import_key,
                "created_at": self.now, "updated_at": self.now,
            })
            if invoice is not None:
                self._batch.invoices[agreement_id] = invoice
            self._batch.audit.append(AuditEntry.create("obligation_agreement", agreement_id, {
                "type": obligation_type, "amount": amount, "currency": currency, "rrule": rrule, "start_date": spec.start_date,
            }))
        line: dict[str, Any] = {
            "agreement_id": agreement_id, "import_key": row.import_key, "obligation_type": obligation_type.value,
            "amount": format(amount, "f"), "currency": currency, "amount_type": AmountType.FIXED.value,
            "recurrence": recurrence, "origin": party.source,  # as its schedules say (the agreement's source is the party's)
        }
        if not party.has_amount:  # the counterparty's own amount is its first line's
            party.has_amount = True
            party.amount, party.conversion = amount, (currency, conversion)
            party.changed.update(("amount", "currency"))
        line["base_amount"] = format(conversion.amount, "f")
        line["rate"] = format(conversion.rate, "f")
        party.lines.append(line)
        self._batch.lines.append((party, line))
        self._batch.touch(party)
        self._note_obligation(row, "create", party.name)

    def _touch(self, party: Party, line: int) -> None:
        if not self.dry_run:
            return
        noted = self.changes.get(party.id) or Change("client" if party.is_client else "expense", "unchanged", party.name, ())
        self.changes[party.id] = Change(noted.subject, noted.action, noted.name, (*noted.lines, line), noted.detail)

    def _note_obligation(self, row: ObligationRow, action: str, name: str) -> None:
        if self.dry_run:
            self.changes[f"line {row.line}"] = Change("obligation", action, name, (row.line,), _described(row))

    def _note(self, key: str, change: Change) -> None:
        if self.dry_run:
            self.changes[key] = change

    def result(self) -> ImportResult:
        return ImportResult(
            created=self.created, skipped=self.skipped, new_counterparties=self.new_counterparties,
            flexibility_set=self.flexibility_set, contacts_set=len(self.contacts_set),
            changes=tuple(self.changes.values()) if self.dry_run else (),
        )


class _Refused(Exception):
    """An integration owns a field the row would set, or the core's rules refuse the row; ``column`` names the cell when it is one."""

    def __init__(self, reason: TamioError, *, column: str | None = None) -> None:
        super().__init__(str(reason))
        self.reason = reason
        self.column = f", column {column}" if column else ""


def _described(row: ObligationRow) -> str:
    """The obligation in a line: ``expense $4,500.00 monthly on the last day from 2026-01-31``."""
    when = describe(row.recurrence)
    start = "" if row.frequency is Frequency.ONCE else f" from {row.start_date.isoformat()}"
    invoice = f", invoice {row.invoice}" if row.invoice else ""
    return f"{row.kind} {format_money(row.amount, row.currency)} {when}{start}{invoice}"

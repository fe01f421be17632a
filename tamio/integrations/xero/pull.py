"""Apply one page of Xero records to an account's books: contacts, invoices and payments.

Each function takes the page's transaction (``PageContext``) and is an idempotent upsert keyed by
``IntegrationMapping``: a record whose ``UpdatedDateUTC`` is the one last applied is skipped, so
pulling the same page twice changes nothing. One record that cannot be applied (a name clash, a
missing exchange rate) is rolled back to its savepoint and reported; the rest of the page goes on.

- Contacts: customers become clients, suppliers expense buckets (``source="xero"``,
  ``locked_fields=["name"]``: Xero owns the name). An existing entity is adopted first by its legacy
  ``xero_contact_id``, then by name; archived contacts are paused.
- Invoices: an AUTHORISED or PAID sales invoice (ACCREC) or bill (ACCPAY) becomes one "once"
  ObligationAgreement (``source="xero"``, ``import_key="xero:<InvoiceID>"``) whose schedule carries
  the due date, the amount (due + paid), the currency, Xero's rate and the invoice number; PAID
  settles it, VOIDED and DELETED cancel it. Drafts are ignored until authorised.
- Payments: a PaymentEvent against the invoice's schedule through ``record_payment`` (variance
  included), once per Xero PaymentID; a deleted payment is reversed. Payments dated after the cash
  account's balance was set move that balance; older ones are already in it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account
from tamio.config import Settings
from tamio.currency.service import RateBook, add_rate
from tamio.data.counterparties import CounterpartyService, find_client, find_expense
from tamio.data.models import CashAccount, CashAccountType, Client, CounterpartyStatus, ExpenseBucket
from tamio.errors import MissingExchangeRate, NotFound, TamioError
from tamio.integrations.base import ExternalContact, ExternalInvoice, ExternalPayment, InvoiceStatus
from tamio.integrations.models import IntegrationMapping
from tamio.integrations.service import IntegrationMappingService
from tamio.money import normalize_currency, quantize
from tamio.obligations.models import (
    AgreementStatus,
    ObligationAgreement,
    ObligationSchedule,
    PaymentEvent,
    PaymentStatus,
    ScheduleStatus,
)
from tamio.obligations.payments import record_payment
from tamio.obligations.recurrence import Frequency
from tamio.obligations.schemas import RecurrenceSpec
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


async def _counterparty_for_invoice(ctx: PageContext, invoice: ExternalInvoice) -> Counterparty:
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


# -- money in the base currency -------------------------------------------------------------------


def xero_rate_to_base(currency: str, base: str, currency_rate: Decimal | None) -> Decimal | None:
    """Tamio's multiplier to the base currency from Xero's CurrencyRate (units of the invoice's
    currency per one unit of the organisation's base currency, taken to be Tamio's base)."""
    if currency == base:
        return Decimal(1)
    if currency_rate is None or currency_rate <= 0 or currency_rate == 1:
        return None  # no rate, or the organisation's base currency is not Tamio's
    return (Decimal(1) / currency_rate).quantize(Decimal("0.000000000001"))


async def ensure_rate(ctx: PageContext, currency: str, currency_rate: Decimal | None, on_date: date) -> None:
    """Make sure a conversion to the base currency exists on or before ``on_date``; when the rates
    table has none, Xero's own rate for the day is recorded (``source="xero"``)."""
    base = ctx.account.base_currency
    if currency == base:
        return
    book = await RateBook.load(ctx.db, [currency, base], on_date)
    try:
        book.rate(currency, base, on_date)
    except MissingExchangeRate:
        if xero_rate_to_base(currency, base, currency_rate) is None or currency_rate is None:
            raise
        await add_rate(ctx.db, base_currency=base, quote_currency=currency, rate=currency_rate, rate_date=on_date, source=SOURCE)


def _convert_with(entity: ObligationAgreement | ObligationSchedule, amount: Decimal, rate: Decimal, base: str, rate_date: date) -> None:
    entity.base_currency_amount = quantize(amount * rate, base)
    entity.exchange_rate_used = rate
    entity.exchange_rate_date = rate_date


# -- invoices -------------------------------------------------------------------------------------


def schedule_status(schedule: ObligationSchedule, invoice_status: str, today: date) -> ScheduleStatus:
    """The schedule's status for Xero's invoice status: AUTHORISED counts, PAID settles, VOIDED/DELETED cancel."""
    if invoice_status in ("voided", "deleted"):
        return ScheduleStatus.CANCELLED
    if invoice_status == "paid" or (schedule.paid_amount > 0 and schedule.paid_amount >= schedule.estimated_amount):
        return ScheduleStatus.PAID
    if schedule.paid_amount > 0:
        return ScheduleStatus.PARTIALLY_PAID
    if schedule.status == ScheduleStatus.QUEUED:
        return ScheduleStatus.QUEUED
    return ScheduleStatus.OVERDUE if schedule.due_date < today else ScheduleStatus.SCHEDULED


def _set_status(ctx: PageContext, schedule: ObligationSchedule, invoice_status: str, settled_on: date) -> bool:
    status = schedule_status(schedule, invoice_status, ctx.today)
    if status == schedule.status:
        return False
    schedule.status = status
    if status == ScheduleStatus.PAID and schedule.paid_at is None:
        schedule.paid_at = settled_on
    elif status != ScheduleStatus.PAID and schedule.paid_amount == 0:
        schedule.paid_at = None
    return True


async def apply_invoices(ctx: PageContext, invoices: Sequence[ExternalInvoice]) -> None:
    found = await ctx.mappings.find_many([i.external_id for i in invoices], "invoice", entity_type="obligation_schedule")
    ids = [m.entity_id for m in found.values()]
    schedules = {
        s.id: s
        for s in (await ctx.db.execute(select(ObligationSchedule).where(ObligationSchedule.id.in_(ids)))).scalars().all()
    } if ids else {}
    for invoice in invoices:
        mapping = found.get(invoice.external_id)
        schedule = schedules.get(mapping.entity_id) if mapping else None
        stamp = invoice.updated_at.isoformat()
        if schedule is not None and mapping is not None and mapping.details.get("updated_at") == stamp:
            continue
        expected = invoice.amount_due + invoice.amount_paid
        if schedule is None and (invoice.status not in ("authorised", "paid") or expected <= 0):
            continue  # drafts count once authorised; nothing to cancel that was never counted
        label = "invoices" if invoice.kind == "receivable" else "bills"
        try:
            async with ctx.db.begin_nested():
                if schedule is None:
                    schedule = await _create_invoice(ctx, invoice, expected)
                    how = "created"
                else:
                    how = await _update_invoice(ctx, invoice, schedule, expected)
                await ctx.mappings.link(
                    "obligation_schedule", schedule.id, external_id=invoice.external_id, external_type="invoice",
                    details={"updated_at": stamp, "status": invoice.status, "number": invoice.number, "kind": invoice.kind},
                )
                if how:
                    ctx.tally.counts[f"{label} {how}"] += 1
        except TamioError as exc:
            ctx.tally.errors.append(f"Xero {label[:-1]} {invoice.number or invoice.external_id}: {exc}")


def _due_date(invoice: ExternalInvoice, today: date) -> date:
    return invoice.due_date or invoice.issue_date or today


async def _create_invoice(ctx: PageContext, invoice: ExternalInvoice, expected: Decimal) -> ObligationSchedule:
    counterparty = await _counterparty_for_invoice(ctx, invoice)
    currency = normalize_currency(invoice.currency)
    due = _due_date(invoice, ctx.today)
    rate_date = min(invoice.issue_date or due, ctx.today)
    await ensure_rate(ctx, currency, invoice.currency_rate, rate_date)
    spec = RecurrenceSpec(Frequency.ONCE, start_date=due)
    what = "Invoice" if invoice.kind == "receivable" else "Bill"
    description = f"{what} {invoice.number or ''} {counterparty.name}".replace("  ", " ")
    key = f"xero:{invoice.external_id}"
    if isinstance(counterparty, Client):
        agreement = await ctx.obligations.create_obligation_from_client(
            counterparty, spec, amount=expected, currency=currency, source=SOURCE, description=description, import_key=key
        )
    else:
        agreement = await ctx.obligations.create_obligation_from_expense(
            counterparty, spec, amount=expected, currency=currency, source=SOURCE, description=description, import_key=key
        )
    schedule = (
        await ctx.db.execute(select(ObligationSchedule).where(ObligationSchedule.obligation_id == agreement.id))
    ).scalars().first()
    if schedule is None:  # due beyond the rolling horizon: the invoice is still owed
        schedule = ObligationSchedule(
            obligation_id=agreement.id, user_id=ctx.account.id, direction=agreement.direction, rule_date=due,
            due_date=due, estimated_amount=agreement.base_amount, currency=agreement.currency,
            base_currency_amount=agreement.base_currency_amount, exchange_rate_used=agreement.exchange_rate_used,
            exchange_rate_date=agreement.exchange_rate_date, created_at=ctx.now, updated_at=ctx.now,
        )
        ctx.db.add(schedule)
    # Xero's schedule: never regenerated by Tamio's recurrence, numbered as in Xero, at Xero's rate.
    schedule.source = SOURCE
    schedule.invoice_number = invoice.number
    rate = xero_rate_to_base(currency, ctx.account.base_currency, invoice.currency_rate)
    if rate is not None:
        _convert_with(agreement, expected, rate, ctx.account.base_currency, invoice.issue_date or rate_date)
        _convert_with(schedule, expected, rate, ctx.account.base_currency, invoice.issue_date or rate_date)
    _set_status(ctx, schedule, invoice.status, invoice.updated_at.date())
    await ctx.db.flush()
    return schedule


async def _update_invoice(ctx: PageContext, invoice: ExternalInvoice, schedule: ObligationSchedule, expected: Decimal) -> str:
    agreement = await ctx.db.get(ObligationAgreement, schedule.obligation_id)
    if agreement is None:
        raise TamioError("The obligation of this invoice was deleted in Tamio.")
    if invoice.status in ("voided", "deleted"):
        changed = agreement.status != AgreementStatus.CANCELLED
        await ctx.obligations.cancel_agreement(agreement)  # also its future schedules
        changed = _set_status(ctx, schedule, invoice.status, ctx.today) or changed
        if changed:
            await ctx.counterparties.audit.log_update("obligation_schedule", schedule.id, {"status": ("open", "cancelled")})
        return "cancelled" if changed else ""
    currency = normalize_currency(invoice.currency)
    due = _due_date(invoice, ctx.today)
    before = (schedule.due_date, schedule.estimated_amount, schedule.currency, schedule.status)
    if expected > 0 and (expected != schedule.estimated_amount or currency != schedule.currency or due != schedule.due_date):
        await ensure_rate(ctx, currency, invoice.currency_rate, min(invoice.issue_date or due, ctx.today))
        # The schedule first, so regenerating the agreement finds its one date already there.
        schedule.rule_date = schedule.due_date = due
        schedule.estimated_amount = expected
        schedule.currency = currency
        await ctx.db.flush()
        await ctx.obligations.update_agreement(
            agreement, amount=expected, currency=currency, spec=RecurrenceSpec(Frequency.ONCE, start_date=due)
        )
        rate = xero_rate_to_base(currency, ctx.account.base_currency, invoice.currency_rate)
        if rate is not None:
            _convert_with(agreement, expected, rate, ctx.account.base_currency, invoice.issue_date or due)
        else:
            rate = agreement.exchange_rate_used or Decimal(1)
        _convert_with(schedule, expected, rate, ctx.account.base_currency, agreement.exchange_rate_date or due)
    schedule.invoice_number = invoice.number
    _set_status(ctx, schedule, invoice.status, invoice.updated_at.date())
    after = (schedule.due_date, schedule.estimated_amount, schedule.currency, schedule.status)
    if before == after:
        return ""
    await ctx.db.flush()
    changes = {name: (old, new) for name, old, new in zip(("due_date", "amount", "currency", "status"), before, after, strict=True) if old != new}
    await ctx.counterparties.audit.log_update("obligation_schedule", schedule.id, changes)
    return "settled" if schedule.status == ScheduleStatus.PAID and before[3] != ScheduleStatus.PAID else "updated"


# -- payments -------------------------------------------------------------------------------------


async def _primary_cash_account(ctx: PageContext) -> CashAccount | None:
    rows = (
        await ctx.db.execute(
            select(CashAccount)
            .where(CashAccount.user_id == ctx.account.id, CashAccount.account_type != CashAccountType.CREDIT_LINE)
            .order_by(CashAccount.is_primary.desc(), CashAccount.created_at, CashAccount.id)
            .limit(1)
        )
    ).scalars().first()
    return rows


async def apply_payments(ctx: PageContext, payments: Sequence[ExternalPayment]) -> None:
    found = await ctx.mappings.find_many([p.external_id for p in payments], "payment", entity_type="payment_event")
    invoice_ids = [p.invoice_external_id for p in payments if p.invoice_external_id]
    invoices = await ctx.mappings.find_many(invoice_ids, "invoice", entity_type="obligation_schedule")
    cash = await _primary_cash_account(ctx)
    for payment in payments:
        mapping = found.get(payment.external_id)
        if mapping is not None:
            if payment.status == "deleted" and mapping.details.get("status") != "deleted":
                async with ctx.db.begin_nested():
                    await _reverse(ctx, mapping.entity_id, invoices.get(payment.invoice_external_id or ""))
                    await ctx.mappings.link(
                        "payment_event", mapping.entity_id, external_id=payment.external_id, external_type="payment",
                        details={"updated_at": payment.updated_at.isoformat(), "status": payment.status},
                    )
                ctx.tally.counts["payments reversed"] += 1
            continue  # a Xero payment is recorded once; only deleting it changes it
        invoice = invoices.get(payment.invoice_external_id or "")
        if payment.status == "deleted" or invoice is None:
            continue  # a credit note's or overpayment's, or an invoice Tamio does not count
        try:
            async with ctx.db.begin_nested():
                schedule = await ctx.db.get(ObligationSchedule, invoice.entity_id)
                if schedule is None or schedule.status == ScheduleStatus.CANCELLED:
                    continue
                currency = normalize_currency(payment.currency or schedule.currency)
                await ensure_rate(ctx, currency, payment.currency_rate, payment.date)
                moves_balance = bool(cash and cash.balance_as_of and payment.date > cash.balance_as_of.date())
                outcome = await record_payment(
                    ctx.db, account=ctx.account, amount=payment.amount, currency=currency, payment_date=payment.date,
                    schedule=schedule, reference=invoice.details.get("number"), source=SOURCE,
                    cash_account=cash if moves_balance else None, adjust_balance=moves_balance, actor=SOURCE,
                    now=ctx.now, details={"xero_payment_id": payment.external_id},
                )
                # A bill settled partly by a credit note is PAID in Xero although the payments fall short.
                _set_status(ctx, schedule, str(invoice.details.get("status") or "authorised"), payment.date)
                await ctx.mappings.link(
                    "payment_event", outcome.payment.id, external_id=payment.external_id, external_type="payment",
                    details={"updated_at": payment.updated_at.isoformat(), "status": payment.status},
                )
                ctx.tally.counts["payments recorded"] += 1
        except TamioError as exc:
            ctx.tally.errors.append(f"Xero payment {payment.external_id}: {exc}")


async def _reverse(ctx: PageContext, payment_id: str, invoice: IntegrationMapping | None) -> None:
    """Undo a payment deleted in Xero: its schedule's paid amount and the cash it moved."""
    payment = await ctx.db.get(PaymentEvent, payment_id)
    if payment is None or payment.status == PaymentStatus.REVERSED:
        return
    payment.status = PaymentStatus.REVERSED
    schedule = await ctx.db.get(ObligationSchedule, payment.schedule_id) if payment.schedule_id else None
    base = ctx.account.base_currency
    if schedule is not None:
        paid = payment.amount if payment.currency == schedule.currency else quantize(
            (payment.base_currency_amount or Decimal(0)) / (schedule.exchange_rate_used or Decimal(1)), schedule.currency
        )
        schedule.paid_amount = max(Decimal(0), schedule.paid_amount - paid)
        schedule.paid_base_amount = max(
            Decimal(0), schedule.paid_base_amount - quantize(paid * (schedule.exchange_rate_used or Decimal(1)), base)
        )
        if schedule.paid_amount == 0:
            schedule.paid_at = None
        status: InvoiceStatus = "paid" if invoice is not None and invoice.details.get("status") == "paid" else "authorised"
        _set_status(ctx, schedule, status, payment.payment_date)
    if payment.cash_account_id:
        cash = await ctx.db.get(CashAccount, payment.cash_account_id)
        if cash is not None:
            book = await RateBook.load(ctx.db, {payment.currency, cash.currency, base}, payment.payment_date)
            moved = book.convert(payment.amount, payment.currency, cash.currency, payment.payment_date).amount
            old = cash.balance
            cash.balance = cash.balance - moved if payment.direction.value == "inflow" else cash.balance + moved
            converted = book.convert(cash.balance, cash.currency, base, payment.payment_date)
            cash.base_currency_amount = converted.amount
            await ctx.counterparties.audit.log_update("cash_account", cash.id, {"balance": (old, cash.balance)})
    await ctx.db.flush()
    await ctx.counterparties.audit.log_update("payment_event", payment.id, {"status": ("completed", "reversed")})

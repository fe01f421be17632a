"""The one function that adds an obligation: every edge (Slack, the add form, the CLI, the REST API) calls it.

It finds the counterparty by name or creates it (a client for ``client``; an expense bucket of
category operating, payroll or tax otherwise), adds the billing line with its agreement and
schedules, sets the contact email when one is given, and for an invoice puts its number on the
schedule (what ``/tamio paid ... for INV-1042`` matches). All in the caller's transaction; the
rules are ``AddObligation``'s, held again here to today's date. The same amount and frequency
already there is refused before anything is written (``DuplicateObligation``, a 409) unless the
input says ``allow_duplicate``: each edge asks the person and sends it again allowed.

    added = await add_obligation(db, account=account, settings=settings, today=today, now=now, actor="U123",
                                 obligation=AddObligation.read({...}, today=today))
    added.counterparty.name, added.created, added.first_due, added.overdue   # ('Acme', True, date(2026, 11, 20), 'already 16 days overdue')
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account
from tamio.config import Settings
from tamio.data.models import Client, ExpenseBucket, ExpenseCategory
from tamio.errors import Conflict
from tamio.money import quantize
from tamio.obligations.adding import AddObligation, overdue_note
from tamio.obligations.counterparties import BillingLine, CounterpartyService, find_client, find_expense
from tamio.obligations.duplicates import check_duplicate
from tamio.obligations.models import ObligationAgreement, ObligationSchedule, ObligationType, ScheduleStatus

OBLIGATION_TYPES: Final = {"client": ObligationType.REVENUE, "expense": ObligationType.EXPENSE,
                           "payroll": ObligationType.PAYROLL, "tax": ObligationType.TAX}
CATEGORIES: Final = {"expense": ExpenseCategory.OPERATING, "payroll": ExpenseCategory.PAYROLL, "tax": ExpenseCategory.TAX}


@dataclass(frozen=True)
class AddedObligation:
    obligation: AddObligation
    counterparty: Client | ExpenseBucket
    agreement: ObligationAgreement | None  # None when the obligation system is off
    created: bool  # the counterparty is new
    first_due: date | None
    overdue: str  # "already 16 days overdue", or "" when the first date is today or later
    arrears: int  # schedules already past due when added (an overdue invoice, or a past start's arrears)

    @property
    def converted_from(self) -> Any:
        """What holds the conversion to show: the new counterparty, or the added agreement."""
        return self.counterparty if self.created or self.agreement is None else self.agreement


async def add_obligation(
    db: AsyncSession, *, account: Account, settings: Settings, today: date, now: datetime, actor: str,
    obligation: AddObligation, source: str = "manual",
) -> AddedObligation:
    obligation = obligation.checked(today)
    await check_duplicate(db, account_id=account.id, kind=obligation.kind, name=obligation.name,
                          amount=quantize(obligation.amount, obligation.currency), currency=obligation.currency,
                          frequency=obligation.recurrence.frequency, invoice=obligation.invoice, allow=obligation.allow_duplicate)
    service = CounterpartyService(db, account=account, settings=settings, today=today, actor=actor, now=now)
    line = BillingLine(obligation.amount, obligation.currency, obligation.recurrence, OBLIGATION_TYPES[obligation.kind])
    contact = {"contact_email": obligation.contact_email} if obligation.contact_email else {}
    is_client = obligation.kind == "client"
    existing: Client | ExpenseBucket | None = (
        await find_client(db, account_id=account.id, name=obligation.name) if is_client
        else await find_expense(db, account_id=account.id, name=obligation.name)
    )
    if existing is not None and obligation.invoice is not None:
        await _refuse_known_invoice(db, existing, obligation.invoice)
    agreement: ObligationAgreement | None
    if existing is None:
        if is_client:
            counterparty: Client | ExpenseBucket = await service.create_client(name=obligation.name, billing=line, source=source, **contact)
        else:
            counterparty = await service.create_expense(name=obligation.name, billing=line, category=CATEGORIES[obligation.kind],
                                                        source=source, **contact)
        agreement = await _last_agreement(db, counterparty)
    else:
        counterparty = existing
        if obligation.contact_email:
            await service.set_contact(counterparty, email=obligation.contact_email)
        agreement = await service.add_billing_line(counterparty, line)
    schedules = await _schedules(db, agreement)
    if obligation.invoice is not None:
        for schedule in schedules:
            schedule.invoice_number = obligation.invoice
        await db.flush()
    first = obligation.recurrence.recurrence().first_occurrence()
    first_due = first.due_date if first else None
    return AddedObligation(
        obligation=obligation, counterparty=counterparty, agreement=agreement, created=existing is None, first_due=first_due,
        overdue=overdue_note(first_due, today=today) if first_due else "",
        arrears=sum(1 for s in schedules if s.status == ScheduleStatus.OVERDUE),
    )


async def _last_agreement(db: AsyncSession, counterparty: Client | ExpenseBucket) -> ObligationAgreement | None:
    lines = (counterparty.billing_config or {}).get("lines", [])
    agreement_id = lines[-1].get("agreement_id") if lines else None
    return await db.get(ObligationAgreement, agreement_id) if agreement_id else None


async def _schedules(db: AsyncSession, agreement: ObligationAgreement | None) -> list[ObligationSchedule]:
    if agreement is None:
        return []
    found = await db.execute(select(ObligationSchedule).where(ObligationSchedule.obligation_id == agreement.id)
                             .order_by(ObligationSchedule.due_date))
    return list(found.scalars())


async def _refuse_known_invoice(db: AsyncSession, counterparty: Client | ExpenseBucket, invoice: str) -> None:
    column = ObligationAgreement.client_id if isinstance(counterparty, Client) else ObligationAgreement.expense_bucket_id
    found = await db.execute(
        select(ObligationSchedule.due_date).join(ObligationAgreement, ObligationAgreement.id == ObligationSchedule.obligation_id)
        .where(column == counterparty.id, ObligationSchedule.invoice_number == invoice).limit(1))
    due = found.scalar_one_or_none()
    if due is not None:
        raise known_invoice(counterparty.name, invoice, f"due {due.isoformat()}")


def known_invoice(name: str, invoice: str, where: str) -> Conflict:
    """The refusal of an invoice number the client or vendor already has (``where``: its due date, or a file's line)."""
    return Conflict(f"{name} already has invoice {invoice} ({where}); nothing was added.",
                    hint="Record a payment against it with `paid`, or give the new invoice its own number.")

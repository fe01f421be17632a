"""Import parsed obligation rows (``csv_format``) into an account, idempotently.

Each row finds or creates its counterparty (a client for revenue; an expense bucket of category
expense, payroll or tax otherwise) and adds a billing line with the row's ``import_key``; a row
whose key is already there is skipped, so importing the same file twice changes nothing. A row's
optional ``flexibility`` is set on its vendor (with an audit row) whether the row is new or already
there, so adding that column to a file imported before fills it in; so are the optional ``email`` and
``contact_name``, on the client or vendor (an integration that owns them refuses, naming the line).
The caller's transaction makes it all-or-nothing: an error names the row's line and nothing stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account
from tamio.config import Settings
from tamio.data.models import Client, ExpenseBucket, ExpenseCategory, FlexibilityLevel
from tamio.errors import LockedField, MissingExchangeRate, TamioError
from tamio.obligations.counterparties import BillingLine, CounterpartyService, find_client, find_expense
from tamio.obligations.csv_format import ObligationRow
from tamio.obligations.models import ObligationAgreement, ObligationType
from tamio.obligations.schemas import RecurrenceSpec

KIND_TO_TYPE = {
    "revenue": ObligationType.REVENUE,
    "expense": ObligationType.EXPENSE,
    "payroll": ObligationType.PAYROLL,
    "tax": ObligationType.TAX,
}
KIND_TO_CATEGORY = {"expense": ExpenseCategory.OPERATING, "payroll": ExpenseCategory.PAYROLL, "tax": ExpenseCategory.TAX}


@dataclass(frozen=True)
class ImportResult:
    created: int
    skipped: int
    new_counterparties: int
    flexibility_set: int = 0  # vendors already there whose flexibility the file changed
    contacts_set: int = 0  # clients and vendors already there whose email or contact name the file changed


def spec_for(row: ObligationRow) -> RecurrenceSpec:
    from tamio.obligations.recurrence import Frequency

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


async def _known_keys(db: AsyncSession, account_id: str) -> set[str]:
    keys = set(
        (await db.execute(select(ObligationAgreement.import_key).where(ObligationAgreement.user_id == account_id, ObligationAgreement.import_key.is_not(None)))).scalars()
    )
    for model in (Client, ExpenseBucket):
        for config in (await db.execute(select(model.billing_config).where(model.user_id == account_id))).scalars():
            keys.update(line["import_key"] for line in (config or {}).get("lines", []) if line.get("import_key"))
    return {k for k in keys if k}


async def import_obligations(
    db: AsyncSession, *, account: Account, settings: Settings, rows: list[ObligationRow], today: date, now: datetime, actor: str = "import"
) -> ImportResult:
    service = CounterpartyService(db, account=account, settings=settings, today=today, actor=actor, now=now)
    known = await _known_keys(db, account.id)
    created = skipped = new_counterparties = flexibility_set = 0
    contacts_set: set[str] = set()
    for row in rows:
        key = row.import_key
        contact: dict[str, Any] = {k: v for k, v in (("contact_email", row.email), ("contact_name", row.contact_name)) if v is not None}
        try:
            flexibility = FlexibilityLevel(row.flexibility) if row.flexibility else None
            if key in known:
                skipped += 1
                there: Client | ExpenseBucket | None = (
                    await find_client(db, account_id=account.id, name=row.counterparty) if row.is_client
                    else await find_expense(db, account_id=account.id, name=row.counterparty)
                )
                if isinstance(there, ExpenseBucket) and flexibility is not None and there.flexibility_level != flexibility:
                    await service.update_expense(there, flexibility_level=flexibility)
                    flexibility_set += 1
                if there is not None and await _set_contact(service, there, row):
                    contacts_set.add(there.id)
                continue
            counterparty: Client | ExpenseBucket | None
            if row.kind == "revenue":
                counterparty = await find_client(db, account_id=account.id, name=row.counterparty)
                if counterparty is None:
                    counterparty = await service.create_client(name=row.counterparty, source="csv", **contact)
                    new_counterparties += 1
                elif await _set_contact(service, counterparty, row):
                    contacts_set.add(counterparty.id)
            else:
                counterparty = await find_expense(db, account_id=account.id, name=row.counterparty)
                if counterparty is None:
                    extra: dict[str, Any] = {"flexibility_level": flexibility} if flexibility is not None else {}
                    counterparty = await service.create_expense(
                        name=row.counterparty, category=KIND_TO_CATEGORY[row.kind], source="csv", **extra, **contact
                    )
                    new_counterparties += 1
                else:
                    if flexibility is not None and counterparty.flexibility_level != flexibility:
                        await service.update_expense(counterparty, flexibility_level=flexibility)
                        flexibility_set += 1
                    if await _set_contact(service, counterparty, row):
                        contacts_set.add(counterparty.id)
            billing = BillingLine(amount=row.amount, currency=row.currency, recurrence=spec_for(row), obligation_type=KIND_TO_TYPE[row.kind])
            await service.add_billing_line(counterparty, billing, import_key=key)
        except TamioError as exc:
            column = ", column currency" if isinstance(exc, MissingExchangeRate) else ""
            if isinstance(exc, _ContactLocked):
                column = f", column {exc.column}"
            if isinstance(exc, MissingExchangeRate):  # keeps the pair: the edge may fetch the feed and try again
                raise MissingExchangeRate(f"line {row.line}{column}: {exc.message}", hint=exc.hint, currencies=exc.currencies) from exc
            raise TamioError(f"line {row.line}{column}: {exc}") from exc
        known.add(key)
        created += 1
    return ImportResult(
        created=created, skipped=skipped, new_counterparties=new_counterparties, flexibility_set=flexibility_set,
        contacts_set=len(contacts_set),
    )


class _ContactLocked(LockedField):
    def __init__(self, message: str, *, column: str) -> None:
        super().__init__(message)
        self.column = column


async def _set_contact(service: CounterpartyService, entity: Client | ExpenseBucket, row: ObligationRow) -> bool:
    """The row's email and contact name on a counterparty already there; True when that changed it."""
    try:
        return await service.set_contact(entity, email=row.email, contact_name=row.contact_name)
    except LockedField as exc:
        column = "email" if "contact_email" in (entity.locked_fields or []) and row.email is not None else "contact_name"
        raise _ContactLocked(exc.message, column=column) from exc

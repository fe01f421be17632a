"""The row-by-row import (what ``tamio import obligations`` did before it was set-based), and a
snapshot of an account's books to compare the two.

``import_row_by_row`` calls the service functions a person's edits call (``CounterpartyService``:
find, create, update, add a billing line) once per row, the way the import used to: it is the
reference the set-based import must match, row for row, audit row for audit row.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account
from tamio.audit.models import AuditLog
from tamio.audit.verify import verify_chain
from tamio.config import Settings
from tamio.data.models import Client, ExpenseBucket, FlexibilityLevel
from tamio.events.models import CashEvent
from tamio.obligations.counterparties import BillingLine, CounterpartyService, find_client, find_expense
from tamio.obligations.csv_format import ObligationRow
from tamio.obligations.importer import KIND_TO_CATEGORY, KIND_TO_TYPE, spec_for
from tamio.obligations.models import ObligationAgreement, ObligationSchedule
from tamio.obligations.service import horizon_end


async def import_row_by_row(
    db: AsyncSession, *, account: Account, settings: Settings, rows: Iterable[ObligationRow], today: date, now: datetime
) -> None:
    """Each row through the service functions, one at a time (errors are not reworded here). An account's
    first obligations leave it marked as having its schedules through the horizon, as the import marks it."""
    service = CounterpartyService(db, account=account, settings=settings, today=today, actor="import", now=now)
    agreements = list((await db.execute(select(ObligationAgreement.import_key).where(ObligationAgreement.user_id == account.id))).scalars())
    known = {k for k in agreements if k}
    lines = 0
    for model in (Client, ExpenseBucket):
        for config in (await db.execute(select(model.billing_config).where(model.user_id == account.id))).scalars():
            lines += len((config or {}).get("lines", []))
            known.update(line["import_key"] for line in (config or {}).get("lines", []) if line.get("import_key"))
    first = settings.use_obligation_system and account.schedules_through is None and not agreements and not lines
    for row in rows:
        flexibility = FlexibilityLevel(row.flexibility) if row.flexibility else None
        there: Client | ExpenseBucket | None = (
            await find_client(db, account_id=account.id, name=row.counterparty) if row.is_client
            else await find_expense(db, account_id=account.id, name=row.counterparty)
        )
        if row.import_key in known:
            if isinstance(there, ExpenseBucket) and flexibility is not None and there.flexibility_level != flexibility:
                await service.update_expense(there, flexibility_level=flexibility)
            if there is not None:
                await service.set_contact(there, email=row.email, contact_name=row.contact_name)
            continue
        contact: dict[str, Any] = {k: v for k, v in (("contact_email", row.email), ("contact_name", row.contact_name)) if v is not None}
        if there is None and row.is_client:
            there = await service.create_client(name=row.counterparty, source="csv", **contact)
        elif there is None:
            extra: dict[str, Any] = {"flexibility_level": flexibility} if flexibility is not None else {}
            there = await service.create_expense(name=row.counterparty, category=KIND_TO_CATEGORY[row.kind], source="csv", **extra, **contact)
        else:
            if isinstance(there, ExpenseBucket) and flexibility is not None and there.flexibility_level != flexibility:
                await service.update_expense(there, flexibility_level=flexibility)
            await service.set_contact(there, email=row.email, contact_name=row.contact_name)
        billing = BillingLine(amount=row.amount, currency=row.currency, recurrence=spec_for(row), obligation_type=KIND_TO_TYPE[row.kind])
        agreement = await service.add_billing_line(there, billing, import_key=row.import_key)
        if row.invoice is not None and agreement is not None:  # as ``add_obligation`` puts it on the schedule
            found = await db.execute(select(ObligationSchedule).where(ObligationSchedule.obligation_id == agreement.id))
            for schedule in found.scalars():
                schedule.invoice_number = row.invoice
            await db.flush()
        known.add(row.import_key)
    if first and (await db.execute(select(ObligationAgreement.id).where(ObligationAgreement.user_id == account.id).limit(1))).first():
        account.schedules_through = horizon_end(today, settings.schedule_horizon_months)
        await db.flush()


def _plain(value: Any) -> Any:
    return value.value if hasattr(value, "value") and not isinstance(value, (str, int)) else value


async def snapshot(db: AsyncSession, account_id: str) -> dict[str, Any]:
    """An account's counterparties, agreements, schedules, cash events and audit rows, with every
    generated id replaced by what it names (a counterparty's name, an agreement's import key), so
    two accounts that hold the same books compare equal. The audit chain must verify."""
    verified = await verify_chain(db, account_id=account_id)
    assert verified.ok, verified.reason
    label: dict[str, str] = {account_id: "account"}
    parties: dict[str, Any] = {}
    for model, kind in ((Client, "client"), (ExpenseBucket, "expense")):
        for party in (await db.execute(select(model).where(model.user_id == account_id))).scalars():
            label[party.id] = f"{kind}:{party.name}"
    agreements = (await db.execute(select(ObligationAgreement).where(ObligationAgreement.user_id == account_id))).scalars().all()
    for agreement in agreements:
        label[agreement.id] = f"agreement:{agreement.import_key or agreement.description + ':' + agreement.rrule}"
    schedules = (await db.execute(select(ObligationSchedule).where(ObligationSchedule.user_id == account_id))).scalars().all()
    for schedule in schedules:
        label[schedule.id] = f"{label[schedule.obligation_id]}@{schedule.rule_date}"

    def named(value: Any) -> Any:
        if isinstance(value, str):
            for raw, shown in label.items():
                value = value.replace(raw, shown)
            return value
        if isinstance(value, dict):
            return {k: named(v) for k, v in value.items()}
        if isinstance(value, list):
            return [named(v) for v in value]
        return _plain(value)

    skipped = {"id", "user_id", "created_at", "updated_at"}
    for model in (Client, ExpenseBucket):
        for party in (await db.execute(select(model).where(model.user_id == account_id))).scalars():
            parties[label[party.id]] = {c.key: named(getattr(party, c.key)) for c in model.__table__.columns if c.key not in skipped}
    events = (await db.execute(select(CashEvent).where(CashEvent.user_id == account_id))).scalars().all()
    audit = (await db.execute(select(AuditLog).where(AuditLog.user_id == account_id).order_by(AuditLog.seq))).scalars().all()

    def columns(entity: Any, model: Any) -> tuple[Any, ...]:
        return tuple(sorted((c.key, repr(named(getattr(entity, c.key)))) for c in model.__table__.columns if c.key not in skipped))

    account = await db.get(Account, account_id)
    assert account is not None
    return {
        "schedules_through": account.schedules_through,
        "counterparties": parties,
        "agreements": sorted(columns(a, ObligationAgreement) for a in agreements),
        "schedules": sorted(columns(s, ObligationSchedule) for s in schedules),
        "events": sorted(columns(e, CashEvent) for e in events),
        "audit": [(a.seq, a.actor, a.action, a.entity_type, named(a.entity_id), named(a.changes)) for a in audit],
    }

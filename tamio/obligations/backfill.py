"""Backfill what the schedules path of the forecast needs, for an account that did without it.

An account that forecast from billing lines (``USE_OBLIGATION_FOR_FORECAST`` off, or the obligation
system off when its lines were entered) may have billing lines with no ObligationAgreement behind
them, and schedules that stop at an old horizon. Switching the flag on must not show a flat
forecast, so before the schedules path reads an account it makes sure that:

1. every billing line of a client or expense bucket that has not ended has its agreement (created
   through ObligationService as entering the line would have, at today's rate; the line records
   the agreement and the converted amount), and
2. every active agreement has its schedules through the day asked for (at least the rolling
   horizon), which ``Account.schedules_through`` then remembers.

It is idempotent: run again, it creates nothing. ``tamio db backfill-schedules`` runs it for every
account; ``tamio.forecast.service`` runs it on first use (and when a forecast reaches past what was
generated).

    result = await backfill_schedules(db, account=account, settings=settings, today=date(2026, 12, 7), now=now)
    result.agreements_created, result.schedules_changed, result.through
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account
from tamio.config import Settings
from tamio.data.models import Client, CounterpartyStatus, ExpenseBucket
from tamio.obligations.models import AmountType, ObligationAgreement, ObligationType
from tamio.obligations.schemas import RecurrenceSpec
from tamio.obligations.service import ObligationService


@dataclass(frozen=True)
class BackfillResult:
    agreements_created: int
    schedules_changed: int
    through: date


async def lock_account(db: AsyncSession, account_id: str) -> Account | None:
    """The account row, locked until the transaction ends (PostgreSQL; SQLite writers are serial),
    read afresh so that a backfill another process just committed is seen."""
    stmt = select(Account).where(Account.id == account_id).with_for_update().execution_options(populate_existing=True)
    return (await db.execute(stmt)).scalars().first()


async def backfill_schedules(
    db: AsyncSession, *, account: Account, settings: Settings, today: date, now: datetime, through: date | None = None,
    actor: str = "backfill",
) -> BackfillResult:
    """Agreements for billing lines without one, and schedules through ``through`` (at least the horizon)."""
    service = ObligationService(db, account=account, settings=settings, today=today, actor=actor, now=now)
    created = 0
    clients = (await db.execute(select(Client).where(Client.user_id == account.id).order_by(Client.created_at, Client.id))).scalars().all()
    buckets = (
        await db.execute(select(ExpenseBucket).where(ExpenseBucket.user_id == account.id).order_by(ExpenseBucket.created_at, ExpenseBucket.id))
    ).scalars().all()
    entities: list[Client | ExpenseBucket] = [*clients, *buckets]
    for entity in entities:
        created += await _agreements_for_lines(service, entity)
    end = max(through or service.horizon, service.generation_end)
    changed = await service.extend_horizon_to(end)
    account.schedules_through = end
    await db.flush()
    return BackfillResult(agreements_created=created, schedules_changed=changed, through=end)


async def _agreements_for_lines(service: ObligationService, entity: Client | ExpenseBucket) -> int:
    if entity.status == CounterpartyStatus.ENDED:
        return 0  # its lines are no longer expected on either path
    lines: list[dict[str, Any]] = list((entity.billing_config or {}).get("lines", []))
    if all(line.get("agreement_id") for line in lines):
        return 0
    created = 0
    for index, line in enumerate(lines):
        if line.get("agreement_id"):
            continue
        agreement = await _agreement_for(service, entity, line)
        lines[index] = {
            **line, "agreement_id": agreement.id, "origin": agreement.source,
            "base_amount": format(agreement.base_currency_amount or Decimal(0), "f"),
            "rate": format(agreement.exchange_rate_used or Decimal(1), "f"),
        }
        created += 1
    entity.billing_config = {**(entity.billing_config or {}), "lines": lines}
    await service.db.flush()
    return created


async def _agreement_for(service: ObligationService, entity: Client | ExpenseBucket, line: dict[str, Any]) -> ObligationAgreement:
    spec = RecurrenceSpec.from_config(line["recurrence"])
    amount, currency = Decimal(str(line["amount"])), str(line["currency"])
    amount_type = AmountType(line.get("amount_type") or AmountType.FIXED.value)
    source = str(line.get("origin") or entity.source)
    if isinstance(entity, Client):
        return await service.create_obligation_from_client(
            entity, spec, amount=amount, currency=currency, amount_type=amount_type, import_key=line.get("import_key"), source=source,
        )
    return await service.create_obligation_from_expense(
        entity, spec, amount=amount, currency=currency, obligation_type=ObligationType(line["obligation_type"]),
        amount_type=amount_type, import_key=line.get("import_key"), source=source,
    )

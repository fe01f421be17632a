"""Learning how clients pay from the ledger, and keeping what was learned on the client.

``relearn`` reads the account's receivables settled in the last ``HISTORY`` (one per invoice paid in
full: the day of the payment that completed it against its due date, or, with no payment recorded,
the day it was marked paid) and the receivables still open and overdue, whatever was paid on them
(a part payment says nothing yet of how late the invoice will be settled: the invoice is at least
that late), learns with ``tamio.obligations.habits`` and stores the result: each client's on
``Client.payment_behaviour`` (with its words on ``payment_habit``, which cards show, and
``avg_payment_delay_days``, the mean days late, which detection and preparation read as the
client's usual delay) and the account's typical behaviour on
``Account.payment_behaviour``. The forecast reads them as they are, without learning again.

It runs for the whole account in the 6 AM job and, for the one client who paid, after every
payment (``record_payment``): then as of the payment's date (or the account's last learning, if
later), against the account's stored typical behaviour, so a payment costs one client's history,
not the account's. Changes to the usual delay go to the audit trail.

    changes = await relearn(db, account_id=account.id, as_of=date(2026, 12, 7), now=now)
    changes = await relearn(db, account_id=account.id, as_of=date(2026, 12, 7), now=now, client_ids=[acme.id])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account
from tamio.audit.service import AuditService
from tamio.data.models import Client
from tamio.obligations.habits import Habits, Observation, OpenReceivable, PaymentBehaviour, learn_habits
from tamio.obligations.models import (
    OPEN_SCHEDULE_STATUSES,
    Direction,
    ObligationSchedule,
    PaymentEvent,
    PaymentStatus,
    ScheduleStatus,
)

HISTORY = timedelta(days=730)


@dataclass(frozen=True)
class DelayChange:
    client_id: str
    client_name: str
    before: int
    after: int


async def ledger_history(
    db: AsyncSession, *, account_id: str, as_of: date, client_ids: Sequence[str] | None = None,
) -> tuple[list[Observation], list[OpenReceivable]]:
    """The receivables settled from ``HISTORY`` before ``as_of`` (one observation each), and what is open and overdue."""
    os_, pe = ObligationSchedule, PaymentEvent
    # A paid schedule's lateness is its last completed payment's: the one that settled it. Its payments
    # in the window have that one as their latest whenever it is in the window (none are otherwise).
    paid = (
        select(os_.client_id, func.max(pe.client_id), func.max(pe.payment_date), os_.due_date)
        .join(os_, os_.id == pe.schedule_id)
        .where(
            pe.user_id == account_id, pe.direction == Direction.INFLOW, pe.status == PaymentStatus.COMPLETED,
            pe.payment_date >= as_of - HISTORY, os_.status == ScheduleStatus.PAID,
        )
        .group_by(os_.id, os_.client_id, os_.due_date)
    )
    # A schedule marked paid with no payment recorded against it (an import, a correction) is one too.
    settled = select(os_.client_id, os_.paid_at, os_.due_date).where(
        os_.user_id == account_id, os_.direction == Direction.INFLOW, os_.status == ScheduleStatus.PAID, os_.paid_at.is_not(None),
        os_.paid_at >= as_of - HISTORY, ~exists().where(pe.schedule_id == os_.id),
    )
    still_open = select(os_.client_id, os_.due_date, os_.estimated_amount, os_.paid_amount).where(
        os_.user_id == account_id, os_.direction == Direction.INFLOW, os_.status.in_(OPEN_SCHEDULE_STATUSES), os_.due_date < as_of,
    )
    if client_ids is not None:
        paid = paid.where(os_.client_id.in_(list(client_ids)))
        settled = settled.where(os_.client_id.in_(list(client_ids)))
        still_open = still_open.where(os_.client_id.in_(list(client_ids)))
    observations = [
        Observation(client_id=schedule_client or payment_client, days_late=(paid_on - due).days, paid_on=paid_on)
        for schedule_client, payment_client, paid_on, due in await db.execute(paid)
    ] + [
        Observation(client_id=client_id, days_late=(paid_on - due).days, paid_on=paid_on)
        for client_id, paid_on, due in await db.execute(settled)
        if paid_on is not None
    ]
    open_receivables = [
        OpenReceivable(client_id=client_id, days_open=(as_of - due).days)
        for client_id, due, expected, got in await db.execute(still_open)
        if expected > got
    ]
    return observations, open_receivables


async def relearn(
    db: AsyncSession, *, account_id: str, as_of: date, now: datetime, client_ids: Sequence[str] | None = None,
    actor: str = "system",
) -> list[DelayChange]:
    """Learn and store how the account's clients pay (only ``client_ids`` when given); what changed."""
    account = await db.get(Account, account_id)
    if account is None:
        return []
    if client_ids is not None and account.payment_behaviour is None:
        client_ids = None  # nothing learned for the account yet: learn it whole, once
    typical = PaymentBehaviour.from_json(account.payment_behaviour) if client_ids is not None and account.payment_behaviour else None
    if typical is not None and typical.learned_on is not None:
        as_of = max(as_of, typical.learned_on)  # a payment dated back is learned as of the account's last learning
    observations, open_receivables = await ledger_history(db, account_id=account_id, as_of=as_of, client_ids=client_ids)
    habits = learn_habits(observations, open_receivables, as_of=as_of, account=typical)
    if client_ids is None:
        account.payment_behaviour = habits.account.to_json() if habits.clients or observations else None
    return await _store(db, account_id=account_id, habits=habits, client_ids=client_ids, now=now, actor=actor)


async def _store(
    db: AsyncSession, *, account_id: str, habits: Habits, client_ids: Sequence[str] | None, now: datetime, actor: str,
) -> list[DelayChange]:
    stmt = select(Client).where(Client.user_id == account_id)
    if client_ids is not None:
        stmt = stmt.where(Client.id.in_(list(client_ids)))
    audit = AuditService(db, account_id, actor=actor, clock=lambda: now)
    changes: list[DelayChange] = []
    for client in (await db.execute(stmt.order_by(Client.id))).scalars():
        learned = habits.clients.get(client.id)
        if learned is None:
            if client.payment_behaviour is not None:
                client.payment_behaviour, client.payment_habit = None, None  # its payments aged out of the history
            continue
        client.payment_behaviour = learned.to_json()
        client.payment_habit = learned.describe()[:200]
        after = max(0, round(learned.mean))
        if client.avg_payment_delay_days != after:
            changes.append(DelayChange(client.id, client.name, client.avg_payment_delay_days, after))
            await audit.log_update("client", client.id, {"avg_payment_delay_days": (client.avg_payment_delay_days, after)})
            client.avg_payment_delay_days = after
    await db.flush()
    return changes

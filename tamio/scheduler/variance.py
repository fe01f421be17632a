"""Historical variance analysis, the daily job: how late each client usually pays, learned again.

A client's usual delay (``avg_payment_delay_days``) moves its expected receipts in the forecast and
feeds late-payment detection. Recording a payment refreshes it for that one client; this job
refreshes every client of an account from its paid schedules once a day, so corrections, imports
and deleted payments are reflected too. Each change is written to the audit trail.

``usual_delays`` is the pure part: the mean days late (early counts as 0) of each client's most
recent ``DELAY_SAMPLE`` paid schedules, rounded.

    changes = await refresh_payment_habits(db, account_id=account.id, today=date(2026, 12, 7), now=now)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.audit.service import AuditService
from tamio.data.models import Client
from tamio.obligations.models import Direction, ObligationSchedule, ScheduleStatus
from tamio.obligations.payments import DELAY_SAMPLE

HISTORY = timedelta(days=730)


@dataclass(frozen=True)
class PaidOnDate:
    client_id: str
    due_date: date
    paid_at: date


@dataclass(frozen=True)
class DelayChange:
    client_id: str
    client_name: str
    before: int
    after: int


def usual_delays(paid: Iterable[PaidOnDate], *, sample: int = DELAY_SAMPLE) -> dict[str, int]:
    """Each client's mean days late over its latest ``sample`` payments (paying early counts as 0)."""
    by_client: dict[str, list[PaidOnDate]] = defaultdict(list)
    for row in paid:
        by_client[row.client_id].append(row)
    delays: dict[str, int] = {}
    for client_id, rows in by_client.items():
        latest = sorted(rows, key=lambda r: (r.paid_at, r.due_date), reverse=True)[:sample]
        late = [max(0, (r.paid_at - r.due_date).days) for r in latest]
        delays[client_id] = round(sum(late) / len(late))
    return delays


async def refresh_payment_habits(db: AsyncSession, *, account_id: str, today: date, now: datetime) -> list[DelayChange]:
    """Recompute every client's usual delay from paid schedules (two queries); returns what changed."""
    rows = await db.execute(
        select(ObligationSchedule.client_id, ObligationSchedule.due_date, ObligationSchedule.paid_at).where(
            ObligationSchedule.user_id == account_id,
            ObligationSchedule.direction == Direction.INFLOW,
            ObligationSchedule.status == ScheduleStatus.PAID,
            ObligationSchedule.client_id.is_not(None),
            ObligationSchedule.paid_at.is_not(None),
            ObligationSchedule.paid_at >= today - HISTORY,
        )
    )
    paid = [PaidOnDate(str(client_id), due, paid_at) for client_id, due, paid_at in rows if paid_at is not None]
    delays = usual_delays(paid)
    if not delays:
        return []
    clients = (await db.execute(select(Client).where(Client.user_id == account_id, Client.id.in_(list(delays))))).scalars()
    audit = AuditService(db, account_id, actor="scheduler", clock=lambda: now)
    changes: list[DelayChange] = []
    for client in clients:
        after = delays[client.id]
        if client.avg_payment_delay_days == after:
            continue
        changes.append(DelayChange(client.id, client.name, client.avg_payment_delay_days, after))
        await audit.log_update("client", client.id, {"avg_payment_delay_days": (client.avg_payment_delay_days, after)})
        client.avg_payment_delay_days = after
    await db.flush()
    return changes

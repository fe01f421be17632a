"""Historical variance analysis, the daily job: how each client pays, learned again for the account.

Recording a payment relearns the client who paid (``tamio.obligations.payments``); this job relearns
every client of the account and its typical behaviour once a day (``tamio.obligations.habits_store``),
so time passing (recency weights, receivables getting later), corrections, imports and deleted
payments are reflected too. Changes to a client's usual delay are written to the audit trail.

    changes = await refresh_payment_habits(db, account_id=account.id, today=date(2026, 12, 7), now=now)
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tamio.obligations.habits_store import DelayChange, relearn

__all__ = ["DelayChange", "refresh_payment_habits"]


async def refresh_payment_habits(db: AsyncSession, *, account_id: str, today: date, now: datetime) -> list[DelayChange]:
    """Relearn how every client of the account pays; returns the usual delays that changed."""
    return await relearn(db, account_id=account_id, as_of=today, now=now, actor="scheduler")

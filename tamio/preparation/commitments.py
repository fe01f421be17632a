"""What earlier decisions committed, for preparing the next ones.

- The last chase of each invoice: an executed action whose chosen option (or a step of its plan)
  sent a collection email for a receivable schedule. No new chase is proposed for it within the
  account's ``chase_cooloff_days``; the late payer's card says when it was last chased.
- Credit drawn by actions approved but not yet carried out: it already uses the line's available
  amount, so no second draw is proposed beyond what is left.

    committed, chases = await load_commitments(db, [account.id], zones={account.id: "UTC"}, today={account.id: today})
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.preparation.models import ActionOption, ActionStatus, PreparedAction

ZERO = Decimal(0)


@dataclass(frozen=True)
class ChaseInfo:
    """The last chase email sent for one invoice (a receivable schedule)."""

    schedule_id: str
    on: date
    tone: str | None

    def describe(self) -> str:
        """``3 Dec (firm reminder)``."""
        return f"{self.on.day} {self.on:%b}" + (f" ({self.tone} reminder)" if self.tone else "")


CHASE_MEMORY = timedelta(days=120)  # how far back the last chase of an invoice is looked for


async def load_commitments(
    db: AsyncSession, ids: list[str], *, zones: Mapping[str, str], today: Mapping[str, date]
) -> tuple[dict[str, Decimal], dict[str, dict[str, ChaseInfo]]]:
    """Credit drawn by approved actions not yet carried out (cash account id -> amount), and the last
    chase of each invoice (account id -> schedule id -> chase), from the decided actions' chosen options."""
    pa, ao = PreparedAction, ActionOption
    oldest = min(today.values()) - CHASE_MEMORY
    rows = await db.execute(
        select(pa.user_id, pa.status, pa.executed_at, ao.kind, ao.params, ao.draft_tone, ao.amount)
        .join(ao, ao.id == pa.chosen_option_id)
        .where(
            pa.user_id.in_(ids),
            or_(
                pa.status.in_([ActionStatus.APPROVED, ActionStatus.EXECUTING]),
                and_(pa.status == ActionStatus.EXECUTED, pa.executed_at >= datetime.combine(oldest, time(), UTC)),
            ),
        )
    )
    committed: dict[str, Decimal] = {}
    chases: dict[str, dict[str, ChaseInfo]] = {i: {} for i in ids}
    for user_id, status, executed_at, kind, params, tone, amount in rows:
        steps = [{"kind": kind, **(params or {}), "tone": tone, "amount": amount}] + list((params or {}).get("steps") or [])
        if status == ActionStatus.EXECUTED:
            on = executed_at.astimezone(ZoneInfo(zones[user_id])).date()
            for step in steps:
                schedule_id = step.get("schedule_id")
                if step.get("kind") != "send_email" or not schedule_id:
                    continue
                seen = chases[user_id].get(str(schedule_id))
                if seen is None or seen.on <= on:
                    step_tone = step.get("tone") or _tone_of(str(step.get("template") or ""))
                    chases[user_id][str(schedule_id)] = ChaseInfo(str(schedule_id), on, step_tone)
            continue
        for step in steps:
            if step.get("kind") == "credit_draw" and step.get("cash_account_id"):
                drawn = Decimal(str(step.get("amount") if step.get("amount") is not None else "0"))
                committed[str(step["cash_account_id"])] = committed.get(str(step["cash_account_id"]), ZERO) + drawn
    return committed, chases


def _tone_of(template: str) -> str | None:
    tone = template.removeprefix("collection_")
    return tone if tone in ("soft", "professional", "firm") else None

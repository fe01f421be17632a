"""Generating an agreement's schedules: the dated rows its recurrence rule says are expected.

Split from ``tamio.obligations.service`` because this is one job with its own rules, run by
every edge that changes agreements (creating, updating, importing, the daily horizon extension):
which occurrences fall in the window, which future unpaid generated rows are replaced, moved or
dropped (a delayed payment keeps its agreed date), and writing the new rows in a fixed number of
queries. ``ObligationService.generate_many`` is the way in; it passes its account's dates.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.bulk import copy_rows
from tamio.db import new_id
from tamio.obligations.models import AgreementStatus, ObligationSchedule, Scheduled, ScheduleStatus
from tamio.obligations.schemas import RecurrenceSpec


def window_start_of(agreement: Scheduled, *, today: date, arrears: bool = False) -> date:
    # A one-off keeps its date even when past (an invoice already overdue); so does a new
    # agreement (``arrears``): what fell due between its start and today is owed, overdue.
    # Later refreshes start at today: the past is then what was paid, not what is expected.
    # (No rule date precedes the start, so today is the window even for a future start; a
    # business-day adjustment may move the first due date before the start itself.)
    if arrears or agreement.frequency.value == "once":
        return min(agreement.start_date, today)
    return today


async def generate(
    db: AsyncSession, agreements: Sequence[Scheduled], *, today: date, now: datetime, end: date, new: bool = False,
    inserted: list[dict[str, Any]] | None = None, arrears: bool = False,
) -> int:
    """Generate or refresh the schedules of ``agreements`` up to ``end`` (``ObligationService.generate_many``
    says what ``new``, ``inserted`` and ``arrears`` mean); returns rows changed, inserted and deleted."""
    ids = [] if new else [a.id for a in agreements]
    existing: dict[str, dict[date, ObligationSchedule]] = {a.id: {} for a in agreements}
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start : chunk_start + 500]
        rows = (
            await db.execute(select(ObligationSchedule).where(ObligationSchedule.obligation_id.in_(chunk)))
        ).scalars().all()
        for schedule in rows:
            existing[schedule.obligation_id][schedule.rule_date] = schedule
    new_rows: list[dict[str, Any]] = []
    stale: list[str] = []
    changed = 0
    for agreement in agreements:
        have = existing[agreement.id]
        if agreement.status != AgreementStatus.ACTIVE:
            continue
        spec_recurrence = RecurrenceSpec.from_config(
            {
                "frequency": "custom",
                "start_date": agreement.start_date.isoformat(),
                "rrule": agreement.rrule,
                "convention": agreement.business_day_convention.value,
                "calendar": agreement.holiday_calendar,
            }
        ).recurrence()
        window_start = window_start_of(agreement, today=today, arrears=arrears)
        # Refresh schedules generated earlier beyond today's horizon too.
        agreement_end = max([end, *(s.due_date for s in have.values() if s.status == ScheduleStatus.SCHEDULED)])
        wanted = {o.rule_date: o.due_date for o in spec_recurrence.occurrences(window_start, agreement_end)}
        for rule_date, schedule in have.items():
            replaceable = (
                schedule.status == ScheduleStatus.SCHEDULED
                and schedule.paid_amount == 0
                and schedule.due_date >= today
                and schedule.source == "generated"
            )
            if not replaceable:
                continue
            if rule_date not in wanted:
                if schedule.delayed_from is None:  # a delayed payment keeps its agreed date once its rule date has passed
                    stale.append(schedule.id)
                continue
            due = wanted[rule_date] if schedule.delayed_from is None else schedule.due_date
            base = agreement.base_currency_amount or Decimal(0)
            if (schedule.amount_type, schedule.origin) != (agreement.amount_type, agreement.source):
                schedule.amount_type = agreement.amount_type
                schedule.origin = agreement.source
                changed += 1
            if (schedule.due_date, schedule.estimated_amount, schedule.currency, schedule.base_currency_amount) != (
                due,
                agreement.base_amount,
                agreement.currency,
                base,
            ):
                schedule.due_date = due
                schedule.estimated_amount = agreement.base_amount
                schedule.currency = agreement.currency
                schedule.base_currency_amount = base
                schedule.exchange_rate_used = agreement.exchange_rate_used
                schedule.exchange_rate_date = agreement.exchange_rate_date
                changed += 1
        for rule_date, due_date in wanted.items():
            if rule_date in have or due_date > end:
                continue
            new_rows.append(
                {
                    "id": new_id("sch"),
                    "obligation_id": agreement.id,
                    "user_id": agreement.user_id,
                    "direction": agreement.direction,
                    "client_id": agreement.client_id,
                    "amount_type": agreement.amount_type,
                    "origin": agreement.source,
                    "rule_date": rule_date,
                    "due_date": due_date,
                    "estimated_amount": agreement.base_amount,
                    "paid_amount": Decimal(0),
                    "paid_base_amount": Decimal(0),
                    "status": ScheduleStatus.OVERDUE if due_date < today else ScheduleStatus.SCHEDULED,
                    "source": "generated",
                    "currency": agreement.currency,
                    "base_currency_amount": agreement.base_currency_amount,
                    "exchange_rate_used": agreement.exchange_rate_used,
                    "exchange_rate_date": agreement.exchange_rate_date,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    if stale:
        for chunk_start in range(0, len(stale), 500):
            await db.execute(
                delete(ObligationSchedule).where(ObligationSchedule.id.in_(stale[chunk_start : chunk_start + 500]))
            )
    if inserted is not None:
        inserted.extend(new_rows)
    await copy_rows(db, ObligationSchedule, new_rows)  # Core rows (COPY on PostgreSQL): not the ORM's bulk insert
    await db.flush()
    return changed + len(new_rows) + len(stale)

"""Executors that change when or how expected payments go out: delay them, or queue them for payment.

- ``delay_payment`` sends the vendor's notice first when the option has one, and then only records
  the request (``delay_requested_to``): the forecast keeps the payment on its date, less certain,
  until someone marks the delay agreed (``tamio.execution.delays.agree_delay``). Without a notice
  (the business's own decision) it moves the schedules at once (``delayed_from`` keeps the original,
  and regeneration keeps a delayed schedule's date) and appends to the vendor's ``delay_history``.
  Payroll and tax are refused whatever the vendor's category (``refuse_protected``): preparation
  never offers them, and this is the wall behind it.
- ``queue_payments`` / ``record_statutory_payment`` mark schedules ``queued`` (``queued_at``). The
  forecast keeps counting a queued schedule until a PaymentEvent (``record_payment``) settles it;
  then the balance falls and the outflow is gone, counted exactly once throughout.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from tamio.audit.service import AuditService
from tamio.data.models import ExpenseBucket
from tamio.dates import day_text
from tamio.execution.executors.base import (
    ExecutionContext,
    ExecutionProblem,
    NoEmails,
    OutgoingEmail,
    load_schedules,
    lock_row,
    money,
    param_date,
    param_ids,
)
from tamio.execution.executors.email import recipient
from tamio.execution.safety import PROTECTED_CATEGORIES, PROTECTED_TYPES
from tamio.money import quantize
from tamio.obligations.models import (
    Direction,
    ObligationAgreement,
    ObligationSchedule,
    ObligationType,
    ScheduleStatus,
)

MOVABLE = (ScheduleStatus.SCHEDULED, ScheduleStatus.OVERDUE, ScheduleStatus.PARTIALLY_PAID)



def describe(schedule: ObligationSchedule, *, sentence: bool = False) -> str:
    return f"{'The' if sentence else 'the'} payment of {money(schedule.estimated_amount - schedule.paid_amount, schedule.currency)} due {day_text(schedule.due_date)}"


def _moves(params: dict[str, Any]) -> list[dict[str, Any]]:
    moves = params.get("moves")
    if isinstance(moves, list) and moves:
        if not all(isinstance(m, dict) and m.get("schedule_id") and m.get("new_date") for m in moves):
            raise ExecutionProblem("Each move needs a `schedule_id` and a `new_date`.")
        return moves
    return [{"schedule_id": s, "new_date": params.get("new_date")} for s in param_ids(params, "schedule_ids")]


class DelayPayment:
    kind = "delay_payment"

    async def emails(self, ctx: ExecutionContext, params: dict[str, Any], *, path: str) -> list[OutgoingEmail]:
        for schedule in await load_schedules(ctx, [str(m["schedule_id"]) for m in _moves(params)]):
            await refuse_protected(ctx, schedule, await _vendor_of(ctx, schedule))  # before any vendor is told
        if not params.get("notify_vendor", True):
            return []
        entries = params.get("emails") or []
        if not entries and ctx.option.draft_body and path == "0":
            entries = [{"to": ctx.option.recipient_email, "vendor_id": ctx.option.counterparty_id}]
        out = []
        for index, entry in enumerate(entries):
            primary = path == "0" and index == 0
            subject = (ctx.edited_subject if primary else None) or entry.get("subject") or (ctx.option.draft_subject if primary else None)
            body = (ctx.edited_body if primary else None) or entry.get("body") or (ctx.option.draft_body if primary else None)
            if not subject or not body:
                raise ExecutionProblem(f"The notice to vendor {index + 1} of option {ctx.option.rank} has no drafted message.")
            to, name = await recipient(ctx, {"vendor_id": entry.get("vendor_id")}, explicit=entry.get("to"))
            out.append(OutgoingEmail(key=ctx.email_key(f"{path}.{index}"), to=to, subject=str(subject), body=str(body), counterparty=name))
        return out

    async def apply(self, ctx: ExecutionContext, params: dict[str, Any]) -> dict[str, Any]:
        """Move the payments; when the vendor is asked (a notice goes out), only record the request."""
        moves = _moves(params)
        schedules = await load_schedules(ctx, [str(m["schedule_id"]) for m in moves])
        asks_vendor = bool(params.get("notify_vendor", True)) and bool(
            params.get("emails") or (ctx.option.kind == self.kind and ctx.option.draft_body))
        moved, requested = [], []
        for move, schedule in zip(moves, schedules, strict=True):
            new_date = param_date(move, "new_date")
            if schedule.direction != Direction.OUTFLOW:
                raise ExecutionProblem(f"{describe(schedule, sentence=True)} is money coming in; only payments can be delayed.")
            if schedule.status not in MOVABLE:
                raise ExecutionProblem(f"{describe(schedule, sentence=True)} is already {schedule.status.value}, so it was not moved.")
            if new_date < ctx.today:
                raise ExecutionProblem(f"{day_text(new_date, year=True)} has passed; choose a new date from today on.")
            vendor = await _vendor_of(ctx, schedule)
            await refuse_protected(ctx, schedule, vendor)
            if asks_vendor:
                requested.append(await request_delay(ctx, schedule, vendor, new_date))
            else:
                moved.append(await move_schedule(ctx.audit, schedule, vendor, new_date, action_id=ctx.action.id, today=ctx.today,
                                                 now=ctx.now))
        await ctx.db.flush()
        return {"kind": self.kind, "moved": moved, "requested": requested}


async def request_delay(ctx: ExecutionContext, schedule: ObligationSchedule, vendor: ExpenseBucket | None, new_date: date) -> dict[str, Any]:
    """The vendor is asked: the schedule keeps its date (the forecast counts it there, less certain) until agreed."""
    schedule.delay_requested_to, schedule.delay_requested_by = new_date, ctx.action.id
    schedule.updated_at = ctx.now
    await ctx.audit.log_update("obligation_schedule", schedule.id, {"delay_requested_to": (None, new_date)})
    return {"schedule_id": schedule.id, "from": schedule.due_date.isoformat(), "to": new_date.isoformat(),
            "amount": format(quantize(schedule.estimated_amount - schedule.paid_amount, schedule.currency), "f"),
            "currency": schedule.currency, "vendor_id": vendor.id if vendor else None}


async def move_schedule(
    audit: AuditService, schedule: ObligationSchedule, vendor: ExpenseBucket | None, new_date: date, *,
    action_id: str, today: date, now: datetime,
) -> dict[str, Any]:
    """Move one payment to ``new_date`` (``delayed_from`` keeps the original) and note it in the vendor's delay history."""
    original = schedule.due_date
    schedule.delayed_from = schedule.delayed_from or original
    schedule.due_date = new_date
    schedule.delay_requested_to = schedule.delay_requested_by = None
    if schedule.status == ScheduleStatus.OVERDUE:
        schedule.status = ScheduleStatus.SCHEDULED
    schedule.updated_at = now
    await audit.log_update("obligation_schedule", schedule.id, {"due_date": (original, new_date)})
    entry = {
        "schedule_id": schedule.id, "from": original.isoformat(), "to": new_date.isoformat(),
        "amount": format(quantize(schedule.estimated_amount - schedule.paid_amount, schedule.currency), "f"), "currency": schedule.currency,
        "action_id": action_id, "recorded_on": today.isoformat(),
    }
    if vendor is not None:
        vendor.delay_history = [*(vendor.delay_history or []), entry]
        vendor.updated_at = now
    return {**entry, "vendor_id": vendor.id if vendor else None}


async def refuse_protected(ctx: ExecutionContext, schedule: ObligationSchedule, vendor: ExpenseBucket | None) -> None:
    """The last wall: payroll and tax are never delayed, whatever the option says or its vendor's category."""
    agreement = await ctx.db.get(ObligationAgreement, schedule.obligation_id)
    kind = agreement.obligation_type if agreement is not None else None
    category = vendor.category.value if vendor is not None else None
    if kind in PROTECTED_TYPES or category in PROTECTED_CATEGORIES:
        what = "payroll" if kind == ObligationType.PAYROLL or category == "payroll" else "tax"
        raise ExecutionProblem(
            f"{describe(schedule, sentence=True)} is {what}; Tamio never delays payroll or tax, so nothing was moved.",
            hint="Find the money another way (a credit draw, a transfer, or chasing what is owed).",
        )


async def _vendor_of(ctx: ExecutionContext, schedule: ObligationSchedule) -> ExpenseBucket | None:
    agreement = await ctx.db.get(ObligationAgreement, schedule.obligation_id)
    if agreement is None or agreement.expense_bucket_id is None:
        return None
    return await lock_row(ctx, ExpenseBucket, agreement.expense_bucket_id)


class QueuePayments(NoEmails):
    kind = "queue_payments"

    async def apply(self, ctx: ExecutionContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"kind": self.kind, "queued": await queue_schedules(ctx, param_ids(params, "schedule_ids"))}


class RecordStatutoryPayment(QueuePayments):
    kind = "record_statutory_payment"


async def queue_schedules(ctx: ExecutionContext, ids: list[str]) -> list[str]:
    """Mark outgoing schedules queued for payment; one already queued stays as it is."""
    queued = []
    for schedule in await load_schedules(ctx, ids):
        if schedule.direction != Direction.OUTFLOW:
            raise ExecutionProblem(f"{describe(schedule, sentence=True)} is money coming in; only payments can be queued.")
        if schedule.status == ScheduleStatus.QUEUED:
            continue
        if schedule.status not in MOVABLE:
            raise ExecutionProblem(f"{describe(schedule, sentence=True)} is already {schedule.status.value}, so it was not queued.")
        old = schedule.status
        schedule.status = ScheduleStatus.QUEUED
        schedule.queued_at = ctx.now
        schedule.updated_at = ctx.now
        await ctx.audit.log_update("obligation_schedule", schedule.id, {"status": (old, ScheduleStatus.QUEUED)})
        queued.append(schedule.id)
    await ctx.db.flush()
    return queued

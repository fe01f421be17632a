"""The agent for a payroll at risk: a contingency plan naming the money to move before payday.

Split from ``tamio.preparation.agents_cash`` (the other whole-business cash agents) because
payroll has its own plan shape: every option is a ``confirm_plan`` that moves money (savings, the
credit line, payments that can wait), collects overdue receivables the forecast does not already
count, or, when nothing can be moved, names the sum to put in by hand; each carries the drafted
contingency summary, and carrying it out queues payroll. A pure function like every agent
(``agent(alert, ctx) -> ActionDraft | None``, see ``drafts``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from tamio.dates import day_text
from tamio.forecast.engine import INFLOW
from tamio.money import format_money, quantize
from tamio.preparation.alerts import AlertView
from tamio.preparation.building_blocks import (
    chase_receivable,
    credit_draw,
    delay_vendors,
    transfer_from_savings,
)
from tamio.preparation.context import PreparationContext
from tamio.preparation.context_records import ScheduleInfo
from tamio.preparation.drafts import ActionDraft, OptionDraft, pick_until, plan_steps, rank, receive_now, risk
from tamio.preparation.message_drafting import draft_payroll_contingency_summary
from tamio.preparation.risk_scoring import RelationshipFactors

ZERO = Decimal(0)


def is_payroll(ctx: PreparationContext, schedule: ScheduleInfo) -> bool:
    """A payroll as the payroll_safety rule counts one: a payroll obligation, or any payment to a payroll vendor."""
    if schedule.obligation_type == "payroll":
        return True
    vendor = ctx.vendors.get(schedule.vendor_id or "")
    return vendor is not None and vendor.category == "payroll"


def payroll_safety_agent(alert: AlertView, ctx: PreparationContext) -> ActionDraft | None:
    """A payroll the cash cannot cover with its buffer: a contingency plan naming the money to move.

    The plan's options move money the business controls (savings, the credit line, payments that
    can wait); when those do not cover the gap, collecting the largest overdue receivables before
    payroll; and when there is nothing at all to move, the sum to put in by hand. So every payroll
    at risk gets a plan, and each option says how much money it brings in before payroll.
    """
    named = ctx.schedule(alert.entity_id or "") or ctx.schedule(str(alert.context.get("schedule_id") or ""))
    # The first payroll to come only when the alert names none (each alert looking through every
    # schedule made an account with thousands of payroll alerts quadratic).
    payroll = named or next((s for s in ctx.schedules if s.direction != INFLOW and s.due_date >= ctx.today and s.base_amount > 0
                             and is_payroll(ctx, s)), None)
    if payroll is None:
        return None
    required = quantize(payroll.base_amount * ctx.payroll_buffer_percent / 100, ctx.base_currency)
    # Cash at the end of payroll day, as the payroll_safety rule measures it (not the week's close,
    # which also takes the rest of the week's payments).
    cash_after = ctx.cash_at_end_of(payroll.due_date)
    cash_before = cash_after + payroll.base_amount
    needed = max(ZERO, required - cash_after) or max(ZERO, alert.amount or ZERO)
    # Money raised for payroll should also restore the buffer when the forecast dips below it.
    restore = max(needed, ctx.buffer - ctx.forecast.lowest_closing_balance)
    why = f"Covers payroll of {format_money(payroll.base_amount, ctx.base_currency)} on {day_text(payroll.due_date)} with a {ctx.payroll_buffer_percent}% buffer."
    candidates: list[OptionDraft | None] = [
        transfer_from_savings(ctx, needed=needed, deadline=payroll.due_date, why=why, funds_through=payroll.due_date),
        credit_draw(ctx, needed=restore, deadline=payroll.due_date, why=why, funds_through=payroll.due_date),
        delay_vendors(
            ctx, start=ctx.today, end=payroll.due_date, needed=needed, past=payroll.due_date + timedelta(days=7),
            deadline=payroll.due_date, reason="we are prioritising payroll this week",
        ),
    ]
    # (the plan, its steps for the note: what each does and the cash it frees before payroll)
    plans = [(_plan(option, payroll), plan_steps(ctx, option)) for option in candidates if option is not None]
    if not any((plan.amount or ZERO) >= needed for plan, _ in plans):
        collect = _collect_before(ctx, payroll, needed)
        if collect is not None:
            plans.append(collect)
    if not plans:
        by_hand = _fund_by_hand(ctx, payroll, needed)
        plans.append((by_hand, [(by_hand.title, by_hand.amount or ZERO)]))
    options = []
    for option, steps in plans:
        summary = draft_payroll_contingency_summary(
            payroll_date=payroll.due_date, payroll_amount=payroll.base_amount, currency=ctx.base_currency,
            cash_before=cash_before, cash_after=cash_after, buffer_required=required,
            steps=steps, company_name=ctx.account_name,
        )
        options.append(replace(option, draft_subject=summary["subject"], draft_body=summary["body"], recipient_email=None, draft_tone=None,
                               draft=None))
    ranked = rank(options, buffer=ctx.buffer)
    return ActionDraft(
        action_type="payroll_contingency",
        title=f"Payroll on {day_text(payroll.due_date)} is at risk",
        summary=alert.explanation,
        options=ranked,
        amount=payroll.base_amount,
        currency=ctx.base_currency,
        counterparty_type="expense_bucket",
        counterparty_id=payroll.vendor_id,
        counterparty_name=payroll.counterparty_name,
        deadline=payroll.due_date,
        tags=("payroll",),
    )


def _plan(option: OptionDraft, payroll: ScheduleInfo) -> OptionDraft:
    """One money move as a payroll plan: the move, then payroll queued."""
    params = {**option.params, "payroll_schedule_id": payroll.id, "steps": [{"kind": option.kind, **option.params}]}
    return replace(option, kind="confirm_plan", params=params)


def _collect_before(ctx: PreparationContext, payroll: ScheduleInfo, needed: Decimal) -> tuple[OptionDraft, list[tuple[str, Decimal]]] | None:
    """Chase the largest overdue receivables (as few as cover the gap, at most three) before payroll.

    Only those the forecast does not already count before payroll: a receivable it expects today
    is in the shortfall's numbers already, so chasing it brings in nothing more. The plan and its
    steps for the note; carrying it out emails each client its drafted reminder.
    """
    uncounted = ctx.kept(("chaseable, not counted by", payroll.due_date),  # once per payroll day, not per alert
                         lambda: tuple(s for s in ctx.chaseable_receivables() if not ctx.counted_by(s, payroll.due_date)))
    chosen = pick_until(uncounted, needed)
    if not chosen:
        return None
    chases = [chase_receivable(ctx, schedule, deadline=payroll.due_date) for schedule in chosen]
    total = quantize(sum((s.base_amount for s in chosen), ZERO), ctx.base_currency)
    emails = [
        {"kind": "send_email", "to": c.recipient_email, "client_id": c.counterparty_id, "subject": c.drafted_subject, "body": c.drafted_body,
         "schedule_id": s.id}
        for c, s in zip(chases, chosen, strict=True)
    ]
    late = [f"{s.counterparty_name}'s {format_money(s.amount, s.currency)} ({(ctx.today - s.due_date).days} days late)" for s in chosen]
    plan = OptionDraft(
        kind="confirm_plan",
        title=f"Collect {format_money(total, ctx.base_currency)} before payroll: {', '.join(late)}"[:300],
        description=f"Send each client a reminder now so the money is in before {day_text(payroll.due_date)}; then payroll is queued.",
        amount=total,
        currency=ctx.base_currency,
        counterparty_type="client",
        counterparty_id=chosen[0].client_id,
        counterparty_name=", ".join(s.counterparty_name for s in chosen)[:200],
        risk=max((c.risk for c in chases), key=lambda r: r.composite),
        forecast=ctx.effect([item for schedule in chosen for item in receive_now(ctx, schedule)]),
        params={"payroll_schedule_id": payroll.id, "steps": emails},
    )
    steps = [
        (f"Ask {s.counterparty_name} to pay {format_money(s.amount, s.currency)} now ({(ctx.today - s.due_date).days} days late)", s.base_amount)
        for s in chosen
    ]
    return plan, steps


def _fund_by_hand(ctx: PreparationContext, payroll: ScheduleInfo, needed: Decimal) -> OptionDraft:
    """Nothing Tamio can move covers payroll: the sum someone must put in, and where, before payroll."""
    amount = quantize(needed, ctx.base_currency)
    target = ctx.operating_accounts[0].name if ctx.operating_accounts else "the operating account"
    counted = [s for s in ctx.overdue_receivables() if ctx.counted_by(s, payroll.due_date)]
    assumed = (
        f" The forecast already counts {format_money(sum((s.base_amount for s in counted), ZERO), ctx.base_currency)} of overdue invoices"
        " as paid by then: chase them too, or the gap is larger."
        if counted else ""
    )
    return OptionDraft(
        kind="confirm_plan",
        title=f"Put {format_money(amount, ctx.base_currency)} into {target} before {day_text(payroll.due_date)}",
        description=(
            "No savings, credit line, payment that can wait or overdue invoice covers the gap, so Tamio cannot move this money. "
            f"Approve once it is arranged (an owner's loan, a client paying early): Tamio then queues payroll.{assumed}"
        ),
        amount=amount,
        currency=ctx.base_currency,
        counterparty_type="expense_bucket",
        counterparty_id=payroll.vendor_id,
        counterparty_name=payroll.counterparty_name,
        risk=risk(ctx, RelationshipFactors(criticality="critical", flexibility_level="cannot_delay"), reversibility="irreversible",
                  amount=amount, deadline=payroll.due_date),
        forecast=ctx.effect(opening_delta=amount),
        params={"payroll_schedule_id": payroll.id, "steps": []},
    )

"""Agents for alerts about the whole business's cash: buffer, runway, timing, surplus, taxes (a payroll
at risk has its own, ``agents_payroll``).

Each agent is a pure function ``agent(alert, ctx) -> ActionDraft | None`` (see ``drafts``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from tamio.dates import day_text
from tamio.forecast.engine import OUTFLOW, ForecastItem
from tamio.money import format_money, quantize
from tamio.preparation.alerts import AlertView
from tamio.preparation.building_blocks import chase_receivable, credit_draw, delay_vendors
from tamio.preparation.context import PreparationContext
from tamio.preparation.drafts import ActionDraft, OptionDraft, rank, relationship_for_vendor, risk
from tamio.preparation.risk_scoring import RelationshipFactors

ZERO = Decimal(0)
MAX_OPTIONS = 3


def _action_type_of(best: OptionDraft) -> str:
    return {
        "credit_draw": "credit_line_draw",
        "delay_payment": "vendor_delay",
        "send_email": "invoice_follow_up",
        "transfer": "excess_cash_allocation",
    }.get(best.kind, "payment_prioritization")


def buffer_response_agent(alert: AlertView, ctx: PreparationContext) -> ActionDraft | None:
    """Cash falls below the buffer: delay flexible vendors, chase the largest overdue receivables, or draw credit.

    One action whatever option ranks first (``payment_prioritization``: which money moves, in or
    out, and when), so a buffer breach is never filed as one of the follow-ups or delays it offers.
    Each kind of remedy gets a place first; the largest overdue receivables fill the places left.
    """
    forecast = ctx.forecast
    shortfall = ctx.buffer - forecast.lowest_closing_balance
    if shortfall <= 0:
        shortfall = alert.amount or ZERO
    low_week = forecast.lowest_week_start
    # Act before cash first goes under the line (the alert's due day), not by the lowest point weeks later.
    deadline = next((w.start for w in forecast.weeks if w.closing_balance < ctx.buffer), low_week)
    # With no buffer set the rule measures against zero (buffer_breach): the plan says so too.
    line = f"the {format_money(ctx.buffer, ctx.base_currency)} buffer" if ctx.buffer > 0 else "zero"
    options: list[OptionDraft | None] = [
        delay_vendors(
            ctx, start=ctx.today, end=low_week + timedelta(days=6), needed=shortfall, past=low_week + timedelta(days=6),
            deadline=deadline, reason="we are timing a few payments around a short cash dip",
        ),
        # Raised for the payments up to the low point: those due by the end of its week.
        credit_draw(ctx, needed=shortfall, deadline=deadline, why=f"Keeps cash above {line} through the week of {day_text(low_week)}.",
                    funds_through=low_week + timedelta(days=6)),
    ]
    found = [o for o in options if o is not None]
    overdue = ctx.chaseable_receivables()
    found += [chase_receivable(ctx, schedule, deadline=deadline) for schedule in overdue[: max(1, MAX_OPTIONS - len(found))]]
    ranked = rank(found, buffer=ctx.buffer)
    if not ranked:
        return None
    return ActionDraft(
        action_type="payment_prioritization",
        title=(f"Cash dips {format_money(shortfall, ctx.base_currency)} below your buffer" if ctx.buffer > 0
               else f"Cash goes {format_money(shortfall, ctx.base_currency)} below zero") + f" in the week of {day_text(low_week)}",
        summary=alert.explanation,
        options=ranked,
        amount=quantize(shortfall, ctx.base_currency),
        currency=ctx.base_currency,
        deadline=deadline,
        tags=("buffer",),
    )


def runway_response_agent(alert: AlertView, ctx: PreparationContext) -> ActionDraft | None:
    """Runway is short: cost reduction options (delay or renegotiate flexible spend) and credit."""
    horizon_end = ctx.today + timedelta(weeks=13)
    monthly_burn = max(ZERO, -(ctx.forecast.weeks[-1].closing_balance - ctx.opening_balance) / 3)
    shortfall = max(ZERO, ctx.buffer - ctx.forecast.lowest_closing_balance)
    needed = quantize(max(monthly_burn, shortfall) or (alert.amount or ZERO), ctx.base_currency)
    options = [
        delay_vendors(ctx, start=ctx.today, end=horizon_end, needed=needed, past=ctx.today + timedelta(days=30), deadline=None,
                      reason="we are reviewing our costs for the coming quarter"),
        credit_draw(ctx, needed=needed, deadline=None, why="Extends runway while costs come down."),
    ]
    ranked = rank([o for o in options if o is not None], buffer=ctx.buffer)
    if not ranked:
        return None
    return ActionDraft(
        action_type=_action_type_of(ranked[0]), title=alert.title, summary=alert.explanation, options=ranked,
        amount=needed, currency=ctx.base_currency,
    )


def payment_prioritization_agent(alert: AlertView, ctx: PreparationContext) -> ActionDraft | None:
    """Too many payments fall in one week: which payments to move, and where."""
    week_start = alert.due_date or ctx.forecast.lowest_week_start
    week_end = week_start + timedelta(days=6)
    heavy = sum((s.base_amount for s in ctx.outflows_between(week_start, week_end)), ZERO)
    weeks = [w for w in ctx.forecast.weeks if w.start > week_start]
    lightest = min(weeks, key=lambda w: w.outflows) if weeks else None
    target = lightest.start if lightest else week_end + timedelta(days=7)
    option = delay_vendors(ctx, start=week_start, end=week_end, needed=heavy / 3, past=max(target, week_end), deadline=week_start,
                           reason="we are spreading our payments more evenly")
    if option is None:
        return None
    return ActionDraft(
        action_type="payment_prioritization", title=alert.title, summary=alert.explanation, options=(option,),
        amount=option.amount, currency=ctx.base_currency, deadline=week_start,
    )


def statutory_payment_agent(alert: AlertView, ctx: PreparationContext) -> ActionDraft | None:
    """A tax or statutory deadline: prepare the payment (and find the cash first when short)."""
    named = ctx.schedule(alert.entity_id or "")  # the alert's own tax, else the first due (not every tax per alert)
    tax = named if named is not None and named.obligation_type == "tax" else min(
        ctx.schedules_of_type("tax"), key=lambda s: s.due_date, default=None)
    if tax is None:
        return None
    money = format_money(tax.amount, tax.currency)
    pay = OptionDraft(
        kind="record_statutory_payment",
        title=f"Pay {tax.counterparty_name} {money} by {day_text(tax.due_date)}",
        description="Queue the payment so it goes out before the deadline; a late statutory payment brings penalties.",
        amount=tax.base_amount, currency=ctx.base_currency, counterparty_type="expense_bucket", counterparty_id=tax.vendor_id,
        counterparty_name=tax.counterparty_name,
        risk=risk(ctx, RelationshipFactors(criticality="critical", flexibility_level="cannot_delay"), reversibility="irreversible",
                  amount=tax.base_amount, deadline=tax.due_date),
        forecast=ctx.effect(),
        params={"schedule_ids": [tax.id]},
    )
    options: list[OptionDraft] = [pay]
    week = ctx.forecast.week_of(tax.due_date)
    if week is not None and week.closing_balance < ctx.buffer:
        cash = credit_draw(ctx, needed=ctx.buffer - week.closing_balance, deadline=tax.due_date, why=f"Funds the {money} payment without breaking the buffer.")
        if cash is not None:
            plan = {**cash.params, "schedule_ids": [tax.id], "steps": [{"kind": "credit_draw", **cash.params}]}
            options.append(replace(cash, kind="confirm_plan", title=f"{cash.title}, then pay {money}", params=plan))
    return ActionDraft(
        action_type="statutory_payment", title=alert.title, summary=alert.explanation, options=rank(options, buffer=ctx.buffer),
        amount=tax.base_amount, currency=ctx.base_currency, counterparty_type="expense_bucket", counterparty_id=tax.vendor_id,
        counterparty_name=tax.counterparty_name, deadline=tax.due_date, tags=("statutory",),
    )


def excess_cash_agent(alert: AlertView, ctx: PreparationContext) -> ActionDraft | None:
    """Money arrived that wasn't expected: put surplus above the buffer to work, else adjust the forecast."""
    if alert.context.get("variance_kind") == "under":
        return _underpayment(alert, ctx)
    surplus = ctx.forecast.lowest_closing_balance - ctx.buffer
    amount = alert.amount or ZERO
    if surplus > 0 and amount > 0:
        move = quantize(min(surplus, amount), ctx.base_currency)
        options: list[OptionDraft] = []
        lines = [c for c in ctx.cash_accounts if c.account_type == "credit_line" and c.drawn_amount > 0]
        operating = ctx.operating_accounts[0] if ctx.operating_accounts else None
        if lines and operating:
            line = lines[0]
            repay = min(move, line.drawn_amount)
            options.append(OptionDraft(
                kind="transfer", title=f"Repay {format_money(repay, ctx.base_currency)} of {line.name}",
                description="Surplus above the buffer pays down the credit line and saves interest.", amount=repay,
                currency=ctx.base_currency, counterparty_type="cash_account", counterparty_id=line.id, counterparty_name=line.name,
                risk=risk(ctx, RelationshipFactors(relationship_type="transactional"), reversibility="irreversible", amount=repay, deadline=None),
                forecast=ctx.effect(opening_delta=-repay),
                params={"from_cash_account_id": operating.id, "to_cash_account_id": line.id, "amount": format(repay, "f")},
            ))
        savings = [c for c in ctx.cash_accounts if c.account_type == "savings"]
        if savings and operating:
            options.append(OptionDraft(
                kind="transfer", title=f"Move {format_money(move, ctx.base_currency)} to {savings[0].name}",
                description="Keeps the buffer in Operating and sets the surplus aside.", amount=move, currency=ctx.base_currency,
                counterparty_type="cash_account", counterparty_id=savings[0].id, counterparty_name=savings[0].name,
                risk=risk(ctx, RelationshipFactors(relationship_type="transactional"), reversibility="reversible", amount=move, deadline=None),
                forecast=ctx.effect(),
                params={"from_cash_account_id": operating.id, "to_cash_account_id": savings[0].id, "amount": format(move, "f")},
            ))
        if options:
            return ActionDraft(
                action_type="excess_cash_allocation", title=alert.title, summary=alert.explanation,
                options=rank(options, buffer=ctx.buffer), amount=move, currency=ctx.base_currency,
                counterparty_type=alert.entity_type, counterparty_id=alert.entity_id, counterparty_name=alert.entity_name,
            )
    return forecast_adjustment(alert, ctx, action_type="invoice_generation")


def _underpayment(alert: AlertView, ctx: PreparationContext) -> ActionDraft | None:
    """A client paid less than invoiced: ask for the balance, or expect the lower amount from now on."""
    options: list[OptionDraft] = []
    schedule = ctx.schedule(str(alert.context.get("schedule_id") or ""))
    if schedule is not None and schedule.amount > 0 and ctx.may_chase(schedule):
        options.append(chase_receivable(ctx, schedule, tone="soft", deadline=None))
    adjusted = forecast_adjustment(alert, ctx, action_type="invoice_generation")
    if adjusted is not None:
        options.extend(adjusted.options)
    if not options:
        return None
    return ActionDraft(
        # Asking for the balance comes first: accepting less is giving up money already invoiced.
        action_type="invoice_generation", title=alert.title, summary=alert.explanation, options=tuple(options[:3]),
        amount=alert.amount, currency=ctx.base_currency, counterparty_type=alert.entity_type, counterparty_id=alert.entity_id,
        counterparty_name=alert.entity_name,
    )


def forecast_adjustment(alert: AlertView, ctx: PreparationContext, *, action_type: str) -> ActionDraft | None:
    """Adjust the expected amount of the agreement behind the alert to what is really happening."""
    agreement_id = str(alert.context.get("agreement_id") or "")
    new_amount = alert.context.get("suggested_amount") or alert.context.get("actual_amount")
    if not agreement_id or new_amount is None:
        return None
    amount = Decimal(str(new_amount))
    affected = [s for s in ctx.schedules_of_agreement(agreement_id) if s.due_date >= ctx.today]
    if not affected:  # a one-off invoice already due: "from now on" would change nothing ahead, only what is owed
        return None
    deltas = []
    for s in affected:
        change = amount - s.amount
        rate = s.base_amount / s.amount if s.amount else Decimal(1)
        deltas.append((s, quantize(change * rate, ctx.base_currency)))

    adjustments = [
        ForecastItem(date=day, amount=part, direction="inflow" if s.direction == "inflow" else OUTFLOW)
        for s, delta in deltas for day, part in _shared_like(delta, s.where_expected(ctx.today), ctx.base_currency)
    ]
    option = OptionDraft(
        kind="adjust_forecast",
        title=f"Expect {format_money(amount, str(alert.context.get('currency') or ctx.base_currency))} from {alert.entity_name} from now on",
        description="Updates the agreement so the forecast follows what is actually being paid.",
        amount=amount, currency=str(alert.context.get("currency") or ctx.base_currency),
        counterparty_type=alert.entity_type, counterparty_id=alert.entity_id, counterparty_name=alert.entity_name,
        risk=risk(ctx, relationship_for_vendor(ctx, None), reversibility="reversible", amount=abs(sum((d for _, d in deltas), ZERO)), deadline=None),
        forecast=ctx.effect(adjustments),
        params={"agreement_id": agreement_id, "new_amount": format(amount, "f")},
    )
    return ActionDraft(action_type=action_type, title=alert.title, summary=alert.explanation, options=(option,), amount=amount,
                       currency=option.currency, counterparty_type=alert.entity_type, counterparty_id=alert.entity_id, counterparty_name=alert.entity_name)


__all__ = [
    "buffer_response_agent", "excess_cash_agent", "forecast_adjustment", "payment_prioritization_agent",
    "runway_response_agent", "statutory_payment_agent", "chase_receivable",
]


def _shared_like(amount: Decimal, parts: tuple[tuple[date, Decimal], ...], currency: str) -> list[tuple[date, Decimal]]:
    """``amount`` shared over the days of ``parts`` in their proportions; the last takes the rounding."""
    whole = sum((p for _, p in parts), ZERO)
    if whole <= 0:
        return [(parts[0][0], amount)]
    out = [(day, quantize(amount * p / whole, currency)) for day, p in parts[:-1]]
    return [*out, (parts[-1][0], amount - sum((p for _, p in out), ZERO))]

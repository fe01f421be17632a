"""Executors that move money between the business's own accounts.

- ``credit_draw`` draws on a credit line: the line's drawn amount goes up, the operating account's
  balance goes up by the same, and the repayment becomes an obligation (``credit_repayment``, one
  schedule on the repayment date, principal plus interest). The forecast opens higher and carries
  the repayment outflow.
- ``transfer`` moves money between cash accounts. Into a credit line it is a repayment: the drawn
  amount falls and the line's open repayment schedules are paid down (oldest first, as
  PaymentEvents), so the forecast counts neither the cash nor the repayment twice.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from tamio.data.models import CashAccount, CashAccountType
from tamio.dates import day_text
from tamio.execution.executors.base import (
    ExecutionContext,
    ExecutionProblem,
    NoEmails,
    change_balance,
    lock_cash_accounts,
    money,
    option_currency,
    param_amount,
    param_date,
    primary_operating_account_id,
    rate_book,
)
from tamio.money import quantize
from tamio.obligations.models import (
    OPEN_SCHEDULE_STATUSES,
    ObligationAgreement,
    ObligationSchedule,
    ObligationType,
)
from tamio.obligations.payments import record_payment
from tamio.obligations.recurrence import Frequency
from tamio.obligations.schemas import RecurrenceSpec

ZERO = Decimal(0)


def _available(line: CashAccount) -> Decimal | None:
    return None if line.credit_limit is None else line.credit_limit - line.drawn_amount


class CreditDraw(NoEmails):
    kind = "credit_draw"

    async def apply(self, ctx: ExecutionContext, params: dict[str, Any]) -> dict[str, Any]:
        line_id = params.get("cash_account_id")
        target_id = params.get("target_cash_account_id") or await primary_operating_account_id(ctx)
        locked = await lock_cash_accounts(ctx, [str(line_id), str(target_id)])  # both at once, in id order
        line, target = locked.get(str(line_id)), locked.get(str(target_id))
        if line is None:
            raise ExecutionProblem(f"The credit line `{line_id}` is not in this account, so nothing was drawn.")
        if target is None:
            raise ExecutionProblem(f"The account `{target_id}` is not in this account, so nothing was drawn.")
        if line.account_type != CashAccountType.CREDIT_LINE:
            raise ExecutionProblem(f"{line.name} is not a credit line, so nothing can be drawn on it.")
        if target.account_type == CashAccountType.CREDIT_LINE:
            raise ExecutionProblem(f"{target.name} is a credit line; draw into a bank account.")
        currency = option_currency(ctx, params)
        amount = param_amount(params, "amount", currency)
        repayment_date = param_date(params, "repayment_date")
        if repayment_date <= ctx.today:
            raise ExecutionProblem(f"The repayment date {day_text(repayment_date, year=True)} must be after today.")
        book = await rate_book(ctx, currency, line.currency, target.currency)
        on_line = book.convert(amount, currency, line.currency, ctx.today).amount
        available = _available(line)
        if available is not None and on_line > available:
            raise ExecutionProblem(
                f"{line.name} has only {money(max(available, ZERO), line.currency)} left to draw, not {money(on_line, line.currency)}."
            )
        interest = ZERO
        if params.get("interest") not in (None, "", "0", 0):
            interest = book.convert(Decimal(str(params["interest"])), currency, line.currency, ctx.today).amount
        why = f"action {ctx.action.id}: draw {money(amount, currency)}"
        await change_balance(ctx, line, -on_line, book, why=why)
        await change_balance(ctx, target, book.convert(amount, currency, target.currency, ctx.today).amount, book, why=why)
        repayment = await ctx.obligations().create_standalone(
            obligation_type=ObligationType.CREDIT_REPAYMENT,
            spec=RecurrenceSpec(Frequency.ONCE, start_date=repayment_date),
            amount=quantize(on_line + interest, line.currency),
            currency=line.currency,
            description=f"Repay {line.name}: {money(on_line, line.currency)} drawn {day_text(ctx.today, year=True)}",
            cash_account_id=line.id,
        )
        return {
            "kind": self.kind, "credit_line_id": line.id, "target_cash_account_id": target.id, "amount": amount, "currency": currency,
            "repayment_obligation_id": repayment.id, "repayment_date": repayment_date, "repayment_amount": repayment.base_amount,
        }


class Transfer(NoEmails):
    kind = "transfer"

    async def apply(self, ctx: ExecutionContext, params: dict[str, Any]) -> dict[str, Any]:
        source_id, dest_id = str(params.get("from_cash_account_id")), str(params.get("to_cash_account_id"))
        locked = await lock_cash_accounts(ctx, [source_id, dest_id])  # both at once, in id order
        source, dest = locked.get(source_id), locked.get(dest_id)
        if source is None or dest is None:
            missing = source_id if source is None else dest_id
            raise ExecutionProblem(f"The cash account `{missing}` is not in this account, so no money was moved.")
        if source.id == dest.id:
            raise ExecutionProblem("A transfer needs two different accounts.")
        currency = option_currency(ctx, params)
        amount = param_amount(params, "amount", currency)
        book = await rate_book(ctx, currency, source.currency, dest.currency)
        out_amount = book.convert(amount, currency, source.currency, ctx.today).amount
        in_amount = book.convert(amount, currency, dest.currency, ctx.today).amount
        if source.account_type == CashAccountType.CREDIT_LINE:
            available = _available(source)
            if available is not None and out_amount > available:
                raise ExecutionProblem(f"{source.name} has only {money(max(available, ZERO), source.currency)} left to draw.")
        elif source.balance < out_amount:
            raise ExecutionProblem(
                f"{source.name} has {money(source.balance, source.currency)}, less than the {money(out_amount, source.currency)} to move."
            )
        if dest.account_type == CashAccountType.CREDIT_LINE and in_amount > dest.drawn_amount:
            raise ExecutionProblem(f"Only {money(dest.drawn_amount, dest.currency)} is drawn on {dest.name}; repay at most that.")
        why = f"action {ctx.action.id}: {source.name} -> {dest.name}"
        await change_balance(ctx, source, -out_amount, book, why=why)
        await change_balance(ctx, dest, in_amount, book, why=why)
        settled: list[str] = []
        if dest.account_type == CashAccountType.CREDIT_LINE:
            settled = await _pay_down_repayments(ctx, dest, in_amount)
        return {
            "kind": self.kind, "from_cash_account_id": source.id, "to_cash_account_id": dest.id, "amount": amount,
            "currency": currency, "repayment_schedules_paid": settled,
        }


async def _pay_down_repayments(ctx: ExecutionContext, line: CashAccount, amount: Decimal) -> list[str]:
    """Record an early repayment against the line's open repayment schedules, oldest first."""
    schedules = (
        await ctx.db.execute(
            select(ObligationSchedule)
            .join(ObligationAgreement, ObligationAgreement.id == ObligationSchedule.obligation_id)
            .where(
                ObligationAgreement.user_id == ctx.account.id,
                ObligationAgreement.cash_account_id == line.id,
                ObligationAgreement.obligation_type == ObligationType.CREDIT_REPAYMENT,
                ObligationSchedule.status.in_(OPEN_SCHEDULE_STATUSES),
            )
            .order_by(ObligationSchedule.due_date, ObligationSchedule.id)
            .with_for_update(of=ObligationSchedule)
            .execution_options(populate_existing=True)
        )
    ).scalars().all()
    left = amount
    paid = []
    for schedule in schedules:
        remaining = schedule.estimated_amount - schedule.paid_amount
        if left <= 0 or remaining <= 0:
            continue
        portion = min(left, remaining)
        await record_payment(
            ctx.db, account=ctx.account, amount=portion, currency=schedule.currency, payment_date=ctx.today, schedule=schedule,
            reference=f"early repayment, action {ctx.action.id}", source="tamio", adjust_balance=False, actor=ctx.actor, now=ctx.now,
        )
        left -= portion
        paid.append(schedule.id)
    return paid

"""Executors: what carrying out an approved option does, chosen by ``ActionOption.kind``.

The preparation engine creates options with these kinds and ``params`` (JSON; amounts as decimal
strings, dates as ``YYYY-MM-DD``; ids are always looked up within the action's account). An
option's ``currency`` (default: the base currency) is the currency of its ``amount`` params.

``send_email`` (invoice_follow_up, payment_reminder, collection_escalation, client check-ins)
    params ``{schedule_id?, client_id?, vendor_id?, to?, template?, days_overdue?}``. Sends the
    approver's edited draft, else ``draft_subject``/``draft_body``, to ``recipient_email``, else
    ``to``, else the client's (or vendor's) ``contact_email``. No database change.
``delay_payment`` (vendor_delay, payment_prioritization)
    params ``{moves: [{schedule_id, new_date, vendor_id?}], notify_vendor: bool = true,
    emails?: [{vendor_id, to?, subject, body}]}`` or ``{schedule_ids: [...], new_date}``. Sends each
    vendor's notice first (the first one is the option's draft, so it takes the approver's edit),
    then moves the schedules (``delayed_from`` keeps the original date) and appends to each
    vendor's ``delay_history``.
``queue_payments`` (payment_batch, payment_prioritization)
    params ``{schedule_ids: [...]}``. Marks outgoing schedules ``queued`` with ``queued_at``; a
    later PaymentEvent (``record_payment``) settles them.
``record_statutory_payment`` (statutory_payment)
    params ``{schedule_ids: [...]}``. As ``queue_payments``, for taxes and statutory payments.
``credit_draw`` (credit_line_draw)
    params ``{cash_account_id (the credit line), target_cash_account_id? (default: the primary bank
    account), amount, repayment_date, interest?}``. Moves the money in and creates the repayment
    obligation (``credit_repayment``, one schedule on ``repayment_date`` for amount + interest).
``transfer`` (excess_cash_allocation, payroll funding)
    params ``{from_cash_account_id, to_cash_account_id, amount}``. Into a credit line it repays it
    and pays down the line's open repayment schedules.
``confirm_plan`` (payroll_contingency, payroll_confirmation, statutory_payment funded first)
    params ``{steps: [{kind, ...that kind's params}], schedule_ids?: [...] (paid by the plan:
    queued), payroll_schedule_id? (queued), confirm_schedule_ids?: [...] (recorded, left as they
    are)}``. Steps may be credit_draw, transfer, delay_payment, queue_payments,
    record_statutory_payment or send_email (a step's email carries its own ``to``/``subject``/
    ``body``). Schedules a delay step moved are not queued.
``adjust_forecast`` (invoice_generation, revenue or expense variance)
    params ``{agreement_id, new_amount, currency?}``. Sets the agreement's amount; its future
    unpaid schedules follow.

    executor = executor_for(option.kind)
    emails = await executor.emails(ctx, option.params, path="0")
    result = await executor.apply(ctx, option.params)

Every kind but ``adjust_forecast`` moves money or emails someone (``moves_money_or_emails``): approving
one of those is confirmed first wherever it is offered.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from tamio.execution.executors.base import ExecutionContext, ExecutionProblem, Executor, OutgoingEmail
from tamio.execution.executors.cash import CreditDraw, Transfer
from tamio.execution.executors.email import SendEmail
from tamio.execution.executors.plans import AdjustForecast, ConfirmPlan
from tamio.execution.executors.schedules import DelayPayment, QueuePayments, RecordStatutoryPayment

# The kinds a plan's steps may be: confirm_plan runs them with these same executors.
_STEPS: tuple[Executor, ...] = (SendEmail(), DelayPayment(), QueuePayments(), RecordStatutoryPayment(), CreditDraw(), Transfer())
EXECUTORS: Mapping[str, Executor] = MappingProxyType(
    {executor.kind: executor for executor in (*_STEPS, ConfirmPlan(_STEPS), AdjustForecast())}
)
OPTION_KINDS = frozenset(EXECUTORS)


def executor_for(kind: str) -> Executor:
    executor = EXECUTORS.get(kind)
    if executor is None:
        raise ExecutionProblem(
            f"Tamio doesn't know how to carry out a `{kind}` option.", hint=f"Known kinds: {', '.join(sorted(EXECUTORS))}."
        )
    return executor


__all__ = ["EXECUTORS", "OPTION_KINDS", "ExecutionContext", "ExecutionProblem", "Executor", "OutgoingEmail", "executor_for"]


INTERNAL_KINDS = frozenset({"adjust_forecast"})  # changes only Tamio's own figures


def moves_money_or_emails(kind: str) -> bool:
    """Whether carrying out an option of this kind moves money, commits a payment or emails someone."""
    return kind not in INTERNAL_KINDS

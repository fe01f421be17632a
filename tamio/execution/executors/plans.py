"""Executors for plans and for the forecast's own assumptions.

- ``confirm_plan`` (payroll contingency and confirmation, statutory payments funded first) runs
  its ``steps`` in order, each one an executor of its own kind, then marks the schedules the
  plan pays as queued. A schedule a step already moved (a vendor delayed to make room) is not
  queued. ``confirm_schedule_ids`` are recorded as confirmed and left as they are.
- ``adjust_forecast`` sets an agreement's expected amount to what is really being paid: its future
  unpaid schedules are regenerated at the new amount (and the counterparty's billing line, which
  the legacy forecast path reads, follows).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from tamio.data.models import Client, ExpenseBucket
from tamio.execution.executors.base import (
    ExecutionContext,
    ExecutionProblem,
    Executor,
    NoEmails,
    OutgoingEmail,
    load_schedules,
    lock_row,
    param_amount,
    param_ids,
)
from tamio.execution.executors.schedules import queue_schedules
from tamio.money import normalize_currency
from tamio.obligations.models import AgreementStatus, ObligationAgreement

STEP_KINDS = frozenset({"credit_draw", "transfer", "delay_payment", "queue_payments", "record_statutory_payment", "send_email"})


def _steps(params: dict[str, Any]) -> list[dict[str, Any]]:
    steps = params.get("steps") or []
    if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
        raise ExecutionProblem("The plan's `steps` must be a list of steps.")
    for step in steps:
        if step.get("kind") not in STEP_KINDS:
            raise ExecutionProblem(f"A plan cannot contain a `{step.get('kind')}` step; use one of: {', '.join(sorted(STEP_KINDS))}.")
    return steps


def _moved_by_steps(steps: list[dict[str, Any]]) -> set[str]:
    moved: set[str] = set()
    for step in steps:
        if step.get("kind") == "delay_payment":
            moved.update(str(m.get("schedule_id")) for m in step.get("moves") or [] if isinstance(m, dict))
            moved.update(str(s) for s in step.get("schedule_ids") or [])
    return moved


class ConfirmPlan:
    """Runs each step with the executor of its kind, handed in by ``tamio.execution.executors`` (which
    imports this module, so this one does not look them up there)."""

    kind = "confirm_plan"

    def __init__(self, step_executors: Iterable[Executor]) -> None:
        self.step_executors: Mapping[str, Executor] = MappingProxyType({e.kind: e for e in step_executors})
        if set(self.step_executors) != STEP_KINDS:
            raise ValueError(f"a plan's steps need exactly the executors of {sorted(STEP_KINDS)}")

    async def emails(self, ctx: ExecutionContext, params: dict[str, Any], *, path: str) -> list[OutgoingEmail]:
        out: list[OutgoingEmail] = []
        for index, step in enumerate(_steps(params)):
            out += await self.step_executors[str(step["kind"])].emails(ctx, step, path=f"{path}.step{index}")
        return out

    async def apply(self, ctx: ExecutionContext, params: dict[str, Any]) -> dict[str, Any]:
        steps = _steps(params)
        done = [await self.step_executors[str(step["kind"])].apply(ctx, step) for step in steps]
        moved = _moved_by_steps(steps)
        to_queue = [i for i in param_ids(params, "schedule_ids", required=False) if i not in moved]
        payroll = params.get("payroll_schedule_id")
        if isinstance(payroll, str) and payroll and payroll not in to_queue:
            to_queue.append(payroll)
        queued = await queue_schedules(ctx, to_queue) if to_queue else []
        confirmed_ids = param_ids(params, "confirm_schedule_ids", required=False)
        confirmed = [s.id for s in await load_schedules(ctx, confirmed_ids)] if confirmed_ids else []
        if not steps and not to_queue and not confirmed:
            raise ExecutionProblem("This plan has no steps and names no payments, so there is nothing to confirm.")
        return {"kind": self.kind, "steps": done, "queued": queued, "covered": to_queue, "confirmed": confirmed}


class AdjustForecast(NoEmails):
    kind = "adjust_forecast"

    async def apply(self, ctx: ExecutionContext, params: dict[str, Any]) -> dict[str, Any]:
        agreement_id = params.get("agreement_id")
        agreement = await lock_row(ctx, ObligationAgreement, agreement_id if isinstance(agreement_id, str) else None)
        if agreement is None:
            raise ExecutionProblem(f"The obligation `{agreement_id}` is not in this account, so the forecast was not changed.")
        if agreement.status != AgreementStatus.ACTIVE:
            raise ExecutionProblem(f"“{agreement.description}” is {agreement.status.value}; there is nothing to adjust.")
        currency = normalize_currency(str(params.get("currency") or agreement.currency))
        new_amount = param_amount(params, "new_amount", currency)
        old_amount, old_currency = agreement.base_amount, agreement.currency
        await ctx.obligations().update_agreement(agreement, amount=new_amount, currency=currency)
        await _follow_billing_line(ctx, agreement)
        return {
            "kind": self.kind, "agreement_id": agreement.id, "old_amount": old_amount, "old_currency": old_currency,
            "new_amount": agreement.base_amount, "currency": agreement.currency,
        }


async def _follow_billing_line(ctx: ExecutionContext, agreement: ObligationAgreement) -> None:
    entity: Client | ExpenseBucket | None = None
    if agreement.client_id:
        entity = await lock_row(ctx, Client, agreement.client_id)
    elif agreement.expense_bucket_id:
        entity = await lock_row(ctx, ExpenseBucket, agreement.expense_bucket_id)
    if entity is None:
        return
    config = dict(entity.billing_config or {})
    lines = []
    for line in config.get("lines", []):
        if line.get("agreement_id") == agreement.id:
            line = {
                **line, "amount": format(agreement.base_amount, "f"), "currency": agreement.currency,
                "base_amount": format(agreement.base_currency_amount or 0, "f"), "rate": format(agreement.exchange_rate_used or 1, "f"),
            }
        lines.append(line)
    config["lines"] = lines
    entity.billing_config = config
    entity.updated_at = ctx.now
    await ctx.db.flush()

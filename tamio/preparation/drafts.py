"""What an agent produces before it is stored: an action draft with ranked option drafts.

Each option carries what would be done (``kind`` + ``params`` read by its executor, see
``tamio.execution.executors``), the amount, the counterparty, the drafted message where there is
one (or its recipe, rendered when read: ``message_drafting.DraftRecipe``), its composite risk, and
its effect on the forecast: the 13-week lowest closing balance (and its week) with the option
carried out, as a delta against the run's base forecast (``PreparationContext.effect``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from tamio.forecast.engine import INFLOW, OUTFLOW, ForecastItem
from tamio.money import format_money
from tamio.preparation.context import PreparationContext
from tamio.preparation.context_records import ScheduleInfo
from tamio.preparation.recipes import DraftRecipe
from tamio.preparation.risk_scoring import (
    FinancialFactors,
    OperationalFactors,
    RelationshipFactors,
    RiskScore,
    score_action,
)
from tamio.scenarios.engine import Effect

ZERO = Decimal(0)


@dataclass(frozen=True)
class OptionDraft:
    kind: str
    title: str
    description: str
    amount: Decimal | None
    risk: RiskScore
    forecast: Effect  # the forecast's lowest closing balance and week with the option carried out
    params: dict[str, Any] = field(default_factory=dict)
    currency: str | None = None
    counterparty_type: str | None = None
    counterparty_id: str | None = None
    counterparty_name: str | None = None
    recipient_email: str | None = None
    draft_subject: str | None = None  # a text written out; else ``draft`` renders it when it is read
    draft_body: str | None = None
    draft_tone: str | None = None
    draft: DraftRecipe | None = None

    @property
    def lowest(self) -> Decimal:
        return self.forecast.lowest_closing_balance

    @property
    def drafted_subject(self) -> str | None:
        """The subject as the card shows it (rendered from the recipe when there is no text)."""
        return self.draft.render()["subject"] if self.draft is not None and self.draft_subject is None else self.draft_subject

    @property
    def drafted_body(self) -> str | None:
        return self.draft.render()["body"] if self.draft is not None and self.draft_body is None else self.draft_body


@dataclass(frozen=True)
class ActionDraft:
    action_type: str
    title: str
    summary: str
    options: tuple[OptionDraft, ...]
    amount: Decimal | None = None
    currency: str | None = None
    counterparty_type: str | None = None
    counterparty_id: str | None = None
    counterparty_name: str | None = None
    deadline: date | None = None
    tags: tuple[str, ...] = ()


def rank(options: Iterable[OptionDraft], *, buffer: Decimal) -> tuple[OptionDraft, ...]:
    """Options that keep cash above the buffer first, then the least risky, then the highest low point."""
    ordered = sorted(options, key=lambda o: (o.lowest < buffer, o.risk.composite, -o.lowest))
    return tuple(ordered[:3])


def move_schedule(ctx: PreparationContext, schedule: ScheduleInfo, new_date: date) -> list[ForecastItem]:
    """Adjustments that move one schedule's remaining amount to ``new_date`` from where the forecast
    expects it (a receivable: spread by its client's behaviour)."""
    direction = INFLOW if schedule.direction == INFLOW else OUTFLOW
    return [
        *(ForecastItem(date=day, amount=-amount, direction=direction) for day, amount in schedule.where_expected(ctx.today)),
        ForecastItem(date=new_date, amount=schedule.base_amount, direction=direction),
    ]


def receive_now(ctx: PreparationContext, schedule: ScheduleInfo) -> list[ForecastItem]:
    """The money of a receivable arriving today: moved from when the forecast expects it."""
    return move_schedule(ctx, schedule, ctx.today)


def relationship_for_client(ctx: PreparationContext, client_id: str | None) -> RelationshipFactors:
    client = ctx.clients.get(client_id or "")
    if client is None:
        return RelationshipFactors()
    return RelationshipFactors(
        relationship_type=client.relationship_type,
        revenue_percent=client.revenue_percent,
        avg_payment_delay_days=client.avg_payment_delay_days,
    )


def relationship_for_vendor(ctx: PreparationContext, vendor_id: str | None) -> RelationshipFactors:
    vendor = ctx.vendors.get(vendor_id or "")
    if vendor is None:
        return RelationshipFactors()
    return RelationshipFactors(criticality=vendor.criticality, flexibility_level=vendor.flexibility_level, prior_delays=vendor.delay_count)


def available_cash(ctx: PreparationContext) -> Decimal:
    return max(ZERO, ctx.opening_balance)


def risk(
    ctx: PreparationContext,
    relationship: RelationshipFactors,
    *,
    reversibility: str,
    amount: Decimal,
    deadline: date | None,
    steps: int = 1,
    counterparties: int = 1,
    fees: Decimal = ZERO,
) -> RiskScore:
    days = None if deadline is None else (deadline - ctx.today).days
    return score_action(
        relationship,
        OperationalFactors(reversibility=reversibility, days_until_deadline=days, steps=steps, counterparties=counterparties),  # type: ignore[arg-type]
        FinancialFactors(amount=abs(amount), available_cash=available_cash(ctx), fees=fees),
    )


def vendor_delay_candidates(ctx: PreparationContext, start: date, end: date) -> list[ScheduleInfo]:
    """Outflows in [start, end] of vendors that can be delayed, most flexible and largest first (worked out
    once per range: agents ask for few ranges, from today to a payroll or one day's, for many alerts)."""
    return list(ctx.kept(("vendor_delay_candidates", start, end), lambda: _delay_candidates(ctx, start, end)))


def _delay_candidates(ctx: PreparationContext, start: date, end: date) -> tuple[ScheduleInfo, ...]:
    order = {"can_delay": 0, "negotiable": 1}
    found: dict[str, ScheduleInfo] = {}
    for s in ctx.outflows_between(start, end):  # the first payment of each vendor that can wait
        if s.vendor_id and s.vendor_id not in found and ctx.can_delay(s):
            found[s.vendor_id] = s
    return tuple(sorted(found.values(), key=lambda s: (order.get(ctx.vendors[s.vendor_id or ""].flexibility_level or "", 2), -s.base_amount)))


def delay_target(ctx: PreparationContext, schedule: ScheduleInfo, *, at_least: date) -> date:
    """A new date: past ``at_least`` and within the vendor's terms when known (30 days otherwise)."""
    vendor = ctx.vendors.get(schedule.vendor_id or "")
    terms = vendor.payment_terms_days if vendor and vendor.payment_terms_days else 30
    target = max(at_least + timedelta(days=1), schedule.due_date + timedelta(days=min(terms, 30)))
    while target.weekday() >= 5:
        target += timedelta(days=1)
    return target


def with_title(option: OptionDraft, title: str) -> OptionDraft:
    return replace(option, title=title)


def pick_until(schedules: Sequence[ScheduleInfo], needed: Decimal, limit: int = 3) -> list[ScheduleInfo]:
    """The fewest schedules (at most ``limit``) whose amounts cover ``needed``."""
    chosen: list[ScheduleInfo] = []
    total = ZERO
    for schedule in schedules:
        if total >= needed or len(chosen) >= limit:
            break
        chosen.append(schedule)
        total += schedule.base_amount
    return chosen


def _long_date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def plan_steps(ctx: PreparationContext, option: OptionDraft) -> list[tuple[str, Decimal]]:
    """What carrying out ``option`` does, one concrete step a line, with the cash each step frees before its deadline.

    For the internal note of a plan (``draft_payroll_contingency_summary``): "Draw $26,000.00 from
    Credit line into Operating, repaid by 28 March 2027", "Move $3,000.00 from Savings to
    Operating", "Delay Cloud Host's $2,400.00 payment from 1 December 2026 to 31 December 2026
    (Cloud Host is asked first)". An option of another kind is one step: its title and amount.
    """
    params, currency = option.params, ctx.base_currency
    accounts = {c.id: c for c in ctx.cash_accounts}
    amount = option.amount or ZERO
    if option.kind == "credit_draw":
        line = accounts.get(str(params.get("cash_account_id") or ""))
        into = accounts.get(str(params.get("target_cash_account_id") or ""))
        text = f"Draw {format_money(amount, currency)} from {line.name if line else 'the credit line'}"
        text += f" into {into.name}" if into else ""
        repay = params.get("repayment_date")
        text += f", repaid by {_long_date(date.fromisoformat(str(repay)))}" if repay else ""
        return [(text, amount)]
    if option.kind == "transfer":
        source = accounts.get(str(params.get("from_cash_account_id") or ""))
        target = accounts.get(str(params.get("to_cash_account_id") or ""))
        if source is not None and target is not None:
            return [(f"Move {format_money(amount, currency)} from {source.name} to {target.name}", amount)]
    if option.kind == "delay_payment":
        steps = []
        for move in params.get("moves") or []:
            schedule = ctx.schedule(str(move.get("schedule_id") or ""))
            if schedule is None:
                continue
            name = schedule.counterparty_name
            steps.append((
                f"Delay {name}'s {format_money(schedule.amount, schedule.currency)} payment from {_long_date(schedule.due_date)} "
                f"to {_long_date(date.fromisoformat(str(move['new_date'])))} ({name} is asked first)",
                schedule.base_amount,
            ))
        if steps:
            return steps
    return [(option.title, amount)]

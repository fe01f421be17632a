"""Whether a prepared action's figures are still the truth, and what to do when they are not.

An action stores the basis it was prepared on: a digest of everything its figures were worked out
from (``forecast_basis``: the day, the forecast's opening balance and items, the thresholds, the cash
and credit accounts, the open schedules, the clients' and vendors' terms, the last chases and the
credit committed). Once any of it changes, the action is prepared again from the current figures
(``prepare_actions(..., restate=True)``):

- same figures (``figures_of``: the amounts, what each option moves and its lowest balance after) ->
  the action is brought up to date in place (wording, dates, drafts, basis) and keeps its approvals;
- other figures, or nothing left to propose -> a fresh action replaces it, and the old one is
  superseded by whoever restated it (the pipeline, or an approval, which is then refused with
  ``FIGURES_CHANGED``).

    basis = forecast_basis(ctx)

Restating itself (``check_basis`` before an approval, ``announce`` after) is
``tamio.preparation.restating``: it runs the preparation engine, which builds on this module.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from tamio.db import Decoded
from tamio.forecast.engine import ForecastItem
from tamio.obligations.habits import Habits, PaymentBehaviour
from tamio.preparation.commitments import ChaseInfo
from tamio.preparation.context import CashInfo, ClientInfo, PreparationContext, VendorInfo, jsonable
from tamio.preparation.drafts import ActionDraft, OptionDraft
from tamio.preparation.models import ActionOption, PreparedAction

FIGURES_CHANGED = "The figures changed since this was prepared; here they are now."
THOUSANDTH = Decimal("0.001")
Figures = tuple[Any, ...]


def forecast_basis(ctx: PreparationContext) -> str:
    """The digest of every input an action's figures depend on (64 hex characters)."""
    return basis_digest(
        today=ctx.today, opening_balance=ctx.opening_balance, buffer=ctx.buffer, payroll_buffer_percent=ctx.payroll_buffer_percent,
        chase_cooloff_days=ctx.chase_cooloff_days, forecast_items=ctx.forecast_items, cash_accounts=ctx.cash_accounts,
        schedules=[(s.id, s.due_date, s.amount, s.base_amount, s.status, s.client_id, s.vendor_id, s.delayed_from) for s in ctx.schedules],
        clients=ctx.clients.values(), vendors=ctx.vendors.values(), chases=ctx.chases.values(), habits=ctx.habits,
    )


# (id, due date, remaining, remaining in the base currency, status, client id, vendor id, moved from)
BasisSchedule = tuple[str, date, Decimal, Decimal, str, str | None, str | None, date | None]


def basis_digest(
    *, today: date, opening_balance: Decimal, buffer: Decimal, payroll_buffer_percent: Decimal, chase_cooloff_days: int,
    forecast_items: Iterable[ForecastItem], cash_accounts: Iterable[CashInfo], schedules: Sequence[BasisSchedule],
    clients: Iterable[ClientInfo], vendors: Iterable[VendorInfo], chases: Iterable[ChaseInfo], habits: Habits,
) -> str:
    """``forecast_basis`` from its parts: a context's, or what a run's snapshot has (``tamio.preparation.basis``,
    which checks the pending cards without building a context).

    One line per fact, amounts to thousandths (so 10000 and 10000.000 digest alike); written by hand
    rather than as JSON because the hourly run digests every account's thousands of schedules. Where
    a receivable is expected is worked out from what is here (its due date and amount, the day, how
    its client pays: ``habits``), so the basis has those rather than the expected dates themselves."""
    q = _THOUSANDTHS.__getitem__
    lines = [f"day {today} opening {q(opening_balance)} buffer {q(buffer)} payroll {q(payroll_buffer_percent)} "
             f"cooloff {chase_cooloff_days}"]
    lines += sorted(f"item {i.date} {i.direction} {q(i.amount)} {q(i.confidence)}" for i in forecast_items)
    lines += [f"cash {c.id} {c.account_type} {q(c.base_balance)} {q(c.credit_limit)} {q(c.drawn_amount)} {q(c.committed)} "
              f"{q(c.interest_rate_pct)}" for c in cash_accounts]
    # An account with more open schedules than the cache keeps writes its lines afresh: they would not
    # stay until its next run, and filling the cache over and over costs more than it saves.
    lines += map(_SCHEDULE_LINES.__getitem__ if len(schedules) <= _SCHEDULE_LINES.LIMIT // 2 else _schedule_line, schedules)
    lines += sorted(f"client {c.id} {c.relationship_type} {c.avg_payment_delay_days} {q(c.revenue_percent)} {c.contact_email} "
                    f"{','.join(c.tags)}" for c in clients)
    lines += sorted(f"vendor {v.id} {v.category} {v.flexibility_level} {v.criticality} {v.payment_terms_days} {v.delay_count} "
                    f"{v.contact_email}" for v in vendors)
    lines += sorted(f"chase {c.schedule_id} {c.on} {c.tone}" for c in chases)
    written: dict[int, str] = {}  # clients share behaviours (a stated delay's, the due date's): each written once
    lines.append(f"habit account {_behaviour(habits.account, written)}")
    lines += sorted(f"habit {client_id} {_behaviour(b, written)}" for client_id, b in habits.clients.items())
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _behaviour(b: PaymentBehaviour, written: dict[int, str]) -> str:
    """What of a behaviour places a receivable (``tamio.forecast.behaviour``): its first day and weights."""
    found = written.get(id(b))
    if found is None:
        found = written[id(b)] = f"{b.first} {','.join(map(str, b.weights))}"
    return found


def _schedule_line(s: BasisSchedule) -> str:
    i, due, amount, base, status, client, vendor, moved = s
    q = _THOUSANDTHS.__getitem__
    return f"schedule {i} {due} {q(amount)} {q(base)} {status} {client} {vendor} {moved}"


# Each schedule's line written once while its facts stay the same: the hourly run digests the same
# thousands of schedules (equal facts write alike, so a cached line is the line they would write).
_SCHEDULE_LINES = Decoded(_schedule_line, {})


def _thousandths(value: Decimal | None) -> str:
    return "-" if value is None else format(Decimal(value).quantize(THOUSANDTH), "f")


# Each distinct amount written once: a basis writes thousands, most of them repeating (equal amounts
# write alike, whatever their exponent: 10000 and 10000.000 are one key).
_THOUSANDTHS = Decoded(_thousandths, {None: "-"})


def _money(value: Decimal | None) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(THOUSANDTH)


def touched(kind: str, params: dict[str, Any]) -> tuple[str, ...]:
    """What an option moves: the payments (and their new dates), invoices, agreements and cash accounts."""
    found: set[str] = set()
    for step in [{"kind": kind, **params}, *(params.get("steps") or [])]:
        for key in ("schedule_id", "cash_account_id", "from_cash_account_id", "to_cash_account_id", "agreement_id",
                    "payroll_schedule_id"):
            if step.get(key):
                found.add(f"{key}={step[key]}")
        found.update(f"schedule_id={s}" for s in step.get("schedule_ids") or [])
        found.update(f"move={m.get('schedule_id')}->{m.get('new_date')}" for m in step.get("moves") or [])
        if step.get("new_amount") is not None:
            found.add(f"new_amount={step['new_amount']}")
    return tuple(sorted(found))


def figures_of(action: PreparedAction, options: Sequence[ActionOption]) -> Figures:
    """The figures a person approves: the amounts, what each option moves and the lowest balance after it."""
    return (
        action.action_type.value, _money(action.amount), action.currency, action.counterparty_id,
        tuple((o.kind, _money(o.amount), o.currency, _money(o.forecast_lowest_balance), o.counterparty_id,
               touched(o.kind, dict(o.params or {}))) for o in sorted(options, key=lambda o: o.rank)),
    )


def figures_of_draft(draft: ActionDraft) -> Figures:
    return (
        draft.action_type, _money(draft.amount), draft.currency, draft.counterparty_id,
        tuple((o.kind, _money(o.amount), o.currency, _money(o.forecast.lowest_closing_balance), o.counterparty_id,
               touched(o.kind, jsonable(o.params))) for o in draft.options),
    )


def bring_up_to_date(action: PreparedAction, options: Sequence[ActionOption], draft: ActionDraft, *, basis: str, now: datetime) -> bool:
    """Same figures on a new basis: the wording, dates and drafts follow; True when the card shows something new."""
    action.forecast_basis = basis
    changed = _assign(action, title=draft.title[:300], summary=draft.summary, deadline=draft.deadline)
    for row, fresh in zip(sorted(options, key=lambda o: o.rank), draft.options, strict=True):
        changed |= _assign(row, **_option_text(fresh))
    if changed:
        action.version += 1  # an approval racing with this sees the card it approves has changed
        action.updated_at = now
    return changed


def _option_text(o: OptionDraft) -> dict[str, Any]:
    return {
        "title": o.title[:300], "description": o.description, "recipient_email": o.recipient_email,
        "draft_subject": o.drafted_subject[:300] if o.drafted_subject else None, "draft_body": o.drafted_body, "draft_tone": o.draft_tone,
        "forecast_lowest_week": o.forecast.lowest_week_start, "params": jsonable(o.params),
        "counterparty_name": (o.counterparty_name or None) and o.counterparty_name[:200],
        "relationship_risk": o.risk.relationship, "operational_risk": o.risk.operational, "financial_cost": o.risk.financial,
        "composite_risk": o.risk.composite, "risk_level": o.risk.level,
    }


def _assign(row: Any, **values: Any) -> bool:
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed

"""Options that several agents offer: draw on a credit line, delay flexible vendors, chase receivables.

Each returns an ``OptionDraft`` whose forecast effect is a delta against the run's base forecast
with the option applied (``PreparationContext.effect``), or ``None`` when the option is not available (no credit line, no flexible vendor).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import ROUND_CEILING, Decimal

from tamio.dates import day_text
from tamio.forecast.engine import OUTFLOW, ForecastItem
from tamio.money import format_money, quantize
from tamio.preparation.context import PreparationContext
from tamio.preparation.context_records import ScheduleInfo
from tamio.preparation.drafts import (
    OptionDraft,
    delay_target,
    pick_until,
    receive_now,
    relationship_for_client,
    relationship_for_vendor,
    risk,
    vendor_delay_candidates,
)
from tamio.preparation.message_drafting import draft_vendor_delay_request
from tamio.preparation.recipes import collection_email_recipe
from tamio.preparation.risk_scoring import RelationshipFactors
from tamio.scenarios.resolve import draw_delta, repayment

ZERO = Decimal(0)


def round_up(amount: Decimal, step: Decimal = Decimal(500)) -> Decimal:
    return (amount / step).to_integral_value(rounding=ROUND_CEILING) * step


def credit_draw(
    ctx: PreparationContext, *, needed: Decimal, deadline: date | None, why: str, funds_through: date | None = None
) -> OptionDraft | None:
    """Draw what is needed (rounded up to $500) on the line with the most credit available.

    ``funds_through``: the last day whose payments the money is raised for (linking puts the draw
    before the actions paying them); ``None`` when it is raised for no payment in particular."""
    lines = sorted(ctx.credit_lines, key=lambda c: -c.available_credit)
    if not lines or needed <= 0:
        return None
    line = lines[0]
    amount = min(line.available_credit, round_up(needed))
    amount = quantize(amount, ctx.base_currency)
    # The same draw as the what-if `draw "LINE" AMOUNT`: one rule for the repayment, one engine for the effect.
    repay, interest = repayment(amount, line.interest_rate_pct, on=ctx.today, currency=ctx.base_currency)
    target = ctx.operating_accounts[0] if ctx.operating_accounts else None
    assert ctx.scenario is not None
    effect = ctx.effect_of(draw_delta(ctx.scenario, amount=amount, on=ctx.today, rate_pct=line.interest_rate_pct))
    money = format_money(amount, ctx.base_currency)
    return OptionDraft(
        kind="credit_draw",
        title=f"Draw {money} on {line.name}",
        description=f"{why} Repay {money}{' plus ' + format_money(interest, ctx.base_currency) + ' interest' if interest else ''} by {day_text(repay)}.",
        amount=amount,
        currency=ctx.base_currency,
        counterparty_type="cash_account",
        counterparty_id=line.id,
        counterparty_name=line.name,
        risk=risk(ctx, RelationshipFactors(relationship_type="transactional"), reversibility="irreversible", amount=amount, deadline=deadline, fees=interest),
        forecast=effect,
        params={
            "cash_account_id": line.id,
            "target_cash_account_id": target.id if target else None,
            "amount": format(amount, "f"),
            "repayment_date": repay.isoformat(),
            "interest": format(interest, "f"),
            **_through(funds_through),
        },
    )


def delay_vendors(
    ctx: PreparationContext, *, start: date, end: date, needed: Decimal, past: date, deadline: date | None, reason: str
) -> OptionDraft | None:
    """Ask the vendors that can wait (``vendor_delay_candidates``) for time on payments due in [start,
    end] that cover ``needed``, each to a date past ``past``."""
    candidates = pick_until(vendor_delay_candidates(ctx, start, end), needed)
    if not candidates:
        return None
    return delay_payments(ctx, candidates, past=past, deadline=deadline, reason=reason)


def delay_payments(ctx: PreparationContext, candidates: Sequence[ScheduleInfo], *, past: date, deadline: date | None, reason: str) -> OptionDraft:
    """The option that asks each of these payments' vendors for a later date (an email each)."""
    moves = []
    adjustments: list[ForecastItem] = []
    emails = []
    for schedule in candidates:
        vendor = ctx.vendors[schedule.vendor_id or ""]
        new_date = delay_target(ctx, schedule, at_least=past)
        moves.append({"schedule_id": schedule.id, "new_date": new_date.isoformat(), "vendor_id": vendor.id})
        adjustments += [
            ForecastItem(date=max(ctx.today, schedule.due_date), amount=-schedule.base_amount, direction=OUTFLOW),
            ForecastItem(date=new_date, amount=schedule.base_amount, direction=OUTFLOW),
        ]
        mail = draft_vendor_delay_request(
            vendor_name=vendor.name, amount=schedule.amount, currency=schedule.currency, original_date=schedule.due_date,
            proposed_date=new_date, contact_name=vendor.contact_name, reason=reason, company_name=ctx.account_name,
            invoice_number=schedule.invoice_number,
        )
        emails.append({"vendor_id": vendor.id, "to": vendor.contact_email, "subject": mail["subject"], "body": mail["body"]})
    total = sum((s.base_amount for s in candidates), ZERO)
    names = ", ".join(ctx.vendors[s.vendor_id or ""].name for s in candidates)
    first = candidates[0]
    scores = [
        risk(ctx, relationship_for_vendor(ctx, s.vendor_id), reversibility="reversible", amount=s.base_amount, deadline=deadline, counterparties=len(candidates))
        for s in candidates
    ]
    worst = max(scores, key=lambda r: r.composite)
    when = ", ".join(f"{ctx.vendors[s.vendor_id or ''].name} to {m['new_date']}" for s, m in zip(candidates, moves, strict=True))
    return OptionDraft(
        kind="delay_payment",
        title=f"Delay {format_money(total, ctx.base_currency)} of payments to {names}"[:300],
        description=f"Ask to pay later: {when}. Only vendors that can wait are asked; none is critical.",
        amount=total,
        currency=ctx.base_currency,
        counterparty_type="expense_bucket",
        counterparty_id=first.vendor_id,
        counterparty_name=names[:200],
        recipient_email=emails[0]["to"],
        draft_subject=emails[0]["subject"],
        draft_body=emails[0]["body"],
        risk=worst,
        forecast=ctx.effect(adjustments),
        params={"moves": moves, "schedule_ids": [s.id for s in candidates], "new_date": moves[0]["new_date"], "notify_vendor": True, "emails": emails},
    )


def chase_receivable(ctx: PreparationContext, schedule: ScheduleInfo, *, tone: str | None = None, deadline: date | None = None) -> OptionDraft:
    client = ctx.clients.get(schedule.client_id or "")
    days_overdue = max(0, (ctx.today - schedule.due_date).days)
    record = None
    if client is not None:
        record = "poor" if client.avg_payment_delay_days >= 20 or client.payment_risk in ("high", "critical") else (
            "good" if client.avg_payment_delay_days <= 2 else "mixed")
    mail = collection_email_recipe(
        client_name=schedule.counterparty_name,
        invoice_number=schedule.invoice_number,
        amount=schedule.amount,
        due_date=schedule.due_date,
        days_overdue=days_overdue,
        tone=tone,
        relationship_type=client.relationship_type if client else None,
        currency=schedule.currency,
        contact_name=client.contact_name if client else None,
        company_name=ctx.account_name,
        payment_record=record,
    )
    money = format_money(schedule.amount, schedule.currency)
    lateness = f"{days_overdue} days late" if days_overdue else f"due {day_text(schedule.due_date)}"
    last = ctx.last_chase(schedule)
    history = f" Last chased {last.describe()}." if last else ""
    extra = {"last_chased": {"on": last.on.isoformat(), "tone": last.tone, "text": last.describe()}} if last else {}
    return OptionDraft(
        kind="send_email",
        title=f"Email {schedule.counterparty_name}: {money}, {lateness} ({mail.tone})",
        description=f"Send a {mail.tone} reminder to {client.contact_email if client and client.contact_email else 'the client'} about {money}.{history}",
        amount=schedule.base_amount,
        currency=ctx.base_currency,
        counterparty_type="client",
        counterparty_id=schedule.client_id,
        counterparty_name=schedule.counterparty_name,
        recipient_email=client.contact_email if client else None,
        draft=mail,
        draft_tone=mail.tone,
        risk=risk(ctx, relationship_for_client(ctx, schedule.client_id), reversibility="partly_reversible", amount=schedule.base_amount, deadline=deadline),
        forecast=ctx.effect(receive_now(ctx, schedule)),
        params={"schedule_id": schedule.id, "client_id": schedule.client_id, "days_overdue": days_overdue, "template": f"collection_{mail.tone}",
                **extra},
    )


def transfer_from_savings(
    ctx: PreparationContext, *, needed: Decimal, deadline: date | None, why: str, funds_through: date | None = None
) -> OptionDraft | None:
    """Move what is needed from the fullest savings account to operating (``funds_through`` as for ``credit_draw``)."""
    savings = sorted(ctx.savings_accounts, key=lambda c: -c.base_balance)
    target = ctx.operating_accounts[0] if ctx.operating_accounts else None
    if not savings or target is None or needed <= 0:
        return None
    source = savings[0]
    amount = quantize(min(source.base_balance, round_up(needed)), ctx.base_currency)
    return OptionDraft(
        kind="transfer",
        title=f"Move {format_money(amount, ctx.base_currency)} from {source.name} to {target.name}",
        description=why,
        amount=amount,
        currency=ctx.base_currency,
        counterparty_type="cash_account",
        counterparty_id=source.id,
        counterparty_name=source.name,
        risk=risk(ctx, RelationshipFactors(relationship_type="transactional"), reversibility="reversible", amount=amount, deadline=deadline),
        forecast=ctx.effect(),  # money moves between the business's own accounts
        params={"from_cash_account_id": source.id, "to_cash_account_id": target.id, "amount": format(amount, "f"), **_through(funds_through)},
    )


def _through(funds_through: date | None) -> dict[str, str]:
    return {"funds_through": funds_through.isoformat()} if funds_through is not None else {}

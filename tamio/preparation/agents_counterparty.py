"""Agents for alerts about one client or vendor: late payers, churn, vendor terms, expense spikes,
revenue variance and payroll changes. Pure functions ``agent(alert, ctx) -> ActionDraft | None``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from tamio.dates import day_text
from tamio.forecast.engine import ForecastItem
from tamio.money import format_money
from tamio.preparation.agents_cash import forecast_adjustment
from tamio.preparation.alerts import AlertView
from tamio.preparation.building_blocks import chase_receivable, delay_payments
from tamio.preparation.context import PreparationContext
from tamio.preparation.context_records import ScheduleInfo
from tamio.preparation.drafts import (
    ActionDraft,
    OptionDraft,
    pick_until,
    rank,
    relationship_for_client,
    relationship_for_vendor,
    risk,
    vendor_delay_candidates,
)
from tamio.preparation.message_drafting import shared_environment
from tamio.preparation.recipes import collection_escalation_recipe

ZERO = Decimal(0)
TONES = ("soft", "professional", "firm")


def _render(template: str, **values: str) -> tuple[str, str]:
    text = shared_environment().get_template(template).render(**values)
    subject_line, _, body = text.partition("\n")
    return subject_line.removeprefix("Subject: ").strip(), body.strip() + "\n"


def _alert_schedule(alert: AlertView, ctx: PreparationContext, candidates: Callable[[], list[ScheduleInfo]]) -> ScheduleInfo | None:
    """The alert's own schedule, else the first of ``candidates()`` (computed only when needed)."""
    wanted = str(alert.context.get("schedule_id") or (alert.entity_id if "schedule" in alert.entity_type else ""))
    if wanted:
        found = ctx.schedule(wanted)
        if found is not None:
            return found
    fallback = candidates()
    return fallback[0] if fallback else None


def invoice_followup_agent(alert: AlertView, ctx: PreparationContext) -> ActionDraft | None:
    """A late payer: collection emails in the right tone, and an escalation once it is a month late."""
    client_id = str(alert.context.get("client_id") or (alert.entity_id if alert.entity_type == "client" else "") or "")
    schedule = _alert_schedule(
        alert, ctx, lambda: sorted((s for s in ctx.overdue_receivables() if not client_id or s.client_id == client_id), key=lambda s: s.due_date)
    )
    if schedule is None or not ctx.may_chase(schedule):
        return None  # chased within the cool-off: the alert stays open, no second chase is proposed yet
    recommended = chase_receivable(ctx, schedule, deadline=ctx.today)
    options: list[OptionDraft] = [recommended]
    tone = recommended.draft_tone or "professional"
    if tone != "firm":
        options.append(chase_receivable(ctx, schedule, tone=TONES[TONES.index(tone) + 1], deadline=ctx.today))
    days = (ctx.today - schedule.due_date).days
    action_type = "invoice_follow_up"
    if days >= 30:
        client = ctx.clients.get(schedule.client_id or "")
        mail = collection_escalation_recipe(
            client_name=schedule.counterparty_name, invoice_number=schedule.invoice_number,
            amount=schedule.amount, due_date=schedule.due_date, days_overdue=days, pay_by=ctx.today + timedelta(days=7),
            currency=schedule.currency, contact_name=client.contact_name if client else None, company_name=ctx.account_name, previous_reminders=1,
        )
        escalation = replace(
            recommended, title=f"Send {schedule.counterparty_name} a final notice for {format_money(schedule.amount, schedule.currency)}",
            description="A final notice with a pay-by date and what happens next.", draft=mail, draft_subject=None, draft_body=None,
            draft_tone=mail.tone, params={**recommended.params, "template": "collection_escalation"},
            risk=risk(ctx, relationship_for_client(ctx, schedule.client_id), reversibility="partly_reversible", amount=schedule.base_amount, deadline=ctx.today, steps=2),
        )
        options.append(escalation)
        action_type = "collection_escalation" if recommended.draft_tone == "firm" else action_type
    client = ctx.clients.get(schedule.client_id or "")
    tags = tuple(client.tags) + ((client.relationship_type,) if client and client.relationship_type else ()) if client else ()
    return ActionDraft(
        action_type=action_type, title=alert.title, summary=alert.explanation, options=rank(options, buffer=ctx.buffer),
        amount=schedule.base_amount, currency=ctx.base_currency, counterparty_type="client", counterparty_id=schedule.client_id,
        counterparty_name=schedule.counterparty_name, deadline=ctx.today, tags=tags,
    )


def _first_of_each_client(schedules: Iterable[ScheduleInfo]) -> Mapping[str, ScheduleInfo]:
    first: dict[str, ScheduleInfo] = {}
    for s in schedules:
        if s.client_id is not None:
            first.setdefault(s.client_id, s)
    return first


def client_retention_agent(alert: AlertView, ctx: PreparationContext) -> ActionDraft | None:
    """Revenue at risk from a client: check in with them, and stop counting on money that won't come."""
    client_id = str(alert.context.get("client_id") or alert.entity_id or "")
    client = ctx.clients.get(client_id)
    if client is None:
        return None
    options: list[OptionDraft] = []
    overdue = ctx.kept("first chaseable of each client", lambda: _first_of_each_client(ctx.chaseable_receivables())).get(client_id)
    if overdue is not None:
        options.append(chase_receivable(ctx, overdue, deadline=ctx.today))
    subject, body = _render(
        "emails/client_checkin.txt.j2", greeting=f"Hi {client.contact_name or client.name},",
        reason=str(alert.context.get("reason") or "We noticed a change in our recent invoices."), company_name=ctx.account_name,
    )
    future = [s for s in ctx.schedules_of_client(client_id) if s.due_date >= ctx.today]

    without = [ForecastItem(date=day, amount=-amount, direction="inflow") for s in future for day, amount in s.where_expected(ctx.today)]
    options.append(OptionDraft(
        kind="send_email", title=f"Check in with {client.name}", description="A friendly call request to hear what changed.",
        amount=sum((s.base_amount for s in future), ZERO), currency=ctx.base_currency, counterparty_type="client", counterparty_id=client.id,
        counterparty_name=client.name, recipient_email=client.contact_email, draft_subject=subject, draft_body=body, draft_tone="soft",
        risk=risk(ctx, relationship_for_client(ctx, client.id), reversibility="partly_reversible", amount=ZERO, deadline=None),
        forecast=ctx.effect(without), params={"client_id": client.id, "template": "client_checkin"},
    ))
    return ActionDraft(
        action_type="payment_reminder", title=alert.title, summary=alert.explanation, options=rank(options, buffer=ctx.buffer),
        amount=alert.amount, currency=ctx.base_currency, counterparty_type="client", counterparty_id=client.id, counterparty_name=client.name,
        tags=tuple(client.tags) + ((client.relationship_type,) if client.relationship_type else ()),
    )


def vendor_payment_agent(alert: AlertView, ctx: PreparationContext) -> ActionDraft | None:
    """A vendor payment falls due soon: batch it for payment, or ask for more time if the vendor can wait."""
    vendor_id = str(alert.context.get("vendor_id") or (alert.entity_id if alert.entity_type in ("expense", "expense_bucket", "vendor") else "") or "")
    schedule = _alert_schedule(alert, ctx, lambda: sorted(
        (s for s in (ctx.schedules_of_vendor(vendor_id) if vendor_id else ctx.schedules) if s.direction != "inflow" and s.due_date >= ctx.today),
        key=lambda s: s.due_date,
    ))
    if schedule is None:
        return None
    vendor = ctx.vendors.get(schedule.vendor_id or "")
    money = format_money(schedule.amount, schedule.currency)
    pay = OptionDraft(
        kind="queue_payments", title=f"Pay {schedule.counterparty_name} {money} by {day_text(schedule.due_date)}",
        description="Add it to this week's payment batch.", amount=schedule.base_amount, currency=ctx.base_currency,
        counterparty_type="expense_bucket", counterparty_id=schedule.vendor_id, counterparty_name=schedule.counterparty_name,
        risk=risk(ctx, relationship_for_vendor(ctx, schedule.vendor_id), reversibility="irreversible", amount=schedule.base_amount, deadline=schedule.due_date),
        forecast=ctx.effect(), params={"schedule_ids": [schedule.id]},
    )
    options: list[OptionDraft] = [pay]
    # Offered only when this payment alone is the one to delay (its vendor's first that day, covering itself):
    # chosen first, so that the email is written only for the option offered.
    if ctx.can_delay(schedule) and pick_until(vendor_delay_candidates(ctx, schedule.due_date, schedule.due_date), schedule.base_amount) == [schedule]:
        options.append(delay_payments(ctx, [schedule], past=schedule.due_date, deadline=schedule.due_date, reason="we are timing our payments this month"))
    return ActionDraft(
        action_type="payment_batch", title=alert.title, summary=alert.explanation, options=rank(options, buffer=ctx.buffer),
        amount=schedule.base_amount, currency=ctx.base_currency, counterparty_type="expense_bucket", counterparty_id=schedule.vendor_id,
        counterparty_name=schedule.counterparty_name, deadline=schedule.due_date,
        tags=tuple(vendor.tags) + ((vendor.criticality,) if vendor and vendor.criticality else ()) if vendor else (),
    )


def expense_review_agent(alert: AlertView, ctx: PreparationContext) -> ActionDraft | None:
    """A vendor charged more than expected: ask why, or accept it as the new amount going forward."""
    vendor_id = str(alert.context.get("vendor_id") or alert.entity_id or "")
    vendor = ctx.vendors.get(vendor_id)
    currency = str(alert.context.get("currency") or ctx.base_currency)
    expected = Decimal(str(alert.context.get("expected_amount") or 0))
    actual = Decimal(str(alert.context.get("actual_amount") or alert.amount or 0))
    options: list[OptionDraft] = []
    if vendor is not None:
        subject, body = _render(
            "emails/vendor_query.txt.j2", greeting=f"Hi {vendor.contact_name or vendor.name},", actual=format_money(actual, currency),
            expected=format_money(expected, currency), difference=format_money(actual - expected, currency), company_name=ctx.account_name,
        )
        options.append(OptionDraft(
            kind="send_email", title=f"Ask {vendor.name} about the extra {format_money(actual - expected, currency)}",
            description="A short query before anything else is paid at the new amount.", amount=actual - expected, currency=currency,
            counterparty_type="expense_bucket", counterparty_id=vendor.id, counterparty_name=vendor.name, recipient_email=vendor.contact_email,
            draft_subject=subject, draft_body=body,
            risk=risk(ctx, relationship_for_vendor(ctx, vendor.id), reversibility="partly_reversible", amount=ZERO, deadline=None),
            forecast=ctx.effect(), params={"vendor_id": vendor.id, "template": "vendor_query"},
        ))
    adjusted = forecast_adjustment(alert, ctx, action_type="payment_batch")
    if adjusted is not None:
        options.extend(adjusted.options)
    if not options:
        return None
    return ActionDraft(
        action_type="payment_batch", title=alert.title, summary=alert.explanation, options=rank(options, buffer=ctx.buffer),
        amount=actual, currency=currency, counterparty_type="expense_bucket", counterparty_id=vendor_id or None,
        counterparty_name=vendor.name if vendor else alert.entity_name,
    )


def revenue_variance_agent(alert: AlertView, ctx: PreparationContext) -> ActionDraft | None:
    """Revenue differs from what was expected: chase what is short, or adjust the forecast."""
    options: list[OptionDraft] = [chase_receivable(ctx, s, deadline=ctx.today) for s in ctx.chaseable_receivables()[:2]]
    adjusted = forecast_adjustment(alert, ctx, action_type="payment_reminder")
    if adjusted is not None:
        options.extend(adjusted.options)
    if not options:
        return None
    return ActionDraft(action_type="payment_reminder", title=alert.title, summary=alert.explanation, options=rank(options, buffer=ctx.buffer),
                       amount=alert.amount, currency=ctx.base_currency)


def headcount_review_agent(alert: AlertView, ctx: PreparationContext) -> ActionDraft | None:
    """A new hire or a raise: confirm the payroll going forward, with what it does to the forecast."""
    payrolls = sorted((s for s in ctx.schedules_of_type("payroll") if s.due_date >= ctx.today), key=lambda s: s.due_date)
    agreement_id = str(alert.context.get("agreement_id") or "")
    mine = [s for s in payrolls if not agreement_id or s.agreement_id == agreement_id] or payrolls
    if not mine:
        return None
    nxt = mine[0]
    option = OptionDraft(
        kind="confirm_plan", title=f"Confirm payroll of {format_money(nxt.amount, nxt.currency)} from {day_text(nxt.due_date)}",
        description=f"{len(mine)} payroll runs in the next 13 weeks at the new amount; the forecast already includes them.",
        amount=nxt.base_amount, currency=ctx.base_currency, counterparty_type="expense_bucket", counterparty_id=nxt.vendor_id,
        counterparty_name=nxt.counterparty_name,
        risk=risk(ctx, relationship_for_vendor(ctx, nxt.vendor_id), reversibility="reversible", amount=nxt.base_amount, deadline=nxt.due_date),
        forecast=ctx.effect(), params={"confirm_schedule_ids": [s.id for s in mine], "steps": []},
    )
    return ActionDraft(action_type="payroll_confirmation", title=alert.title, summary=alert.explanation, options=(option,),
                       amount=nxt.base_amount, currency=ctx.base_currency, counterparty_type="expense_bucket",
                       counterparty_id=nxt.vendor_id, counterparty_name=nxt.counterparty_name, deadline=nxt.due_date, tags=("payroll",))

"""Detection rules about the people the business deals with: clients who pay late or leave, revenue
off its expected course, and payroll that grows (a single payment off its schedule, in or out, is
``rules_payments``).

Each rule is a pure function ``rule(snapshot, *, today, config) -> list[Finding]`` (see ``rules``).
Precise meanings (the issue's, where the design's table is terse):

- late_payment: an open receivable more than ``late_payment_threshold_days`` past due and later than
  the client's usual delay; 30+ days late EMERGENCY, 14+ THIS_WEEK, else UPCOMING.
- client_churn: a client with recurring revenue whose last recurring agreement ended or was
  cancelled in the last 60 days, or whose last ``churn_missed_payments`` recurring invoices are
  unpaid past their usual delay plus the late threshold. Strategic clients EMERGENCY, others THIS_WEEK.
- revenue_variance: money received in the 30 days before today against what was expected in them
  (each receivable on its due date moved by the client's usual delay) differs by more than
  ``revenue_variance_pct``. THIS_WEEK. Quiet until the account's record (its first day, or an earlier
  recorded payment) covers the whole window.
- headcount_change: a payroll agreement added, or a payroll amount raised, in the last
  ``headcount_lookback_days`` (agreements set up on the account's first day are not news). THIS_WEEK.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from tamio.detection.configuration import EffectiveConfig
from tamio.detection.findings import (
    EMERGENCY,
    THIS_WEEK,
    UPCOMING,
    Finding,
    context,
    day,
    money,
    pct,
    plural,
    to_minor_units,
)
from tamio.detection.models import DetectionType
from tamio.detection.snapshot import (
    OPEN_STATUSES,
    AccountSnapshot,
    AgreementRecord,
    ScheduleRecord,
)

ZERO = Decimal(0)
HUNDRED = Decimal(100)
CHURN_LOOKBACK_DAYS = 60
REVENUE_WINDOW_DAYS = 30
LATE_EMERGENCY_DAYS = 30
LATE_THIS_WEEK_DAYS = 14
PER_MONTH = {
    "weekly": Decimal(52) / 12, "biweekly": Decimal(26) / 12, "semimonthly": Decimal(2), "monthly": Decimal(1),
    "quarterly": Decimal(1) / 3, "annually": Decimal(1) / 12,
}
EVERY = {
    "once": "once", "weekly": "a week", "biweekly": "every two weeks", "semimonthly": "twice a month",
    "monthly": "a month", "quarterly": "a quarter", "annually": "a year",
}


def days_reported_late(s: ScheduleRecord, snapshot: AccountSnapshot, *, today: date, threshold: int) -> int | None:
    """How many days late ``s`` is when late_payment reports it, else ``None``: an open receivable with
    money still owed, past due by more than ``threshold`` days and by more than its client's usual delay."""
    if s.direction != "inflow" or s.due_date >= today or s.status not in OPEN_STATUSES or s.remaining_base <= 0:
        return None
    days_late = (today - s.due_date).days
    if days_late <= threshold:
        return None
    client = snapshot.clients.get(s.client_id or "")
    return days_late if days_late > (client.avg_payment_delay_days if client else 0) else None


def late_payment(snapshot: AccountSnapshot, *, today: date, config: EffectiveConfig) -> list[Finding]:
    threshold = config.late_payment_threshold_days
    findings: list[Finding] = []
    part_paid: dict[str, list[date]] | None = None
    for s in snapshot.receivables:
        days_late = days_reported_late(s, snapshot, today=today, threshold=threshold)
        if days_late is None:
            continue
        client = snapshot.clients.get(s.client_id or "")
        usual = client.avg_payment_delay_days if client else 0
        name = client.name if client else snapshot.counterparty_name(agreement_id=s.agreement_id)
        severity = EMERGENCY if days_late >= LATE_EMERGENCY_DAYS else THIS_WEEK if days_late >= LATE_THIS_WEEK_DAYS else UPCOMING
        invoice = f"Invoice {s.invoice_number}" if s.invoice_number else "The invoice"
        # With no invoice paid in full (nothing learned, no delay entered) there is no habit to name.
        habit = (f"usually pays {plural(usual, 'day')} late" if usual > 0 else f"usually pays {plural(-usual, 'day')} early" if usual < 0
                 else "has paid no invoice in full yet" if s.paid_amount > 0 else "has no payments on record yet")
        if client is not None and client.payment_habit:
            habit = client.payment_habit  # learned from its payments: "usually pays 18-24 days late; lately later"
        late = f"{plural(days_late, 'day')} late"
        if s.paid_amount > 0:  # one card for the debt: what came already, and what is late (unexpected_revenue stays quiet)
            part_paid = _payment_days(snapshot) if part_paid is None else part_paid
            owed = f"{invoice} was due {day(s.due_date)}: {_paid_so_far(s, part_paid.get(s.id, []))}, {money(s.remaining, s.currency)} is {late}"
        else:
            owed = f"{invoice} for {money(s.remaining, s.currency)} was due {day(s.due_date)} and is {late}"
        findings.append(
            Finding(
                detection_type=DetectionType.LATE_PAYMENT, severity=severity, entity_type="client", entity_id=s.client_id,
                entity_name=name, title=f"{name} is {late}",
                explanation=f"{owed}; {name} {habit}, and you flag payments more than {plural(threshold, 'day')} late.",
                fingerprint=f"late_payment:schedule:{s.id}", amount=s.remaining_base, currency=snapshot.base_currency,
                due_date=s.due_date,
                context=context(
                    schedule_id=s.id, client_id=s.client_id, agreement_id=s.agreement_id, invoice_number=s.invoice_number,
                    days_late=days_late, usual_delay_days=usual, payment_habit=habit, threshold_days=threshold, outstanding=s.remaining,
                    currency=s.currency,
                ),
            )
        )
    return findings


def _payment_days(snapshot: AccountSnapshot) -> dict[str, list[date]]:
    """The days money came in against each schedule (the snapshot's payment history, oldest first)."""
    found: dict[str, list[date]] = defaultdict(list)
    for p in snapshot.payments:
        if p.direction == "inflow" and p.status == "completed" and p.schedule_id:
            found[p.schedule_id].append(p.payment_date)
    return found


def _paid_so_far(s: ScheduleRecord, days_paid: list[date]) -> str:
    """``$2,000.00 of $5,000.00 paid on Mon 30 Nov`` (the last day, when the history still holds it)."""
    paid = f"{money(s.paid_amount, s.currency)} of {money(s.amount, s.currency)} paid"
    if not days_paid:
        return paid
    return f"{paid} on {day(days_paid[-1])}" if len(days_paid) == 1 else f"{paid} in {len(days_paid)} parts, the last on {day(days_paid[-1])}"


def _ended_on(a: AgreementRecord, today: date) -> date | None:
    if a.status == "cancelled":
        return a.cancelled_at.date() if a.cancelled_at else None
    if a.end_date is not None and (a.status == "ended" or a.end_date < today):
        return a.end_date
    return None


def _monthly(a: AgreementRecord) -> Decimal:
    return a.base_amount * PER_MONTH.get(a.frequency, Decimal(1))


def client_churn(snapshot: AccountSnapshot, *, today: date, config: EffectiveConfig) -> list[Finding]:
    recurring: dict[str, list[AgreementRecord]] = defaultdict(list)
    for a in snapshot.agreements.values():
        if a.client_id and a.direction == "inflow" and a.is_recurring:
            recurring[a.client_id].append(a)
    if not recurring:
        return []
    recurring_ids = {a.id for agreements in recurring.values() for a in agreements}
    invoices: dict[str, list[ScheduleRecord]] = defaultdict(list)
    for s in snapshot.receivables:
        if s.agreement_id in recurring_ids and s.client_id and s.status != "cancelled":
            invoices[s.client_id].append(s)
    cur = snapshot.base_currency
    need = config.churn_missed_payments
    findings: list[Finding] = []
    for client_id, agreements in recurring.items():
        client = snapshot.clients.get(client_id)
        if client is None:
            continue
        grace = client.avg_payment_delay_days + config.late_payment_threshold_days
        reasons: list[str] = []
        texts: list[str] = []
        title = reason = ""
        amount = ZERO
        ended = [(a, _ended_on(a, today)) for a in agreements]
        still_running = [a for a, on in ended if on is None and a.status == "active"]
        lost = [(a, on) for a, on in ended if on is not None and 0 <= (today - on).days <= CHURN_LOOKBACK_DAYS]
        if lost and not still_running:
            last = max(on for _, on in lost)
            monthly = to_minor_units(sum((_monthly(a) for a, _ in lost), ZERO), cur)
            reasons.append("agreement_ended")
            texts.append(f"their recurring agreement ended on {day(last)} ({money(monthly, cur)} a month)")
            amount += monthly
            title = f"{client.name} ended their recurring agreement"
            reason = f"We noticed our agreement ended on {day(last)}."
        due = sorted((s for s in invoices.get(client_id, ()) if (today - s.due_date).days > grace), key=lambda s: (s.due_date, s.id))
        missed = due[-need:] if len(due) >= need else []
        if missed and all(s.paid_amount <= 0 and s.status != "paid" for s in missed):
            reasons.append("missed_payments")
            dates = " and ".join(day(s.due_date) for s in missed) if need <= 3 else f"{day(missed[0].due_date)} onwards"
            texts.append(f"the last {plural(need, 'invoice')} (due {dates}) are unpaid")
            amount += sum((s.remaining_base for s in missed), ZERO)
            if not title:
                title = f"{client.name} missed {plural(need, 'payment')} in a row"
                reason = f"We noticed the invoices due {dates} are still open."
        if not reasons:
            continue
        strategic = client.relationship_type == "strategic"
        findings.append(
            Finding(
                detection_type=DetectionType.CLIENT_CHURN, severity=EMERGENCY if strategic else THIS_WEEK, entity_type="client",
                entity_id=client_id, entity_name=client.name, title=title,
                explanation=f"{client.name} may be leaving: {'; '.join(texts)}." + (" They are a strategic client." if strategic else ""),
                fingerprint=f"client_churn:client:{client_id}", amount=amount, currency=cur,
                context=context(
                    client_id=client_id, reason=reason, reasons=reasons, relationship_type=client.relationship_type,
                    missed_schedule_ids=[s.id for s in missed], agreement_ids=[a.id for a in agreements],
                ),
            )
        )
    return findings


def revenue_variance(snapshot: AccountSnapshot, *, today: date, config: EffectiveConfig) -> list[Finding]:
    start = today - timedelta(days=REVENUE_WINDOW_DAYS)
    # "Actual" is what Tamio has on record: receipts are known from the account's first day, or from an
    # earlier payment brought in with its history. A window reaching before that compares invoices just
    # entered with receipts nobody recorded (day one: "100% below expected"), so it waits until the
    # record covers the whole window; the unpaid invoices themselves are late_payment's to raise.
    known = [d for d in (snapshot.account_created_on, min((p.payment_date for p in snapshot.payments), default=None)) if d]
    if not known or min(known) > start:
        return []
    expected = ZERO
    clients = snapshot.clients
    for s in snapshot.receivables:
        if s.due_date >= today or s.status == "cancelled":  # a usual delay only moves money later
            continue
        client = clients.get(s.client_id or "")
        on = s.due_date + timedelta(days=client.avg_payment_delay_days) if client and client.avg_payment_delay_days else s.due_date
        if start <= on < today:
            expected += s.base_amount
    if expected <= 0:
        return []
    actual = sum(
        (p.base_amount for p in snapshot.payments if p.direction == "inflow" and p.status == "completed" and start <= p.payment_date < today),
        ZERO,
    )
    limit = config.revenue_variance_pct
    gap = actual - expected
    if abs(gap) * HUNDRED <= expected * limit:
        return []
    share = abs(gap) * HUNDRED / expected
    where = "below" if gap < 0 else "above"
    cur = snapshot.base_currency
    end = today - timedelta(days=1)
    return [
        Finding(
            detection_type=DetectionType.REVENUE_VARIANCE, severity=THIS_WEEK, entity_type="metric", entity_id=None,
            entity_name="Revenue, last 30 days", title=f"Revenue is {pct(share)}% {where} expected",
            explanation=(
                f"From {day(start)} to {day(end)} {money(actual, cur)} came in against {money(expected, cur)} expected: "
                f"{pct(share)}% {where}, more than the {pct(limit)}% you allow."
            ),
            fingerprint="revenue_variance:trailing_30_days", amount=abs(gap), currency=cur,
            context=context(
                expected_amount=expected, actual_amount=actual, variance_pct=(gap * HUNDRED / expected).quantize(Decimal("0.1")),
                window_start=start, window_end=end, currency=cur,
            ),
        )
    ]


def headcount_change(snapshot: AccountSnapshot, *, today: date, config: EffectiveConfig) -> list[Finding]:
    since = today - timedelta(days=config.headcount_lookback_days)
    first_day = snapshot.account_created_on
    cur = snapshot.base_currency
    findings: list[Finding] = []
    for a in snapshot.agreements.values():
        vendor = snapshot.vendors.get(a.vendor_id or "")
        if a.status != "active" or not (a.obligation_type == "payroll" or (vendor is not None and vendor.category == "payroll")):
            continue
        name = vendor.name if vendor else (a.description or "Payroll")
        every = EVERY.get(a.frequency, "a run")
        created_on = a.created_at.date()
        if since <= created_on <= today and (first_day is None or created_on > first_day):
            findings.append(
                Finding(
                    detection_type=DetectionType.HEADCOUNT_CHANGE, severity=THIS_WEEK, entity_type="system", entity_id=a.id,
                    entity_name=name, title=f"New payroll: {name}, {money(a.amount, a.currency)} {every}",
                    explanation=f"A payroll of {money(a.amount, a.currency)} {every} from {day(a.start_date)} was added on {day(created_on)}.",
                    fingerprint=f"headcount_change:agreement:{a.id}:new", amount=a.base_amount, currency=cur, due_date=a.start_date,
                    context=context(agreement_id=a.id, vendor_id=a.vendor_id, change="new", amount_per_run=a.amount, currency=a.currency),
                )
            )
        changed = a.amount_changed_at.date() if a.amount_changed_at else None
        if a.previous_amount is not None and changed is not None and since <= changed <= today and a.base_amount > a.previous_amount:
            rise = a.base_amount - a.previous_amount
            share = rise * HUNDRED / a.previous_amount if a.previous_amount > 0 else HUNDRED
            findings.append(
                Finding(
                    detection_type=DetectionType.HEADCOUNT_CHANGE, severity=THIS_WEEK, entity_type="system", entity_id=a.id,
                    entity_name=name, title=f"Payroll for {name} rose by {money(rise, cur)} {every}",
                    explanation=(
                        f"{name} went from {money(a.previous_amount, cur)} to {money(a.base_amount, cur)} {every} "
                        f"({pct(share)}% more) on {day(changed)}."
                    ),
                    fingerprint=f"headcount_change:agreement:{a.id}:rise:{changed.isoformat()}", amount=rise, currency=cur,
                    context=context(
                        agreement_id=a.id, vendor_id=a.vendor_id, change="rise", previous_amount=a.previous_amount,
                        new_amount=a.base_amount, currency=cur,
                    ),
                )
            )
    return findings

"""Detection rules about single payments off their schedule: money in or out that was not expected.

Split from ``tamio.detection.rules_counterparty`` (rules about a client's or vendor's course over
time) because these look only at the payments of the last 30 days, one at a time, and measure each
against what its schedule expected. Pure functions ``rule(snapshot, *, today, config) -> list[Finding]``
(see ``rules``):

- unexpected_revenue: an incoming payment of the last 30 days that was unmatched, or off its
  schedule by more than ``unexpected_revenue_tolerance_pct`` of what was expected (an underpayment
  stops counting once the rest arrives). THIS_WEEK. While late_payment reports the rest, the
  underpayment is left to it (``days_reported_late``, applied by ``engine.evaluate``): one card
  for one debt, whose explanation says what was paid.
- unexpected_expense: an outgoing payment of the last 30 days above its expected amount by more than
  ``unexpected_expense_threshold_pct``. THIS_WEEK.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from tamio.detection.configuration import EffectiveConfig
from tamio.detection.findings import THIS_WEEK, Finding, context, day, money, pct, to_minor_units
from tamio.detection.models import DetectionType
from tamio.detection.snapshot import AccountSnapshot, PaymentRecord

HUNDRED = Decimal(100)
RECENT_PAYMENT_DAYS = 30


def _recent(p: PaymentRecord, today: date) -> bool:
    return p.status == "completed" and 0 <= (today - p.payment_date).days < RECENT_PAYMENT_DAYS


def _to_base(p: PaymentRecord, value: Decimal, base_currency: str) -> Decimal:
    """An amount in the payment's schedule currency, in the base currency."""
    if p.schedule_currency == base_currency:
        rate = Decimal(1)
    elif p.currency == p.schedule_currency and p.amount:
        rate = p.base_amount / p.amount
    else:
        rate = p.schedule_rate or Decimal(1)
    return to_minor_units(value * rate, base_currency)


def unexpected_revenue(snapshot: AccountSnapshot, *, today: date, config: EffectiveConfig) -> list[Finding]:
    tolerance = config.unexpected_revenue_tolerance_pct
    cur = snapshot.base_currency
    findings: list[Finding] = []
    for p in snapshot.payments:
        if p.direction != "inflow" or not _recent(p, today):
            continue
        client = snapshot.clients.get(p.client_id or "")
        payer = client.name if client else (p.reference or "an unknown payer")
        common = dict(payment_id=p.id, client_id=p.client_id, payment_date=p.payment_date, reference=p.reference)
        if p.schedule_id is None:
            findings.append(
                Finding(
                    detection_type=DetectionType.UNEXPECTED_REVENUE, severity=THIS_WEEK, entity_type="client", entity_id=p.client_id,
                    entity_name=payer, title=f"{money(p.amount, p.currency)} arrived from {payer} with no invoice to match",
                    explanation=f"{money(p.amount, p.currency)} from {payer} on {day(p.payment_date)} matches no expected payment.",
                    fingerprint=f"unexpected_revenue:payment:{p.id}", amount=p.base_amount, currency=cur, due_date=p.payment_date,
                    context=context(**common, variance_kind="unmatched", actual_amount=p.amount, currency=p.currency),
                )
            )
            continue
        expected, variance = p.expected_amount, p.variance_vs_expected
        if expected is None or variance is None or expected <= 0 or abs(variance) * HUNDRED <= expected * tolerance:
            continue
        if variance < 0 and p.schedule_status == "paid":
            continue  # the rest arrived later
        sched_cur = p.schedule_currency or p.currency
        share = abs(variance) * HUNDRED / expected
        more = "more" if variance > 0 else "less"
        findings.append(
            Finding(
                detection_type=DetectionType.UNEXPECTED_REVENUE, severity=THIS_WEEK, entity_type="client", entity_id=p.client_id,
                entity_name=payer, title=f"{payer} paid {money(abs(variance), sched_cur)} {more} than expected",
                explanation=(
                    f"{money(expected + variance, sched_cur)} arrived on {day(p.payment_date)} against {money(expected, sched_cur)} "
                    f"expected: {pct(share)}% {more}, beyond the {pct(tolerance)}% you let pass."
                ),
                fingerprint=f"unexpected_revenue:payment:{p.id}", amount=_to_base(p, abs(variance), cur), currency=cur,
                due_date=p.payment_date,
                context=context(
                    **common, schedule_id=p.schedule_id, agreement_id=p.agreement_id, variance_kind="over" if variance > 0 else "under",
                    expected_amount=expected, actual_amount=expected + variance, variance=variance, currency=sched_cur,
                ),
            )
        )
    return findings


def unexpected_expense(snapshot: AccountSnapshot, *, today: date, config: EffectiveConfig) -> list[Finding]:
    threshold = config.unexpected_expense_threshold_pct
    cur = snapshot.base_currency
    findings: list[Finding] = []
    for p in snapshot.payments:
        if p.direction == "inflow" or p.schedule_id is None or not _recent(p, today):
            continue
        expected, variance = p.expected_amount, p.variance_vs_expected
        if expected is None or variance is None or expected <= 0 or variance * HUNDRED <= expected * threshold:
            continue
        vendor = snapshot.vendors.get(p.vendor_id or "")
        name = vendor.name if vendor else snapshot.counterparty_name(agreement_id=p.agreement_id)
        sched_cur = p.schedule_currency or p.currency
        share = variance * HUNDRED / expected
        findings.append(
            Finding(
                detection_type=DetectionType.UNEXPECTED_EXPENSE, severity=THIS_WEEK, entity_type="expense", entity_id=p.vendor_id,
                entity_name=name, title=f"{name} charged {pct(share)}% more than expected",
                explanation=(
                    f"{money(expected + variance, sched_cur)} went to {name} on {day(p.payment_date)} against "
                    f"{money(expected, sched_cur)} expected: {money(variance, sched_cur)} more, above your {pct(threshold)}% threshold."
                ),
                fingerprint=f"unexpected_expense:payment:{p.id}", amount=_to_base(p, variance, cur), currency=cur,
                due_date=p.payment_date,
                context=context(
                    payment_id=p.id, schedule_id=p.schedule_id, agreement_id=p.agreement_id, vendor_id=p.vendor_id,
                    expected_amount=expected, actual_amount=expected + variance, variance_pct=share.quantize(Decimal("0.1")),
                    threshold_pct=threshold, currency=sched_cur,
                ),
            )
        )
    return findings

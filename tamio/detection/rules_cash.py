"""Detection rules about the business's cash and its deadlines: the buffer, runway, payroll, clusters
of payments, vendor terms and statutory payments.

Each rule is a pure function ``rule(snapshot, *, today, config) -> list[Finding]`` (see ``rules``).
Precise meanings (the issue's, where the design's table is terse):

- buffer_breach: a forecast week closes below ``obligations_buffer_amount`` (strictly). One alert per
  account while the breach lasts, whichever week is lowest. EMERGENCY.
- runway_threshold: the runway (``tamio.forecast.runway``, against the effective buffer), in months
  of 30.4375 days rounded to 0.1, is below ``runway_buffer_months``; past the 13 weeks (a threshold
  above 3 months) it is estimated at the forecast's average weekly pace and said to be an estimate.
  Under 3 months EMERGENCY, else THIS_WEEK.
- payroll_safety: a payroll due today or within ``payroll_check_days_before`` days leaves less than
  ``payroll_buffer_percent`` of the payroll as cash at the end of its day (opening cash plus every
  forecast movement up to that day); due in under 5 days, or short by at least the payroll itself,
  EMERGENCY, else THIS_WEEK.
- payment_timing_conflict: one forecast week holds more than ``payment_cluster_threshold_pct`` of the
  13 weeks' outflows. THIS_WEEK. Keyed by the day of the week's largest outflow, so the alert does
  not change as the rolling forecast weeks move a day.
- vendor_terms_expiring: an open vendor payment (an expense, not payroll or tax) due within
  ``vendor_notice_days`` (7, inclusive), or already past due. THIS_WEEK.
- statutory_deadline: an open tax or statutory payment due within ``statutory_notice_days`` (14,
  inclusive); due in under 3 days (or overdue) EMERGENCY, else THIS_WEEK.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from tamio.detection.configuration import EffectiveConfig
from tamio.detection.findings import (
    EMERGENCY,
    THIS_WEEK,
    Finding,
    context,
    day,
    money,
    pct,
    plural,
    to_minor_units,
)
from tamio.detection.models import DetectionType
from tamio.detection.snapshot import OPEN_STATUSES, AccountSnapshot, ScheduleRecord
from tamio.forecast.engine import INFLOW, CashByDay, Forecast
from tamio.forecast.runway import DAYS_PER_MONTH, RUNWAY_WEEKS, describe_runway, runway_months, runway_weeks

ZERO = Decimal(0)
HUNDRED = Decimal(100)
RUNWAY_EMERGENCY_MONTHS = Decimal(3)
PAYROLL_EMERGENCY_DAYS = 5
STATUTORY_EMERGENCY_DAYS = 3
STATUTORY_CATEGORIES = frozenset({"tax", "statutory"})
NOT_VENDOR_CATEGORIES = frozenset({"payroll", "tax", "statutory"})


def buffer_breach(snapshot: AccountSnapshot, *, today: date, config: EffectiveConfig) -> list[Finding]:
    buffer = config.obligations_buffer_amount
    below = [w for w in snapshot.forecast.weeks if w.closing_balance < buffer]
    if not below:
        return []
    first = below[0]
    lowest = min(below, key=lambda w: (w.closing_balance, w.index))
    shortfall = buffer - lowest.closing_balance
    cur = snapshot.base_currency
    what = "your buffer" if buffer > 0 else "zero"
    return [
        Finding(
            detection_type=DetectionType.BUFFER_BREACH, severity=EMERGENCY, entity_type="system", entity_id=None,
            entity_name="Cash buffer", title=f"Cash falls {money(shortfall, cur)} below {what}",
            explanation=(
                f"The forecast closes the week of {day(first.start)} at {money(first.closing_balance, cur)}, under "
                + (f"your {money(buffer, cur)} buffer" if buffer > 0 else "zero")
                + f"; the lowest point is {money(lowest.closing_balance, cur)} in the week of {day(lowest.start)} "
                f"({plural(len(below), 'week')} below)."
            ),
            fingerprint="buffer_breach:account", amount=shortfall, currency=cur, due_date=first.start,
            context=context(
                buffer=buffer, first_breach_week_start=first.start, lowest_week_start=lowest.start,
                lowest_closing_balance=lowest.closing_balance, weeks_below=len(below), safety_mode=config.safety_mode.value,
            ),
        )
    ]


def runway_threshold(snapshot: AccountSnapshot, *, today: date, config: EffectiveConfig) -> list[Finding]:
    forecast = snapshot.forecast
    if not forecast.weeks:
        return []
    buffer = config.obligations_buffer_amount
    weeks = runway_weeks(forecast.opening_balance, forecast.weeks, buffer)
    cur = snapshot.base_currency
    weekly_net = (forecast.weeks[-1].closing_balance - forecast.opening_balance) / len(forecast.weeks)
    burn = to_minor_units(-weekly_net * DAYS_PER_MONTH / 7, cur) if weekly_net < 0 else None
    below = f"your {money(buffer, cur)} buffer" if buffer > 0 else "zero"
    if weeks is None:
        # Past the 13 weeks the runway is "more than 13 weeks"; a threshold beyond them is judged
        # on the forecast's average pace, and said to be an estimate.
        if burn is None:
            return []
        last = forecast.weeks[-1]
        estimate = Decimal(len(forecast.weeks)) + (last.closing_balance - buffer) / -weekly_net
        months = runway_months(estimate) or ZERO
        if months >= config.runway_buffer_months:
            return []
        title = f"Runway is more than {RUNWAY_WEEKS} weeks, about {pct(months)} months at this pace"
        runs_out = today + timedelta(days=int(estimate * 7))
        said = (f"Cash stays above {below} through the {len(forecast.weeks)}-week forecast, but at its pace, burning about "
                f"{money(burn, cur)} a month, it falls below around {day(runs_out)}: about {pct(months)} months")
    else:
        months = runway_months(weeks) or ZERO
        if months >= config.runway_buffer_months:
            return []
        runs_out = today + timedelta(days=int(weeks * 7))
        if weeks <= 0:
            title = "Cash is already below the buffer" if buffer > 0 else "Cash is already below zero"
            said = f"Cash today, {money(forecast.opening_balance, cur)}, is under {below}, so there is no runway"
        else:
            title = f"Runway is {describe_runway(weeks)}"
            pace = f", burning about {money(burn, cur)} a month," if burn is not None else ""
            said = f"At the forecast's pace{pace} cash falls below {below} around {day(runs_out)}: a runway of {describe_runway(weeks)}"
    limit = config.runway_buffer_months
    return [
        Finding(
            detection_type=DetectionType.RUNWAY_THRESHOLD, severity=EMERGENCY if months < RUNWAY_EMERGENCY_MONTHS else THIS_WEEK,
            entity_type="system", entity_id=None, entity_name="Runway", title=title,
            explanation=f"{said}, under your {pct(limit)}-month threshold.",
            fingerprint="runway_threshold:account", amount=burn, currency=cur, due_date=runs_out,
            context=context(
                runway_weeks=weeks, runway_months=months, threshold_months=limit, buffer=buffer, monthly_burn=burn,
                safety_mode=config.safety_mode.value,
            ),
        )
    ]


class _CashByDay(CashByDay):
    """``CashByDay`` of a forecast; one built without its items (keep_items=False) falls back to the
    week's close."""

    def __init__(self, forecast: Forecast) -> None:
        super().__init__(forecast.opening_balance, forecast.items)
        self.forecast = forecast
        self.by_week = not forecast.items and any(w.inflows or w.outflows for w in forecast.weeks)

    def at_end_of(self, when: date) -> Decimal:
        if self.by_week:
            week = self.forecast.week_of(when)
            return week.closing_balance if week else self.forecast.lowest_closing_balance
        return super().at_end_of(when)


def _is_payroll(snapshot: AccountSnapshot, s: ScheduleRecord) -> bool:
    if s.obligation_type == "payroll":
        return True
    vendor = snapshot.vendors.get(s.vendor_id or "")
    return vendor is not None and vendor.category == "payroll"


def payroll_safety(snapshot: AccountSnapshot, *, today: date, config: EffectiveConfig) -> list[Finding]:
    last = today + timedelta(days=config.payroll_check_days_before)
    payrolls = [
        s for s in snapshot.payables
        if today <= s.due_date <= last and s.status in OPEN_STATUSES and s.remaining_base > 0 and _is_payroll(snapshot, s)
    ]
    if not payrolls:
        return []
    cash = _CashByDay(snapshot.forecast)
    cur = snapshot.base_currency
    percent = config.payroll_buffer_percent
    findings: list[Finding] = []
    for s in payrolls:
        payroll = s.remaining_base
        after = cash.at_end_of(s.due_date)
        required = to_minor_units(payroll * percent / HUNDRED, cur)
        if after >= required:
            continue
        days = (s.due_date - today).days
        name = snapshot.counterparty_name(vendor_id=s.vendor_id, agreement_id=s.agreement_id)
        shortfall = required - after
        findings.append(
            Finding(
                detection_type=DetectionType.PAYROLL_SAFETY,
                # Soon, or short by more than the payroll itself (cash is gone before it is paid): act today.
                severity=EMERGENCY if days < PAYROLL_EMERGENCY_DAYS or shortfall >= payroll else THIS_WEEK,
                entity_type="system", entity_id=s.id, entity_name=name,
                title=f"Payroll on {day(s.due_date)} is {money(shortfall, cur)} short",
                explanation=(
                    f"The {money(payroll, cur)} payroll ({name}) on {day(s.due_date)} leaves {money(after, cur)} in cash; "
                    f"you want at least {pct(percent)}% of it ({money(required, cur)}) left after payroll."
                ),
                fingerprint=f"payroll_safety:schedule:{s.id}", amount=shortfall, currency=cur, due_date=s.due_date,
                context=context(
                    schedule_id=s.id, agreement_id=s.agreement_id, vendor_id=s.vendor_id, payroll_amount=payroll,
                    cash_after=after, required_buffer=required, buffer_percent=percent, days_until_due=days,
                ),
            )
        )
    return findings


def payment_timing_conflict(snapshot: AccountSnapshot, *, today: date, config: EffectiveConfig) -> list[Finding]:
    weeks = snapshot.forecast.weeks
    total = sum((w.outflows for w in weeks), ZERO)
    if total <= 0:
        return []
    limit = config.payment_cluster_threshold_pct
    heavy = [w for w in weeks if w.outflows * HUNDRED > total * limit]
    if not heavy:
        return []
    cur = snapshot.base_currency
    as_of = snapshot.forecast.as_of
    largest: dict[int, tuple[Decimal, date]] = {}
    for i in snapshot.forecast.items:
        if i.direction == INFLOW:
            continue
        index = max(0, (i.date - as_of).days // 7) + 1  # the forecast engine's week of the item
        largest[index] = max(largest.get(index, (i.amount, i.date)), (i.amount, i.date))
    findings: list[Finding] = []
    for w in heavy:
        anchor = largest[w.index][1] if w.index in largest else w.start
        share = w.outflows * HUNDRED / total
        findings.append(
            Finding(
                detection_type=DetectionType.PAYMENT_TIMING_CONFLICT, severity=THIS_WEEK, entity_type="system", entity_id=None,
                entity_name=f"Week of {day(w.start)}", title=f"{pct(share)}% of the next 13 weeks' payments fall in the week of {day(w.start)}",
                explanation=(
                    f"{money(w.outflows, cur)} of the {money(total, cur)} going out over the next 13 weeks is due between "
                    f"{day(w.start)} and {day(w.end)}: more than the {pct(limit)}% you allow in one week."
                ),
                fingerprint=f"payment_timing_conflict:day:{anchor.isoformat()}", amount=w.outflows, currency=cur, due_date=w.start,
                context=context(
                    week_start=w.start, week_end=w.end, share_pct=share.quantize(Decimal("0.1")), week_outflows=w.outflows,
                    total_outflows=total, largest_payment_date=anchor, threshold_pct=limit,
                ),
            )
        )
    return findings


def _when(days: int, due: date) -> str:
    if days < 0:
        return f"was due {day(due)}, {plural(-days, 'day')} ago"
    if days == 0:
        return "is due today"
    return f"is due {day(due)}, in {plural(days, 'day')}"


def vendor_terms_expiring(snapshot: AccountSnapshot, *, today: date, config: EffectiveConfig) -> list[Finding]:
    last = today + timedelta(days=config.vendor_notice_days)
    cur = snapshot.base_currency
    findings: list[Finding] = []
    for s in snapshot.payables:
        if s.due_date > last or s.obligation_type != "expense" or s.status not in OPEN_STATUSES or s.remaining_base <= 0:
            continue
        vendor = snapshot.vendors.get(s.vendor_id or "")
        if vendor is not None and vendor.category in NOT_VENDOR_CATEGORIES:
            continue
        name = vendor.name if vendor else snapshot.counterparty_name(agreement_id=s.agreement_id)
        days = (s.due_date - today).days
        terms = ""
        if vendor is not None and (vendor.payment_terms or vendor.payment_terms_days is not None):
            terms = f" ({(vendor.payment_terms or '').replace('_', ' ') or f'{vendor.payment_terms_days}-day'} terms)"
        amount, when = money(s.remaining, s.currency), _when(days, s.due_date)
        findings.append(
            Finding(
                detection_type=DetectionType.VENDOR_TERMS_EXPIRING, severity=THIS_WEEK, entity_type="expense", entity_id=s.vendor_id,
                entity_name=name, title=f"{name}: {amount} {when}", explanation=f"The {amount} payment to {name} {when}{terms}.",
                fingerprint=f"vendor_terms_expiring:schedule:{s.id}", amount=s.remaining_base, currency=cur, due_date=s.due_date,
                context=context(
                    schedule_id=s.id, vendor_id=s.vendor_id, agreement_id=s.agreement_id, days_until_due=days,
                    payment_terms=vendor.payment_terms if vendor else None,
                    payment_terms_days=vendor.payment_terms_days if vendor else None, amount=s.remaining, currency=s.currency,
                ),
            )
        )
    return findings


def statutory_deadline(snapshot: AccountSnapshot, *, today: date, config: EffectiveConfig) -> list[Finding]:
    last = today + timedelta(days=config.statutory_notice_days)
    cur = snapshot.base_currency
    findings: list[Finding] = []
    for s in snapshot.payables:
        if s.due_date > last or s.status not in OPEN_STATUSES or s.remaining_base <= 0:
            continue
        vendor = snapshot.vendors.get(s.vendor_id or "")
        if s.obligation_type != "tax" and (vendor is None or vendor.category not in STATUTORY_CATEGORIES):
            continue
        name = vendor.name if vendor else snapshot.counterparty_name(agreement_id=s.agreement_id)
        days = (s.due_date - today).days
        amount, when = money(s.remaining, s.currency), _when(days, s.due_date)
        findings.append(
            Finding(
                detection_type=DetectionType.STATUTORY_DEADLINE,
                severity=EMERGENCY if days < STATUTORY_EMERGENCY_DAYS else THIS_WEEK,
                entity_type="obligation", entity_id=s.id, entity_name=name,
                title=f"{name}: {amount} {when}",
                explanation=f"The {amount} statutory payment to {name} {when}; a late one brings penalties and interest.",
                fingerprint=f"statutory_deadline:schedule:{s.id}", amount=s.remaining_base, currency=cur, due_date=s.due_date,
                context=context(
                    schedule_id=s.id, agreement_id=s.agreement_id, vendor_id=s.vendor_id, days_until_due=days,
                    amount=s.remaining, currency=s.currency,
                ),
            )
        )
    return findings

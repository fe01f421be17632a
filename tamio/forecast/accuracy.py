"""Forecast against actual: how far past forecasts were from what happened, beside the due-date baseline.

An ``Outcome`` is one forecast's closing balance ``weeks_ahead`` weeks after its first day, the
due-date baseline's (every receivable expected on its due date, overdue ones at once), the band,
and the balance that actually closed that week. ``score`` sums outcomes per horizon (1, 4 and 13
weeks ahead): the mean absolute error of each, how much better the forecast was than the
baseline, and how often the band held the actual balance (it is an 80 % interval: about 0.80).

Outcomes come from two places. The 6 AM job stores each day's forecast (``tamio.forecast.snapshots``)
and later reads the balance that came true. ``backtest`` replays a ledger instead: at weekly
cut-offs it forecasts with only what was known then (the payments made before the cut-off, the
behaviour learned from them, the band calibrated by the cut-offs already scored) and compares
with the payments made after it, so an account with imported history gets an answer at once.
Both forecast through ``tamio.forecast.expected.items_of`` and ``build_forecast``, as the forecast does.

    outcomes = backtest(ledger, start=date(2026, 1, 5), end=date(2026, 12, 28), currency="USD")
    rows = score(outcomes)   # AccuracyRow(weeks_ahead=4, forecasts=40, error=..., baseline_error=..., ...)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from tamio.forecast.band import Calibration, calibrate, normalised_error
from tamio.forecast.engine import INFLOW, Forecast, build_forecast
from tamio.forecast.expected import ExpectedKey, Totals, add, items_of, key_of
from tamio.obligations.habits import Habits, Observation, OpenReceivable, learn_habits

HORIZONS = (1, 4, 13)
ZERO = Decimal(0)


@dataclass(frozen=True)
class Outcome:
    made_on: date
    weeks_ahead: int
    forecast: Decimal
    baseline: Decimal
    low: Decimal
    high: Decimal
    spread: Decimal
    actual: Decimal
    lean: Decimal = ZERO

    @property
    def covered(self) -> bool:
        return self.low <= self.actual <= self.high


@dataclass(frozen=True)
class AccuracyRow:
    weeks_ahead: int
    forecasts: int
    error: Decimal  # mean absolute error of the closing balance
    baseline_error: Decimal
    coverage: Decimal | None  # share of actual balances inside the band

    @property
    def improvement(self) -> Decimal | None:
        """How much smaller the error is than the baseline's (0.40: 40 % better; negative: worse)."""
        if self.forecasts == 0 or self.baseline_error == 0:
            return None
        return ((self.baseline_error - self.error) / self.baseline_error).quantize(Decimal("0.01"))


def score(outcomes: Iterable[Outcome], horizons: Sequence[int] = HORIZONS) -> list[AccuracyRow]:
    by_horizon: dict[int, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by_horizon[o.weeks_ahead].append(o)
    rows = []
    for h in horizons:
        found = by_horizon.get(h, [])
        n = len(found)
        if not n:
            rows.append(AccuracyRow(h, 0, ZERO, ZERO, None))
            continue
        error = sum((abs(o.forecast - o.actual) for o in found), ZERO) / n
        baseline = sum((abs(o.baseline - o.actual) for o in found), ZERO) / n
        covered = Decimal(sum(1 for o in found if o.covered)) / n
        rows.append(AccuracyRow(h, n, error.quantize(Decimal("0.01")), baseline.quantize(Decimal("0.01")), covered.quantize(Decimal("0.01"))))
    return rows


def calibration_from(outcomes: Iterable[Outcome], *, as_of: date) -> Calibration:
    """The band's calibration from scored outcomes, each error in its forecast's spread; at most one
    a week per horizon (daily snapshots overlap almost entirely: they are not seven errors)."""
    errors: dict[int, list[tuple[date, float]]] = defaultdict(list)
    for o in sorted(outcomes, key=lambda o: o.made_on, reverse=True):
        kept = errors[o.weeks_ahead]
        if kept and (kept[-1][0] - o.made_on).days < 7:
            continue
        kept.append((o.made_on, normalised_error(actual=o.actual, forecast=o.forecast, lean=o.lean, spread=o.spread)))
    return calibrate(errors, as_of=as_of)


@dataclass(frozen=True)
class LedgerSchedule:
    """A schedule as the ledger has it now (its due date after any delay)."""

    id: str
    due: date
    direction: str
    amount_type: str
    origin: str
    client_id: str | None
    base_amount: Decimal


@dataclass(frozen=True)
class LedgerPayment:
    schedule_id: str | None  # None: unmatched
    direction: str
    base_amount: Decimal
    paid_on: date


@dataclass(frozen=True)
class Ledger:
    schedules: tuple[LedgerSchedule, ...]
    payments: tuple[LedgerPayment, ...]


def backtest(ledger: Ledger, *, start: date, end: date, currency: str, weeks: int = 13) -> list[Outcome]:
    """Outcomes of forecasts made weekly from ``start`` with what was known then, scored against
    what the ledger says happened up to ``end`` (a horizon that ends after ``end`` is not scored)."""
    by_id = {s.id: s for s in ledger.schedules}
    payments = sorted(ledger.payments, key=lambda p: p.paid_on)
    outcomes: list[Outcome] = []
    cutoff = start
    while cutoff + timedelta(days=7) <= end + timedelta(days=1):
        known = [o for o in outcomes if o.made_on + timedelta(days=7 * o.weeks_ahead) <= cutoff]
        forecast, baseline = _forecasts(ledger, by_id, payments, cutoff=cutoff, currency=currency, weeks=weeks,
                                        calibration=calibration_from(known, as_of=cutoff))
        net = ZERO
        day = cutoff
        moves = _net_by_day(payments, cutoff, cutoff + timedelta(days=7 * weeks))
        for h in range(1, weeks + 1):
            last = cutoff + timedelta(days=7 * h - 1)
            if last > end:
                break
            while day <= last:
                net += moves.get(day, ZERO)
                day += timedelta(days=1)
            week = forecast.weeks[h - 1]
            outcomes.append(Outcome(
                made_on=cutoff, weeks_ahead=h, forecast=week.closing_balance, baseline=baseline.weeks[h - 1].closing_balance,
                low=week.low, high=week.high, spread=week.spread, lean=week.lean, actual=net,
            ))
        cutoff += timedelta(days=7)
    return outcomes


def _net_by_day(payments: Sequence[LedgerPayment], first: date, stop: date) -> dict[date, Decimal]:
    moves: dict[date, Decimal] = defaultdict(lambda: ZERO)
    for p in payments:
        if first <= p.paid_on < stop:
            moves[p.paid_on] += p.base_amount if p.direction == INFLOW else -p.base_amount
    return moves


def known_at(ledger: Ledger, by_id: dict[str, LedgerSchedule], payments: Sequence[LedgerPayment], *, cutoff: date, end: date) -> tuple[Totals, Habits]:
    """What was open at ``cutoff`` (per expected-payment key) and how clients paid until then."""
    paid: dict[str, Decimal] = defaultdict(lambda: ZERO)
    observations = []
    for p in payments:
        if p.paid_on >= cutoff:
            break
        if p.schedule_id is None or p.schedule_id not in by_id:
            continue
        s = by_id[p.schedule_id]
        before = paid[s.id]
        paid[s.id] = before + p.base_amount
        # As the product learns (``tamio.obligations.habits_store``): an invoice once, by the payment
        # that settled it; one part paid, it is still open (and at least that late).
        if s.direction == INFLOW and before < s.base_amount <= paid[s.id]:
            observations.append(Observation(client_id=s.client_id, days_late=(p.paid_on - s.due).days, paid_on=p.paid_on))
    totals: Totals = {}
    still_open = []
    for s in ledger.schedules:
        left = s.base_amount - paid.get(s.id, ZERO)
        if left <= 0 or s.due > end:
            continue
        key: ExpectedKey = key_of(s.due, s.direction, s.amount_type, s.origin, s.client_id)
        add(totals, key, left)
        if s.direction == INFLOW and s.due < cutoff:
            still_open.append(OpenReceivable(client_id=s.client_id, days_open=(cutoff - s.due).days))
    return totals, learn_habits(observations, still_open, as_of=cutoff - timedelta(days=1))


def _forecasts(
    ledger: Ledger, by_id: dict[str, LedgerSchedule], payments: Sequence[LedgerPayment], *, cutoff: date, currency: str, weeks: int,
    calibration: Calibration,
) -> tuple[Forecast, Forecast]:
    end = cutoff + timedelta(days=7 * weeks - 1)
    totals, habits = known_at(ledger, by_id, payments, cutoff=cutoff, end=end)
    expected = items_of(totals, habits, as_of=cutoff, weeks=weeks, currency=currency)
    forecast = build_forecast(as_of=cutoff, weeks=weeks, opening_balance=ZERO, items=expected.items, base_currency=currency,
                              variance=expected.variance, lean=expected.lean, calibration=calibration)
    plain = items_of(totals, Habits(), as_of=cutoff, weeks=weeks, currency=currency)
    baseline = build_forecast(as_of=cutoff, weeks=weeks, opening_balance=ZERO, items=plain.items, base_currency=currency)
    return forecast, baseline

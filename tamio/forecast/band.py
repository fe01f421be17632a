"""The forecast's band: each week's ``low``/``high`` is an 80 % interval for its closing balance.

Two things make it, per horizon (weeks ahead, 1 to 13):

- a *prior*, the standard deviation of the closing balance from what is uncertain in the items
  (``tamio.forecast.expected``: when each receivable arrives, given its client's behaviour, and how
  far an amount of its type strays), at least ``FLOOR_SHARE`` of the money moving by then; with no
  history the interval is this times the normal distribution's 10th and 90th percentiles;
- the account's own forecast errors at that horizon (``tamio.forecast.snapshots`` measures them,
  the 6 AM job stores a ``Calibration``; a backtest uses its own earlier cut-offs), each measured
  from the band's centre in the prior's standard deviations: the 80th percentile of their size,
  recent ones weighing more, replaces the normal 1.28 as they accumulate (empirical Bayes again:
  the normal one counts as ``PRIOR_WEIGHT`` errors). A forecast that has been too sure widens; one
  too unsure narrows. A horizon with few errors of its own (13 weeks ahead has none for 13 weeks)
  is shrunk toward what all horizons' errors show together rather than toward the normal.

    calibration = calibrate({1: [(date(2026, 11, 2), 0.3), ...], 4: [...]}, as_of=date(2026, 12, 7))
    offsets = band_offsets(scales, calibration)   # per week: (below, above) the closing balance
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np

INTERVAL = Decimal("0.80")
Z = 1.2815515655446004  # the normal distribution's 90th percentile
PRIOR_WEIGHT = 3.0  # the normal percentiles count as this many errors
MAX_ERRORS = 104  # the latest errors per horizon that calibrate it
ERROR_HALF_LIFE_DAYS = 49  # an error this old counts half as much as this week's
FLOOR_SHARE = 0.002  # the smallest standard deviation: this share of the money moving by then
HORIZONS = 13
TOGETHER = 1.0  # how much an unknown client's receivables move together (1: all with its habit; 0: each alone)
INTERVAL_SHARE = float(INTERVAL)


@dataclass(frozen=True)
class Calibration:
    """Per horizon (index 0 = one week ahead): ``(errors, 10th percentile, 90th percentile)`` of the
    account's past errors in units of their forecasts' standard deviation; and ``pooled``, the same
    over every horizon, ``(errors, half-width)``: a horizon whose own errors are few (13 weeks ahead
    waits 13 weeks for its first) starts from what the other horizons have shown, not from the normal."""

    horizons: tuple[tuple[float, float, float], ...] = ()
    pooled: tuple[float, float] = (0.0, Z)

    def percentiles(self, weeks_ahead: int) -> tuple[float, float]:
        """The blended ``(low, high)`` multipliers of the standard deviation ``weeks_ahead`` weeks out."""
        if not self.horizons:
            return -Z, Z
        pooled_n, pooled_half = self.pooled
        base = (pooled_n * pooled_half + PRIOR_WEIGHT * Z) / (pooled_n + PRIOR_WEIGHT)
        n, low, high = self.horizons[min(weeks_ahead, len(self.horizons)) - 1]
        if n <= 0:
            return -base, base
        return (n * low - PRIOR_WEIGHT * base) / (n + PRIOR_WEIGHT), (n * high + PRIOR_WEIGHT * base) / (n + PRIOR_WEIGHT)

    def to_json(self) -> dict[str, Any]:
        return {"interval": str(INTERVAL), "horizons": [[round(n, 3), round(lo, 4), round(hi, 4)] for n, lo, hi in self.horizons],
                "pooled": [round(self.pooled[0], 3), round(self.pooled[1], 4)]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Calibration:
        if not data:
            return NO_CALIBRATION
        pooled = data.get("pooled") or (0.0, Z)
        return cls(tuple((float(n), float(lo), float(hi)) for n, lo, hi in data.get("horizons") or ()),
                   (float(pooled[0]), float(pooled[1])))


NO_CALIBRATION = Calibration()


def calibrate(errors: Mapping[int, Sequence[tuple[date, float]]], *, as_of: date) -> Calibration:
    """A calibration from normalised errors per horizon (weeks ahead -> (when the forecast was made,
    its error)), at most one a week: recent ones weigh more (half-life ``ERROR_HALF_LIFE_DAYS``), so a
    band that was right while the account was new and is wrong now follows what it is now."""
    rows = []
    every: list[tuple[float, float]] = []  # (|error|, weight) over all horizons
    for weeks_ahead in range(1, HORIZONS + 1):
        found = sorted(errors.get(weeks_ahead, ()))[-MAX_ERRORS:]
        weights = [0.5 ** (max(0, (as_of - made_on).days) / ERROR_HALF_LIFE_DAYS) for made_on, _ in found]
        if not found:
            rows.append((0.0, -Z, Z))
            continue
        # Symmetric about the band's centre: a forecast that was biased while the account was new
        # widens the band both ways instead of leaning it for months after the bias has gone.
        sizes = [abs(z) for _, z in found]
        every.extend(zip(sizes, weights, strict=True))
        half = percentile(sizes, weights, INTERVAL_SHARE)
        rows.append((sum(weights), -half, half))
    if not every:
        return Calibration(tuple(rows))
    pooled = percentile([size for size, _ in every], [w for _, w in every], INTERVAL_SHARE)
    return Calibration(tuple(rows), (sum(w for _, w in every), pooled))


def percentile(values: Sequence[float], weights: Sequence[float], q: float) -> float:
    """The weighted ``q`` quantile (the smallest value whose cumulative weight reaches ``q`` of the
    total, interpolated halfway between neighbours as the unweighted median is)."""
    ordered = sorted(zip(values, weights, strict=True))
    total = sum(w for _, w in ordered)
    running = 0.0
    for i, (value, w) in enumerate(ordered):
        running += w
        if running >= q * total:
            if math.isclose(running, q * total) and i + 1 < len(ordered):
                return (value + ordered[i + 1][0]) / 2
            return value
    return ordered[-1][0]


def scales(variance: Sequence[float], moving: Sequence[float]) -> tuple[float, ...]:
    """Each week's standard deviation: the prior's, at least ``FLOOR_SHARE`` of the money moving by then."""
    return tuple(max(math.sqrt(max(v, 0.0)), FLOOR_SHARE * m) for v, m in zip(variance, moving, strict=True))


def band_offsets(spread: Sequence[float], lean: Sequence[float], calibration: Calibration) -> tuple[tuple[float, float], ...]:
    """Per week, how far below and above the closing balance the interval reaches (it always holds
    the closing balance itself)."""
    out = []
    for i, s in enumerate(spread):
        low, high = calibration.percentiles(i + 1)
        out.append((min(lean[i] + s * low, 0.0), max(lean[i] + s * high, 0.0)))
    return tuple(out)


class BandPrior:
    """The band's prior, per week: the closing balance's expected shift from the forecast (``lean``)
    and its variance, from what is uncertain in the items.

    Each receivable arrives as its client has paid, or with the chance ``unknown`` (1 for a client
    that has not paid, falling the more it has, ``tamio.obligations.habits.unknown_share``) as small
    businesses' clients do (``GENERIC``): from the chance it has arrived by each week under each,
    the shift, and the variance of arriving or not; while a client is unknown its receivables also
    move together (``TOGETHER``: they share a habit not yet seen). Amounts stray by their type's
    share once they have arrived. The sums run in numpy: a forecast may hold thousands of receivables.
    """

    def __init__(self, weeks: int) -> None:
        self.weeks = weeks
        self.slots: list[int] = []
        self.amounts: list[float] = []
        self.unknown: list[float] = []
        self.shares: list[float] = []
        self.learned: list[list[float]] = []
        self.generic: list[list[float]] = []
        self.paid = [0.0] * weeks

    def receivable(self, slot: int, amount: float, unknown: float, share: float, learned: list[float], generic: list[float]) -> None:
        """One receivable of the client ``slot``: the chance it has arrived by each week, as learned and as generic."""
        self.slots.append(slot)
        self.amounts.append(amount)
        self.unknown.append(unknown)
        self.shares.append(share)
        self.learned.append(learned)
        self.generic.append(generic)

    def payment(self, week: int, amount: float, share: float) -> None:
        """A payment the business makes in ``week``: only its amount may stray."""
        if week < self.weeks:
            self.paid[week] += (amount * share) ** 2

    def totals(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        variance = np.cumsum(np.array(self.paid))
        lean = np.zeros(self.weeks)
        if self.amounts:
            amount = np.array(self.amounts)[:, None]
            unknown = np.array(self.unknown)[:, None]
            learned, generic = np.array(self.learned), np.array(self.generic)
            either = unknown * generic + (1.0 - unknown) * learned
            variance = variance + (amount * amount * (either * (1.0 - either) + (np.array(self.shares)[:, None] ** 2) * either)).sum(axis=0)
            lean = (amount * (either - learned)).sum(axis=0)
            slots = np.array(self.slots)
            clients = int(slots.max()) + 1
            spread = generic * (1.0 - generic)
            weight = np.zeros(clients)
            weight[slots] = unknown[:, 0] ** 2 * TOGETHER
            moving, alone = amount * np.sqrt(spread), amount * amount * spread
            for w in range(self.weeks):  # per client: its receivables' spreads added up, squared
                together = np.bincount(slots, weights=moving[:, w], minlength=clients)
                variance[w] += float((weight * (together * together - np.bincount(slots, weights=alone[:, w], minlength=clients))).sum())
        return tuple(float(v) for v in variance), tuple(float(v) for v in lean)


def normalised_error(*, actual: Decimal, forecast: Decimal, lean: Decimal, spread: Decimal) -> float:
    """How far the actual closing balance was from the band's centre, in the forecast's standard deviations."""
    return float(actual - forecast - lean) / max(float(spread), 1.0)

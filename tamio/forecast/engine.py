"""The 13-week cash forecast: a pure function over expected cash movements.

Week i (1-based) covers the 7 days starting at ``as_of + 7*(i-1)``; when ``as_of`` is a Monday
these are calendar weeks. Items dated before ``as_of`` (unpaid and overdue) land in week 1.
Each week has an opening and closing balance, inflows, outflows, net, a confidence (see
``confidence``) and a low/high band, an 80 % interval for the closing balance (see ``band``): from
the variance the loader measured (``variance``, per week) and the account's calibration, or, when
none is given, from the items' own uncertainty (``amount x (1 - confidence)`` as a standard deviation).

Runway is ``tamio.forecast.runway``'s: how long until a closing balance falls below the buffer,
over the first 13 weeks whatever the forecast's length (a shorter forecast measures it on 13 weeks
of the same items), ``None`` when cash stays above it.

    forecast = build_forecast(as_of=date(2026, 12, 7), weeks=13, opening_balance=Decimal("48250"),
                              items=items, buffer=Decimal("5000"), base_currency="USD")
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from itertools import accumulate
from typing import Any

from tamio.forecast.band import INTERVAL, NO_CALIBRATION, Calibration, band_offsets, scales
from tamio.forecast.confidence import confidence_label
from tamio.forecast.runway import RUNWAY_WEEKS, runway_months, runway_weeks
from tamio.money import quantize, to_decimal_string

ZERO = Decimal(0)
INFLOW = "inflow"
OUTFLOW = "outflow"


@dataclass(frozen=True)
class ForecastItem:
    """One expected movement in the base currency; ``amount`` is positive (negative = an adjustment)."""

    date: date
    amount: Decimal
    direction: str  # "inflow" or "outflow"
    confidence: Decimal = Decimal("0.9")
    source_id: str = ""
    counterparty_id: str | None = None
    counterparty_name: str = ""
    category: str = ""
    overdue: bool = False


@dataclass(frozen=True)
class ForecastWeek:
    index: int
    start: date
    end: date
    opening_balance: Decimal
    inflows: Decimal
    outflows: Decimal
    net: Decimal
    closing_balance: Decimal
    confidence: str
    confidence_score: Decimal
    low: Decimal
    high: Decimal
    spread: Decimal = ZERO  # the standard deviation the band was made from (errors are measured in it)
    lean: Decimal = ZERO  # where the band is centred, from the closing balance


@dataclass(frozen=True)
class Forecast:
    base_currency: str
    as_of: date
    opening_balance: Decimal
    weeks: tuple[ForecastWeek, ...]
    lowest_closing_balance: Decimal
    lowest_week_start: date
    runway_weeks: Decimal | None
    buffer: Decimal = ZERO
    items: tuple[ForecastItem, ...] = field(default=(), repr=False, compare=False)
    interval: Decimal = INTERVAL

    @property
    def runway_months(self) -> Decimal | None:
        return runway_months(self.runway_weeks)

    def week_of(self, day: date) -> ForecastWeek | None:
        for week in self.weeks:
            if week.start <= day <= week.end:
                return week
        return None

    def to_json(self) -> dict[str, Any]:
        cur = self.base_currency
        return {
            "base_currency": cur,
            "as_of": self.as_of.isoformat(),
            "interval": format(self.interval, "f"),
            "opening_balance": to_decimal_string(self.opening_balance, cur),
            "weeks": [
                {
                    "start": w.start.isoformat(),
                    "end": w.end.isoformat(),
                    "opening_balance": to_decimal_string(w.opening_balance, cur),
                    "inflows": to_decimal_string(w.inflows, cur),
                    "outflows": to_decimal_string(w.outflows, cur),
                    "net": to_decimal_string(w.net, cur),
                    "closing_balance": to_decimal_string(w.closing_balance, cur),
                    "confidence": w.confidence,
                    "low": to_decimal_string(w.low, cur),
                    "high": to_decimal_string(w.high, cur),
                }
                for w in self.weeks
            ],
            "lowest_closing_balance": to_decimal_string(self.lowest_closing_balance, cur),
            "lowest_week_start": self.lowest_week_start.isoformat(),
            "runway_weeks": None if self.runway_weeks is None else format(self.runway_weeks, "f"),
        }


def week_index(as_of: date, day: date) -> int:
    """0-based week of ``day`` (days before ``as_of`` count in the first week)."""
    return max(0, (day - as_of).days // 7)


@dataclass(frozen=True)
class WeeklyTotals:
    """What the items of each week add up to: the forecast's raw material, cheap to adjust."""

    inflows: tuple[Decimal, ...]
    outflows: tuple[Decimal, ...]
    uncertain: tuple[Decimal, ...]
    weighted: tuple[Decimal, ...]
    variance: tuple[float, ...] = ()  # sum of (amount x (1 - confidence))^2: the band when none is given

    @classmethod
    def of(cls, items: Iterable[ForecastItem], *, as_of: date, weeks: int) -> WeeklyTotals:
        return cls.empty(weeks).adjusted(items, as_of=as_of)

    @classmethod
    def empty(cls, weeks: int) -> WeeklyTotals:
        zeros = (ZERO,) * weeks
        return cls(zeros, zeros, zeros, zeros, (0.0,) * weeks)

    def adjusted(self, items: Iterable[ForecastItem], *, as_of: date) -> WeeklyTotals:
        """These totals with more items (negative amounts remove or move money)."""
        weeks = len(self.inflows)
        inflows, outflows = list(self.inflows), list(self.outflows)
        uncertain, weighted = list(self.uncertain), list(self.weighted)
        variance = list(self.variance) or [0.0] * weeks
        horizon_end = as_of + timedelta(days=7 * weeks - 1)
        for item in items:
            if item.date > horizon_end:
                continue
            i = week_index(as_of, item.date)
            if item.direction == INFLOW:
                inflows[i] += item.amount
            else:
                outflows[i] += item.amount
            size = abs(item.amount)
            unsure = size * (1 - item.confidence)
            uncertain[i] += unsure
            weighted[i] += size
            variance[i] += float(unsure) ** 2
        return WeeklyTotals(tuple(inflows), tuple(outflows), tuple(uncertain), tuple(weighted), tuple(variance))


def build_forecast(
    *,
    as_of: date,
    weeks: int,
    opening_balance: Decimal,
    items: Iterable[ForecastItem],
    buffer: Decimal = ZERO,
    base_currency: str,
    keep_items: bool = False,
    variance: Sequence[float] | None = None,
    lean: Sequence[float] = (),
    calibration: Calibration = NO_CALIBRATION,
) -> Forecast:
    if weeks < 1:
        raise ValueError("a forecast needs at least one week")
    horizon_end = as_of + timedelta(days=7 * weeks - 1)
    kept = tuple(item for item in items if item.date <= horizon_end)
    totals = WeeklyTotals.of(kept, as_of=as_of, weeks=weeks)
    forecast = forecast_from_totals(
        totals, as_of=as_of, opening_balance=opening_balance, buffer=buffer, base_currency=base_currency,
        items=kept if keep_items else (), variance=variance, lean=lean, calibration=calibration,
    )
    if weeks >= RUNWAY_WEEKS:
        return forecast
    # The runway is measured on 13 weeks whatever the forecast shows, so every length agrees.
    full = WeeklyTotals.of(items, as_of=as_of, weeks=RUNWAY_WEEKS)
    return replace(forecast, runway_weeks=runway_of_totals(full, opening_balance, buffer, base_currency))


@dataclass(frozen=True)
class _Close:
    index: int
    closing_balance: Decimal


def runway_of_totals(totals: WeeklyTotals, opening_balance: Decimal, buffer: Decimal, base_currency: str) -> Decimal | None:
    """The runway of weekly totals, as ``forecast_from_totals`` would measure it (balances rounded alike)."""
    opening = balance = quantize(opening_balance, base_currency)
    closes = []
    for n, (inflow, outflow) in enumerate(zip(totals.inflows, totals.outflows, strict=True), start=1):
        balance = quantize(balance + inflow - outflow, base_currency)
        closes.append(_Close(n, balance))
    return runway_weeks(opening, closes, buffer)


def forecast_from_totals(
    totals: WeeklyTotals,
    *,
    as_of: date,
    opening_balance: Decimal,
    buffer: Decimal,
    base_currency: str,
    items: tuple[ForecastItem, ...] = (),
    variance: Sequence[float] | None = None,
    lean: Sequence[float] = (),
    calibration: Calibration = NO_CALIBRATION,
) -> Forecast:
    weeks = len(totals.inflows)
    result: list[ForecastWeek] = []
    balance = quantize(opening_balance, base_currency)
    if variance is None:
        variance = list(accumulate(totals.variance or (0.0,) * weeks))
    moving = list(accumulate(float(i + o) for i, o in zip(totals.inflows, totals.outflows, strict=True)))
    spread = scales(variance[:weeks], moving)
    leans = [float(x) for x in lean[:weeks]] or [0.0] * weeks
    offsets = band_offsets(spread, leans, calibration)
    for i in range(weeks):
        start = as_of + timedelta(days=7 * i)
        net = totals.inflows[i] - totals.outflows[i]
        closing = balance + net
        weight = totals.weighted[i]
        score = Decimal(1) if weight == 0 else (1 - totals.uncertain[i] / weight)
        score = score.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
        result.append(
            ForecastWeek(
                index=i + 1,
                start=start,
                end=start + timedelta(days=6),
                opening_balance=balance,
                inflows=quantize(totals.inflows[i], base_currency),
                outflows=quantize(totals.outflows[i], base_currency),
                net=quantize(net, base_currency),
                closing_balance=quantize(closing, base_currency),
                confidence=confidence_label(score),
                confidence_score=score,
                low=quantize(closing + Decimal(repr(offsets[i][0])), base_currency),
                high=quantize(closing + Decimal(repr(offsets[i][1])), base_currency),
                spread=quantize(Decimal(repr(spread[i])), base_currency),
                lean=quantize(Decimal(repr(leans[i])), base_currency),
            )
        )
        balance = quantize(closing, base_currency)
    lowest = min(result, key=lambda w: (w.closing_balance, w.index))
    return Forecast(
        base_currency=base_currency,
        as_of=as_of,
        opening_balance=quantize(opening_balance, base_currency),
        weeks=tuple(result),
        lowest_closing_balance=lowest.closing_balance,
        lowest_week_start=lowest.start,
        runway_weeks=runway_weeks(quantize(opening_balance, base_currency), result, buffer),
        buffer=buffer,
        items=items,
    )


class CashByDay:
    """Cash at the end of any day: opening cash plus every forecast movement up to that day (not the
    close of the day's week, which can hide a dip between a payday and the week's later inflows)."""

    def __init__(self, opening_balance: Decimal, items: Iterable[ForecastItem]) -> None:
        ordered = sorted(items, key=lambda i: i.date)
        self.days = [i.date for i in ordered]
        moves = (i.amount if i.direction == INFLOW else -i.amount for i in ordered)
        self.balances = list(accumulate(moves, initial=opening_balance))

    def at_end_of(self, when: date) -> Decimal:
        return self.balances[bisect_right(self.days, when)]

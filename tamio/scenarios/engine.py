"""The scenario engine: a forecast with hypothetical changes, as deltas against one base forecast.

The base is what the real forecast is computed from (``ForecastInputs``: the open amounts per
expected-payment key, how each client pays (its learned behaviour), the opening balance) and the weekly totals of
its items, computed once. A change is a ``Delta`` of those inputs: amounts added to or taken from
keys, clients paying later, cash moved today, or ready-made forecast items (a prepared option's
adjustments). Evaluating it re-places only the keys it touches with the forecast's own
``items_of`` (before and after), takes the old items' weekly totals out and puts the new ones in,
and runs the same ``forecast_from_totals`` as the real forecast. Because ``items_of`` treats each
key on its own and weekly totals add up item by item, the closing balances are exactly the forecast
of the changed inputs (the band keeps the base's prior) (``tests/service/test_scenarios.py`` applies the same changes for real to check it),
at the cost of the touched keys only: a what-if of a few changes over 10,000 agreements never
re-runs the whole forecast.

A prepared option needs less than a forecast: its lowest closing balance and that week
(``effect_of``). That is a running delta over the base's closing balances: the weeks before the
first changed one keep their close, the changed weeks are re-closed one by one, and past the last
one every close moves by the same whole number of cents (rounding a balance shifted by whole cents
shifts it alike, except a close that lands exactly on half a cent, which banker's rounding may take
either way: those weeks are re-closed too), so their lowest is the base's lowest of those weeks
plus the shift. Exactly ``forecast_with``'s figures (``tests/service/test_option_effects.py``
checks it over generated changes), in the weeks the change touches.

    base = ScenarioBase.of(inputs, as_of=date(2026, 12, 7), weeks=13)
    later = Delta(later={"cli_acme": 30})    # Acme pays 30 days later than it usually does
    result = evaluate(base, later)            # ScenarioResult: the scenario, the baseline, the differences
    forecast_with(base, Delta(opening=Decimal("5000")))   # the Forecast with cash moved today
    effect_of(base, Delta(opening=Decimal("5000")))       # its lowest closing balance and week, for a prepared option
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any

from tamio.forecast.band import NO_CALIBRATION, Calibration
from tamio.forecast.engine import (
    INFLOW,
    Forecast,
    ForecastItem,
    WeeklyTotals,
    forecast_from_totals,
    week_index,
)
from tamio.forecast.expected import ExpectedKey, Totals, items_of
from tamio.forecast.service import ForecastInputs
from tamio.money import quantize, quantum, to_decimal_string
from tamio.obligations.habits import Habits

ZERO = Decimal(0)


@dataclass(frozen=True)
class Delta:
    """What a scenario changes in the forecast's inputs (nothing, by default)."""

    amounts: Mapping[ExpectedKey, Decimal] = field(default_factory=dict)  # added to a key's open amount
    later: Mapping[str, int] = field(default_factory=dict)  # client id -> days later than it usually pays
    opening: Decimal = ZERO  # cash on hand today
    items: tuple[ForecastItem, ...] = ()  # ready-made adjustments (negative amounts take money out)

    def __add__(self, other: Delta) -> Delta:
        amounts = dict(self.amounts)
        for key, amount in other.amounts.items():
            amounts[key] = amounts.get(key, ZERO) + amount
        later = dict(self.later)
        for client, days in other.later.items():
            later[client] = later.get(client, 0) + days
        return Delta(amounts, later, self.opening + other.opening, self.items + other.items)


@dataclass(frozen=True)
class ScenarioBase:
    """The base forecast and the inputs it was computed from, for deltas against it."""

    as_of: date
    weeks: int
    base_currency: str
    opening_balance: Decimal
    buffer: Decimal
    totals: Totals = field(repr=False)
    habits: Habits = field(repr=False)
    weekly: WeeklyTotals = field(repr=False)
    forecast: Forecast = field(repr=False)
    variance: tuple[float, ...] = field(default=(), repr=False)  # the band's prior (kept for the scenario's band)
    lean: tuple[float, ...] = field(default=(), repr=False)
    calibration: Calibration = field(default=NO_CALIBRATION, repr=False)

    @classmethod
    def of(cls, inputs: ForecastInputs, *, as_of: date, weeks: int, buffer: Decimal | None = None) -> ScenarioBase:
        """The base of ``inputs``: its forecast is ``inputs.forecast(...)``'s, weeks, band and all."""
        weekly = WeeklyTotals.of(inputs.items, as_of=as_of, weeks=weeks)
        chosen = inputs.buffer if buffer is None else buffer
        forecast = forecast_from_totals(
            weekly, as_of=as_of, opening_balance=inputs.opening_balance, buffer=chosen, base_currency=inputs.base_currency,
            variance=inputs.variance, lean=inputs.lean, calibration=inputs.calibration,
        )
        return cls(
            as_of=as_of, weeks=weeks, base_currency=inputs.base_currency, opening_balance=inputs.opening_balance, buffer=chosen,
            totals=inputs.totals, habits=inputs.habits, weekly=weekly, forecast=forecast, variance=inputs.variance,
            lean=inputs.lean, calibration=inputs.calibration,
        )

    @property
    def horizon_end(self) -> date:
        return self.as_of + timedelta(days=7 * self.weeks - 1)

    def keys_of_client(self, client_id: str) -> list[ExpectedKey]:
        """The keys of a client's open receivables (what its usual delay places)."""
        return [key for key in self.totals if key.client_id == client_id and key.direction == INFLOW]

    def placed(self, totals: Mapping[ExpectedKey, Decimal], habits: Habits) -> tuple[ForecastItem, ...]:
        """Where the forecast expects these open amounts: the real forecast's own placement (receivables
        spread by their client's behaviour; each key on its own, so a few keys cost only themselves)."""
        return items_of(totals, habits, as_of=self.as_of, weeks=self.weeks, currency=self.base_currency).items

    @cached_property
    def closings(self) -> Closings:
        return Closings.of(self)

    def paying_later(self, later: Mapping[str, int]) -> Habits:
        """The habits with each client of ``later`` paying that many days later than it does."""
        clients = dict(self.habits.clients)
        for client, days in later.items():
            behaviour = self.habits.of(client)
            clients[client] = replace(behaviour, first=behaviour.first + days)
        return Habits(account=self.habits.account, clients=clients)


def _combined(base: WeeklyTotals, plus: WeeklyTotals, minus: WeeklyTotals) -> WeeklyTotals:
    """``base + plus - minus``, week by week, for every series the totals carry."""
    values: dict[str, Any] = {}
    for f in fields(WeeklyTotals):
        b, p, m = getattr(base, f.name), getattr(plus, f.name), getattr(minus, f.name)
        values[f.name] = tuple(x + y - z for x, y, z in zip(b, p, m, strict=True)) if b else b
    return WeeklyTotals(**values)


def _replaced(base: ScenarioBase, delta: Delta) -> tuple[list[ForecastItem], list[ForecastItem]]:
    """The items the delta's keys put in (their new amounts placed, and the delta's own items) and
    take out (their old amounts placed): nothing to place when no key is touched."""
    touched = set(delta.amounts)
    for client in delta.later:
        touched.update(base.keys_of_client(client))
    if not touched:
        return list(delta.items), []
    old = {key: base.totals.get(key, ZERO) for key in touched}
    new = {key: old[key] + delta.amounts.get(key, ZERO) for key in touched}
    habits = base.paying_later(delta.later) if delta.later else base.habits
    return [*base.placed(new, habits), *delta.items], list(base.placed(old, base.habits))


def weekly_with(base: ScenarioBase, delta: Delta) -> WeeklyTotals:
    """The base's weekly totals with the delta's keys re-placed and its items added."""
    if not delta.amounts and not delta.later and not delta.items:
        return base.weekly
    added, removed = _replaced(base, delta)
    empty = WeeklyTotals.empty(base.weeks)
    plus = empty.adjusted(added, as_of=base.as_of)
    minus = empty.adjusted(removed, as_of=base.as_of)
    return _combined(base.weekly, plus, minus)


def forecast_with(base: ScenarioBase, delta: Delta) -> Forecast:
    """The forecast with the delta applied: exactly the forecast of the changed inputs."""
    if not delta.amounts and not delta.later and not delta.items and delta.opening == 0:
        return base.forecast
    # The closing balances are exact; the band keeps the base's prior (a few changed keys barely move it).
    return forecast_from_totals(
        weekly_with(base, delta), as_of=base.as_of, opening_balance=base.opening_balance + delta.opening, buffer=base.buffer,
        base_currency=base.base_currency, variance=base.variance, lean=base.lean, calibration=base.calibration,
    )


@dataclass(frozen=True)
class Effect:
    """What a change does to the forecast, as far as a prepared option shows it: the lowest closing
    balance over the weeks and the start of the (first) week it falls in, as ``forecast_with``'s."""

    lowest_closing_balance: Decimal
    lowest_week_start: date


@dataclass(frozen=True)
class Closings:
    """The base forecast's closing balances, laid out for running deltas against them.

    ``nets``: each week's inflows less outflows before rounding; ``closing``: the rounded closes;
    ``last_tie``: the last week whose unrounded close was exactly half a minor unit (-1: none);
    ``lowest_to`` / ``lowest_from``: the lowest (close, week) of the weeks up to / from each week.
    """

    currency: str
    opening: Decimal
    nets: tuple[Decimal, ...]
    closing: tuple[Decimal, ...]
    last_tie: int
    lowest_to: tuple[tuple[Decimal, int], ...]
    lowest_from: tuple[tuple[Decimal, int], ...]

    @classmethod
    def of(cls, base: ScenarioBase) -> Closings:
        cur = base.base_currency
        half = quantum(cur) / 2
        opening = balance = quantize(base.opening_balance, cur)
        nets = tuple(i - o for i, o in zip(base.weekly.inflows, base.weekly.outflows, strict=True))
        closing, last_tie = [], -1
        for week, net in enumerate(nets):
            unrounded = balance + net
            balance = quantize(unrounded, cur)
            closing.append(balance)
            if abs(unrounded - balance) == half:
                last_tie = week
        lowest_to: list[tuple[Decimal, int]] = []
        for week, close in enumerate(closing):
            lowest_to.append(lowest_to[-1] if lowest_to and lowest_to[-1][0] <= close else (close, week))
        lowest_from: list[tuple[Decimal, int]] = []
        for week in range(len(closing) - 1, -1, -1):  # the earliest week of a tie, as the forecast's lowest
            lowest_from.append(lowest_from[-1] if lowest_from and lowest_from[-1][0] < closing[week] else (closing[week], week))
        return cls(cur, opening, nets, tuple(closing), last_tie, tuple(lowest_to), tuple(reversed(lowest_from)))

    def before(self, week: int) -> Decimal:
        """The balance a week opens with."""
        return self.opening if week == 0 else self.closing[week - 1]


def net_changes(base: ScenarioBase, delta: Delta) -> dict[int, Decimal]:
    """How much the delta adds to each week's net (inflows less outflows), by 0-based week."""
    changes: dict[int, Decimal]
    if not delta.amounts and not delta.later and not delta.items:
        return {}
    added, removed = _replaced(base, delta)
    end, changes = base.horizon_end, {}
    for items, sign in ((added, 1), (removed, -1)):
        for item in items:
            if item.date > end:
                continue
            week = week_index(base.as_of, item.date)
            moved = item.amount if (item.direction == INFLOW) == (sign > 0) else -item.amount
            changes[week] = changes.get(week, ZERO) + moved
    return changes


def effect_of(base: ScenarioBase, delta: Delta) -> Effect:
    """The delta's lowest closing balance and week, exactly ``forecast_with(base, delta)``'s, from the
    base's closes: only the weeks the delta changes (and any half-cent close after them) are re-closed."""
    run = base.closings
    changes = {week: amount for week, amount in net_changes(base, delta).items() if amount}
    opening = quantize(base.opening_balance + delta.opening, run.currency) if delta.opening else run.opening
    if not changes and opening == run.opening:
        return Effect(base.forecast.lowest_closing_balance, base.forecast.lowest_week_start)
    first = 0 if opening != run.opening else min(changes)
    last = max(max(changes, default=-1), run.last_tie)
    weeks = len(run.closing)
    balance = opening if first == 0 else run.closing[first - 1]
    lowest = run.lowest_to[first - 1] if first > 0 else None
    for week in range(first, min(last, weeks - 1) + 1):
        balance = quantize(balance + run.nets[week] + changes.get(week, ZERO), run.currency)
        if lowest is None or balance < lowest[0]:
            lowest = (balance, week)
    after = max(first, last + 1)
    if after < weeks:  # every later close moves by the same whole minor units
        shift = balance - run.before(after)
        close, week = run.lowest_from[after]
        if lowest is None or close + shift < lowest[0]:
            lowest = (close + shift, week)
    assert lowest is not None
    return Effect(lowest[0], base.as_of + timedelta(weeks=lowest[1]))


def add_amount(amounts: dict[ExpectedKey, Decimal], key: ExpectedKey, amount: Decimal) -> None:
    amounts[key] = amounts.get(key, ZERO) + amount


@dataclass(frozen=True)
class ScenarioResult:
    """A scenario's forecast beside the baseline, week by week."""

    forecast: Forecast
    baseline: Forecast
    changes: tuple[str, ...] = ()

    @property
    def differences(self) -> tuple[Decimal, ...]:
        return tuple(
            w.closing_balance - b.closing_balance for w, b in zip(self.forecast.weeks, self.baseline.weeks, strict=True)
        )

    @property
    def lowest_change(self) -> Decimal:
        return self.forecast.lowest_closing_balance - self.baseline.lowest_closing_balance

    def to_json(self) -> dict[str, Any]:
        """The scenario's forecast JSON (``Forecast.to_json``) with the baseline beside each figure."""
        cur = self.forecast.base_currency
        found = self.forecast.to_json()
        for week, base, difference in zip(found["weeks"], self.baseline.weeks, self.differences, strict=True):
            week["baseline_closing_balance"] = to_decimal_string(base.closing_balance, cur)
            week["difference"] = to_decimal_string(quantize(difference, cur), cur)
        runway = self.baseline.runway_weeks
        found["baseline_lowest_closing_balance"] = to_decimal_string(self.baseline.lowest_closing_balance, cur)
        found["baseline_lowest_week_start"] = self.baseline.lowest_week_start.isoformat()
        found["baseline_runway_weeks"] = None if runway is None else format(runway, "f")
        found["changes"] = list(self.changes)
        return found


def evaluate(base: ScenarioBase, delta: Delta, *, changes: Iterable[str] = ()) -> ScenarioResult:
    return ScenarioResult(forecast=forecast_with(base, delta), baseline=base.forecast, changes=tuple(changes))

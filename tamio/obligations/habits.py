"""How each client pays, learned from its payments: a distribution of days late (early is negative).

A forecast needs more than one number per client. A client who pays half its invoices on time and
half 45 days late is never "22 days late"; a client drifting from 2 to 30 days late is later than
its average. So each client's behaviour is a distribution over days late, learned like this:

1. Every receivable it settled is one observation: days from the due date to the payment that
   settled it (early payment counts as negative; an invoice paid in parts counts once, when paid in
   full), weighted by recency (half-life ``HALF_LIFE_DAYS``) so that drift shows.
2. Each observation is smoothed over nearby days (a discrete Gaussian that widens with the delay:
   "about 20 days" is not "exactly 20") and receivables still open at the learning date, part paid
   or not, are right-censored observations (Kaplan-Meier): a client whose recent invoices are all
   30 days overdue is not learned as paying at 20 because only its older invoices have been paid.
3. Empirical Bayes: the account's typical behaviour (all its clients' payments pooled, itself
   shrunk toward the due date) counts as ``PRIOR_STRENGTH`` observations beside the client's own,
   so a client with one payment is mostly the account's typical payer and a client with twenty is
   itself. An account with no payment history at all expects every receivable on its due date.

The result is stored per client (``Client.payment_behaviour``, the account's typical behaviour on
``Account.payment_behaviour``) by ``tamio.obligations.habits_store``: after every payment and in
the 6 AM job, so a forecast reads it instead of learning again. ``tamio.forecast.behaviour``
spreads each open receivable over the weeks it is likely to arrive.

    habits = learn_habits(observations, open_receivables, as_of=date(2026, 12, 7))
    habits.of("cli_1").describe()   # 'usually pays 18-24 days late; lately later'
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cached_property
from typing import Any

EARLIEST, LATEST = -90, 240  # days late a payment is counted at (beyond: clamped)
HALF_LIFE_DAYS = 75  # an observation this old weighs half as much as today's in the shape
STRENGTH_HALF_LIFE_DAYS = 365  # and in how much the client's own history counts against the account's
PRIOR_STRENGTH = 0.5  # the account's typical behaviour counts as this many of the client's observations
ACCOUNT_PRIOR_STRENGTH = 0.5  # and the due date as this many of the account's
RECENT = 3  # the last payments, against the six before them, say whether a client is lately later or earlier
LATELY_DAYS = 5  # by at least this many days (and half its usual range)
SCALE = 1_000_000  # probabilities are stored as integer parts per million: exact splits, compact JSON


@dataclass(frozen=True)
class Observation:
    """One receivable settled: whose, how many days after its due date the payment that settled it came, and when."""

    client_id: str | None
    days_late: int
    paid_on: date


@dataclass(frozen=True)
class OpenReceivable:
    """A receivable still unpaid when learning: it is at least ``days_open`` days late already."""

    client_id: str | None
    days_open: int


@dataclass(frozen=True)
class PaymentBehaviour:
    """A distribution of days late: ``weights[i]`` parts per million of paying ``first + i`` days late."""

    first: int
    weights: tuple[int, ...]
    observations: int = 0  # receivables settled it was learned from (0: not learned, stated or the due date)
    strength: float = 0.0  # the same, recency-weighted
    learned_on: date | None = None
    lately: int = 0  # the last payments' mean days late minus the six before them (positive: later)
    origin: str = "due_date"  # "learned" | "account" | "stated" | "due_date"
    overdue_days: int = 0  # its longest-open receivable when learned (one with no payments is learned from that)

    @cached_property
    def total(self) -> int:
        return sum(self.weights)

    @cached_property
    def cumulative(self) -> tuple[int, ...]:
        """``cumulative[i]``: weight of paying ``first + i - 1`` days late or earlier (``cumulative[0] == 0``)."""
        running, out = 0, [0]
        for w in self.weights:
            running += w
            out.append(running)
        return tuple(out)

    def mass_from(self, day: int) -> int:
        """Weight of paying ``day`` days late or later."""
        i = min(max(day - self.first, 0), len(self.weights))
        return self.total - self.cumulative[i]

    def quantile(self, q: float) -> int:
        target = q * self.total
        for i, c in enumerate(self.cumulative[1:]):
            if c >= target and c > 0:
                return self.first + i
        return self.first + len(self.weights) - 1

    @cached_property
    def mean(self) -> float:
        return sum((self.first + i) * w for i, w in enumerate(self.weights)) / max(self.total, 1)

    @property
    def median(self) -> int:
        return self.quantile(0.5)

    @property
    def usual(self) -> tuple[int, int]:
        """The middle half of its payments: from the 25th to the 75th percentile of days late."""
        return self.quantile(0.25), self.quantile(0.75)

    @property
    def is_point(self) -> bool:
        return sum(1 for w in self.weights if w) <= 1

    def describe(self) -> str:
        """In words, as a card says it: 'usually pays 18-24 days late; lately later'."""
        low, high = self.usual
        if self.origin == "due_date":
            return "no paid invoices yet: expected on the due date"
        if self.origin == "stated" and self.is_point:
            return f"expected {_days(low)} (as entered; no paid invoices yet)"
        if self.origin == "learned" and self.observations == 0:
            return f"has not paid yet, with an invoice {self.overdue_days} days overdue: expected {_span(low, high)}"
        words = f"usually pays {_span(low, high)}"
        if self.lately >= LATELY_DAYS:
            words += "; lately later"
        elif self.lately <= -LATELY_DAYS:
            words += "; lately earlier"
        if self.origin == "account":
            words = f"no paid invoices of its own yet: like your other clients, {words}"
        return words

    def to_json(self) -> dict[str, Any]:
        low, high = self.usual
        return {
            "first": self.first, "weights": list(self.weights), "observations": self.observations,
            "strength": round(self.strength, 3), "learned_on": self.learned_on.isoformat() if self.learned_on else None,
            "lately": self.lately, "origin": self.origin, "overdue_days": self.overdue_days, "usual": [low, high], "median": self.median,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PaymentBehaviour:
        weights = tuple(int(w) for w in data.get("weights") or ())
        if not weights or sum(weights) <= 0:
            return ON_DUE_DATE
        learned = data.get("learned_on")
        return cls(
            first=int(data.get("first", 0)), weights=weights, observations=int(data.get("observations", 0)),
            strength=float(data.get("strength", 0.0)), learned_on=date.fromisoformat(learned) if learned else None,
            lately=int(data.get("lately", 0)), origin=str(data.get("origin", "learned")), overdue_days=int(data.get("overdue_days", 0)),
        )


ON_DUE_DATE = PaymentBehaviour(first=0, weights=(SCALE,))


GENERIC_SHAPE = ((-3, 5, 0.45), (6, 30, 0.35), (31, 60, 0.15), (61, 90, 0.05))  # (from, to, share) of days late


def _generic() -> PaymentBehaviour:
    """What is known of a client that has not paid yet, for the band only: small businesses' clients
    pay anywhere from a few days early to months late (almost half within a few days of the due
    date, a third within the month after it, the rest within three months)."""
    dist: dict[int, float] = defaultdict(float)
    for low, high, share in GENERIC_SHAPE:
        for d in range(low, high + 1):
            dist[d] += share / (high - low + 1)
    return PaymentBehaviour(first=min(dist), weights=tuple(round(dist[d] * SCALE) for d in range(min(dist), max(dist) + 1)), origin="generic")



GENERIC = _generic()
BAND_PRIOR_STRENGTH = 0.3  # how many of a client's own payments the generic behaviour counts as, for the band


def behaviour_of(stored: Mapping[str, Any] | None, usual_delay: int, account: PaymentBehaviour) -> PaymentBehaviour:
    """A client's behaviour as the forecast uses it: as learned, else the usual delay a person
    entered, else the account's typical behaviour (the due date, for an account with no history)."""
    if stored:
        return PaymentBehaviour.from_json(stored)
    if usual_delay:
        return stated(usual_delay)
    return Habits(account=account).of("-")


def stated(days_late: int) -> PaymentBehaviour:
    """What a person entered as the client's usual delay, before it has paid anything."""
    return PaymentBehaviour(first=days_late, weights=(SCALE,), origin="stated")


def unknown_share(behaviour: PaymentBehaviour) -> float:
    """For the band: the chance that the client pays like none of what it has shown (``GENERIC``):
    1 with no history, falling as ``BAND_PRIOR_STRENGTH / (strength + BAND_PRIOR_STRENGTH)``."""
    return BAND_PRIOR_STRENGTH / (behaviour.strength + BAND_PRIOR_STRENGTH)


@dataclass(frozen=True)
class Habits:
    """The account's typical behaviour and each client's (learned ones only)."""

    account: PaymentBehaviour = ON_DUE_DATE
    clients: Mapping[str, PaymentBehaviour] = field(default_factory=dict)

    def of(self, client_id: str | None) -> PaymentBehaviour:
        if client_id is None:
            return self.account
        found = self.clients.get(client_id)
        if found is not None:
            return found
        return self.account if self.account.origin == "due_date" else _as_account(self.account)


def _as_account(behaviour: PaymentBehaviour) -> PaymentBehaviour:
    return replace(behaviour, observations=0, strength=0.0, lately=0, overdue_days=0, origin="account")


def learn_habits(
    observations: Iterable[Observation], open_receivables: Iterable[OpenReceivable] = (), *, as_of: date,
    account: PaymentBehaviour | None = None,
) -> Habits:
    """Each client's behaviour and the account's, from its payments (weighed by how long before
    ``as_of`` they were made). With ``account`` (the account's typical behaviour as stored), only the
    clients observed are learned, against it."""
    seen = list(observations)
    still_open = list(open_receivables)
    if not seen:
        return Habits(account=account or ON_DUE_DATE)
    if account is None:
        pooled_strength = _strength(seen, as_of)
        pooled = _mix([(_distribution(seen, still_open, as_of=as_of), pooled_strength), (_point(0), ACCOUNT_PRIOR_STRENGTH)])
        account = _behaviour(pooled, seen, pooled_strength, as_of=as_of, origin="learned")
    prior = _as_dict(account)
    by_client: dict[str, list[Observation]] = defaultdict(list)
    for o in seen:
        if o.client_id is not None:
            by_client[o.client_id].append(o)
    open_by_client: dict[str, list[OpenReceivable]] = defaultdict(list)
    for r in still_open:
        if r.client_id is not None and r.days_open > 0:
            open_by_client[r.client_id].append(r)
    clients: dict[str, PaymentBehaviour] = {}
    for client_id in sorted(set(by_client) | set(open_by_client)):
        own, overdue = by_client.get(client_id, []), open_by_client.get(client_id, [])
        # An invoice open and overdue says "later than that": evidence as well as a payment.
        strength = _strength(own, as_of) + sum(0.5 ** (r.days_open / STRENGTH_HALF_LIFE_DAYS) for r in overdue)
        mixed = _mix([(_distribution(own, overdue, as_of=as_of, prior=prior), strength), (prior, PRIOR_STRENGTH)])
        clients[client_id] = _behaviour(mixed, own, strength, as_of=as_of, origin="learned",
                                        overdue_days=max((r.days_open for r in overdue), default=0))
    return Habits(account=account, clients=clients)


def _as_dict(behaviour: PaymentBehaviour) -> dict[int, float]:
    return {behaviour.first + i: w / SCALE for i, w in enumerate(behaviour.weights) if w}


def _recency(o: Observation, as_of: date, half_life: float | None = None) -> float:
    return float(0.5 ** (max(0, (as_of - o.paid_on).days) / (half_life or HALF_LIFE_DAYS)))


def _strength(own: list[Observation], as_of: date) -> float:
    """How many observations the client's history counts as (slowly fading: its shape follows the
    recent payments, but a long history still outweighs the account's typical behaviour)."""
    return sum(_recency(o, as_of, STRENGTH_HALF_LIFE_DAYS) for o in own)


def _clamp(days: int) -> int:
    return min(max(days, EARLIEST), LATEST)


def _kernel(days: int) -> list[tuple[int, float]]:
    """Where "about ``days`` late" spreads: a discrete Gaussian, wider for longer delays."""
    return _KERNELS[_clamp(days) - EARLIEST]


def _make_kernel(days: int) -> list[tuple[int, float]]:
    sd = 0.8 + 0.06 * abs(days)
    reach = max(1, math.ceil(2.5 * sd))
    raw = [(d, math.exp(-0.5 * ((d - days) / sd) ** 2)) for d in range(max(EARLIEST, days - reach), min(LATEST, days + reach) + 1)]
    total = sum(w for _, w in raw)
    return [(d, w / total) for d, w in raw]


_KERNELS = [_make_kernel(d) for d in range(EARLIEST, LATEST + 1)]


def _distribution(
    paid: list[Observation], still_open: list[OpenReceivable], *, as_of: date, prior: dict[int, float] | None = None,
) -> dict[int, float]:
    """Recency-weighted, smoothed days late, where open receivables are censored observations
    (Kaplan-Meier on days): the share still unpaid beyond every payment seen is placed as ``prior``
    places payments that late (or, without one, a week after the longest open)."""
    events: dict[int, float] = defaultdict(float)
    for o in paid:
        events[_clamp(o.days_late)] += _recency(o, as_of)
    censored: dict[int, float] = defaultdict(float)
    for r in still_open:
        if r.days_open > 0:  # weighed like a payment made on its due date: one long open says less of today
            censored[_clamp(r.days_open)] += float(0.5 ** (r.days_open / HALF_LIFE_DAYS))
    if not events and not censored:
        return {0: 1.0}
    at_risk = sum(events.values()) + sum(censored.values())
    surviving, raw = 1.0, {}
    for day in sorted(set(events) | set(censored)):
        if day in events and at_risk > 0:
            hazard = events[day] / at_risk
            raw[day] = surviving * hazard
            surviving *= 1 - hazard
        at_risk -= events.get(day, 0.0) + censored.get(day, 0.0)
    smoothed: dict[int, float] = defaultdict(float)
    for day, p in raw.items():
        for d, w in _kernel(day):
            smoothed[d] += p * w
    if surviving > 1e-9:  # open later than any payment seen: it comes later still
        longest = max(censored)
        later = {d: p for d, p in (prior or {}).items() if d > longest}
        total = sum(later.values())
        if total > 1e-9:
            for d, p in later.items():
                smoothed[d] += surviving * p / total
        else:
            for d, w in _kernel(longest + 7):
                smoothed[d] += surviving * w
    return smoothed


def _point(days: int) -> dict[int, float]:
    return {days: 1.0}


def _mix(parts: list[tuple[dict[int, float], float]]) -> dict[int, float]:
    total = sum(strength for _, strength in parts)
    mixed: dict[int, float] = defaultdict(float)
    for dist, strength in parts:
        norm = sum(dist.values()) or 1.0
        for d, p in dist.items():
            mixed[d] += p / norm * strength / total
    return mixed


def _behaviour(
    dist: dict[int, float], own: list[Observation], strength: float, *, as_of: date, origin: str, overdue_days: int = 0,
) -> PaymentBehaviour:
    first, last = min(dist), max(dist)
    weights = [round(dist.get(d, 0.0) * SCALE) for d in range(first, last + 1)]
    lead = next((i for i, w in enumerate(weights) if w), 0)
    while len(weights) > lead + 1 and weights[-1] == 0:
        weights.pop()
    behaviour = PaymentBehaviour(
        first=first + lead, weights=tuple(weights[lead:]) if sum(weights) else (SCALE,), observations=len(own),
        strength=strength, learned_on=as_of, origin=origin, overdue_days=overdue_days,
    )
    ordered = sorted(own, key=lambda o: o.paid_on)
    recent, before = ordered[-RECENT:], ordered[-3 * RECENT : -RECENT]
    if len(recent) == RECENT and len(before) >= RECENT:
        moved = sum(_clamp(o.days_late) for o in recent) / RECENT - sum(_clamp(o.days_late) for o in before) / len(before)
        low, high = behaviour.usual
        if abs(moved) >= max(LATELY_DAYS, (high - low) / 2):
            behaviour = replace(behaviour, lately=round(moved))
    return behaviour


def _days(days: int) -> str:
    if days == 0:
        return "on the due date"
    word = "day" if abs(days) == 1 else "days"
    return f"{abs(days)} {word} {'late' if days > 0 else 'early'}"


def _span(low: int, high: int) -> str:
    if low == high:
        return _days(low) if low else "on time"
    if low >= 0:
        return f"on time to {_days(high)}" if low == 0 else f"{low}-{high} days late"
    if high <= 0:
        return f"{-high}-{-low} days early" if high < 0 else f"{_days(low)} to on time"
    return f"between {_days(low)} and {_days(high)}"

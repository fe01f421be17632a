"""How clients pay, learned; receivables spread by it, exactly; the band's calibration (no database)."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tamio.forecast.accuracy import Ledger, LedgerPayment, LedgerSchedule, backtest, score
from tamio.forecast.band import Calibration, Z, calibrate, percentile
from tamio.forecast.behaviour import Spreader, arrivals, largest_remainder
from tamio.forecast.expected import ExpectedKey, items_of
from tamio.obligations.habits import (
    ON_DUE_DATE,
    Habits,
    Observation,
    OpenReceivable,
    PaymentBehaviour,
    learn_habits,
)

AS_OF = date(2026, 12, 7)


def paid(client: str, days_late: list[int], *, last: date = AS_OF, every: int = 30) -> list[Observation]:
    """One payment per ``every`` days back from ``last``, oldest first, each ``days_late``."""
    n = len(days_late)
    return [Observation(client, late, last - timedelta(days=every * (n - 1 - i))) for i, late in enumerate(days_late)]


behaviours = st.builds(
    lambda first, weights: PaymentBehaviour(first=first, weights=tuple(weights), observations=3, strength=3.0, origin="learned"),
    st.integers(-30, 60), st.lists(st.integers(0, 400_000), min_size=1, max_size=90).filter(lambda w: sum(w) > 0),
)


@given(units=st.integers(0, 10**14), weights=st.lists(st.integers(0, 10**6), min_size=1, max_size=20).filter(lambda w: sum(w) > 0))
def test_largest_remainder_shares_out_exactly(units: int, weights: list[int]) -> None:
    parts = largest_remainder(units, weights, sum(weights))
    assert sum(parts) == units
    assert all(abs(part - units * w / sum(weights)) < 1 for part, w in zip(parts, weights, strict=True))


@given(behaviour=behaviours, units=st.integers(0, 10**12), days_to_due=st.integers(-200, 120))
@settings(max_examples=300)
def test_a_receivable_is_spread_exactly_and_never_before_the_first_day(behaviour: PaymentBehaviour, units: int, days_to_due: int) -> None:
    parts = Spreader(behaviour).parts(units=units, days_to_due=days_to_due)
    assert sum(p.units for p in parts) == units
    assert all(p.offset >= 0 for p in parts)
    arrived = Spreader(behaviour).arrived_by(days_to_due, 40)
    assert arrived == sorted(arrived) and all(0.0 <= a <= 1.0 for a in arrived) and arrived[-1] == 1.0


keys = st.builds(
    ExpectedKey, st.dates(AS_OF - timedelta(days=90), AS_OF + timedelta(days=90)), st.sampled_from(["inflow", "outflow"]),
    st.sampled_from(["fixed", "variable"]), st.just("manual"), st.sampled_from([None, "a", "b", "c"]),
)


@given(totals=st.dictionaries(keys, st.decimals(Decimal("0.01"), Decimal("999999.99"), places=2), max_size=25),
       learned=st.dictionaries(st.sampled_from(["a", "b", "c"]), behaviours, max_size=3))
@settings(max_examples=150, deadline=None)
def test_every_amount_is_expected_exactly_once(totals: dict[ExpectedKey, Decimal], learned: dict[str, PaymentBehaviour]) -> None:
    """Within a horizon long enough for every behaviour, the items add up to the open amounts to the cent."""
    expected = items_of(totals, Habits(clients=learned), as_of=AS_OF, weeks=60, currency="USD")
    for direction in ("inflow", "outflow"):
        got = sum((i.amount for i in expected.items if i.direction == direction), Decimal(0))
        assert got == sum((a for k, a in totals.items() if k.direction == direction), Decimal(0))
    assert all(i.amount == i.amount.quantize(Decimal("0.01")) for i in expected.items)  # whole cents


@given(totals=st.dictionaries(keys, st.decimals(Decimal("0.01"), Decimal("999999.99"), places=2), max_size=25))
@settings(max_examples=100, deadline=None)
def test_without_payment_history_every_receivable_is_expected_on_its_due_date(totals: dict[ExpectedKey, Decimal]) -> None:
    expected = items_of(totals, Habits(), as_of=AS_OF, weeks=13, currency="USD")
    by_day: dict[tuple[date, str], Decimal] = {}
    for key, amount in totals.items():
        day = max(key.due, AS_OF)  # overdue: at once
        if day <= AS_OF + timedelta(days=90):
            by_day[(day, key.direction)] = by_day.get((day, key.direction), Decimal(0)) + amount
    got: dict[tuple[date, str], Decimal] = {}
    for item in expected.items:
        got[(item.date, item.direction)] = got.get((item.date, item.direction), Decimal(0)) + item.amount
    assert got == by_day


def test_no_payments_no_learning_the_due_date_it_is() -> None:
    habits = learn_habits([], [OpenReceivable("a", 40)], as_of=AS_OF)
    assert habits.account is ON_DUE_DATE and habits.of("a") is ON_DUE_DATE
    assert habits.of("a").describe() == "no paid invoices yet: expected on the due date"


def test_a_steady_payer_an_early_payer_and_a_drifting_one_in_words() -> None:
    rng = random.Random(7)
    habits = learn_habits(
        [*paid("twenty", [20 + rng.randint(-2, 2) for _ in range(10)]), *paid("early", [-rng.randint(5, 10) for _ in range(10)]),
         *paid("drift", [2 + 3 * i for i in range(10)])],
        as_of=AS_OF,
    )
    low, high = habits.of("twenty").usual
    assert 17 <= low <= 20 <= high <= 23 and habits.of("twenty").describe() == f"usually pays {low}-{high} days late"
    assert habits.of("early").describe().startswith("usually pays") and habits.of("early").describe().endswith("days early")
    assert habits.of("drift").describe().endswith("; lately later") and habits.of("drift").lately > 0
    assert habits.of("someone new").describe().startswith("no paid invoices of its own yet: like your other clients")


def test_one_payment_is_shrunk_toward_the_accounts_typical_behaviour() -> None:
    many = paid("prompt", [0, 1, 0, 2, 1, 0, 1, 0])
    alone = learn_habits(paid("slow", [40]), as_of=AS_OF).of("slow")
    among = learn_habits([*many, *paid("slow", [40])], as_of=AS_OF).of("slow")
    assert among.mean < alone.mean < 40  # pulled toward its account: toward the prompt payers when there are some


def test_an_invoice_open_long_teaches_that_a_client_is_late() -> None:
    """A client that has never paid but has an invoice 40 days overdue is not expected like the
    account's prompt payers: later than 40 days."""
    habits = learn_habits(paid("prompt", [0, 1, 2, 0, 1]), [OpenReceivable("new", 40)], as_of=AS_OF)
    new = habits.of("new")
    assert new.median > 40 and new.describe().startswith("has not paid yet, with an invoice 40 days overdue")


def test_half_on_time_half_45_days_late_an_overdue_invoice_is_expected_around_day_45() -> None:
    rng = random.Random(3)
    lates = [rng.randint(0, 2) if i % 2 else rng.randint(43, 47) for i in range(12)]
    behaviour = learn_habits(paid("half", lates), as_of=AS_OF).of("half")
    # Due 10 days ago and unpaid: it is one of the late ones; almost nothing is expected this week.
    found = arrivals(behaviour, amount=Decimal("10000"), due=AS_OF - timedelta(days=10), as_of=AS_OF, currency="USD")
    assert sum(a for _, a in found) == Decimal("10000")
    soon = sum((a for day, a in found if day < AS_OF + timedelta(days=21)), Decimal(0))
    around_45 = sum((a for day, a in found if AS_OF + timedelta(days=28) <= day <= AS_OF + timedelta(days=45)), Decimal(0))
    assert soon < Decimal("1500") and around_45 > Decimal("7000")


def test_a_receivable_under_one_cent_is_expected_where_it_is_due() -> None:
    """An open invoice whose base amount is paid but for a rounding (a foreign-currency invoice paid in
    parts): nothing to spread; it used to stop the preparation context from loading (max() of nothing)."""
    behaviour = learn_habits(paid("a", [3, 5, 8, 13, 21]), as_of=AS_OF).of("a")
    for amount, due in ((Decimal("0"), AS_OF - timedelta(days=10)), (Decimal("0.004"), AS_OF + timedelta(days=3))):
        found = arrivals(behaviour, amount=amount, due=due, as_of=AS_OF, currency="USD")
        assert found == ((max(AS_OF, due), amount),)


def test_the_stored_behaviour_reads_back_the_same() -> None:
    behaviour = learn_habits(paid("a", [3, 5, 8, 13, 21]), as_of=AS_OF).of("a")
    again = PaymentBehaviour.from_json(behaviour.to_json())
    assert (again.first, again.weights, again.usual, again.describe()) == (behaviour.first, behaviour.weights, behaviour.usual, behaviour.describe())


def test_the_band_is_calibrated_by_recent_errors_symmetrically() -> None:
    assert Calibration().percentiles(4) == (-Z, Z)
    small = calibrate({4: [(AS_OF - timedelta(days=7 * i), 0.3 * (-1) ** i) for i in range(30)]}, as_of=AS_OF)
    low, high = small.percentiles(4)
    assert low == -high and 0.3 < high < Z  # too sure of nothing: narrower, but the normal still counts
    old_big = calibrate({4: [(AS_OF - timedelta(days=300 + 7 * i), 4.0) for i in range(10)]
                         + [(AS_OF - timedelta(days=7 * i), 0.5) for i in range(10)]}, as_of=AS_OF)
    assert old_big.percentiles(4)[1] < 1.0  # the old, large errors have faded
    assert abs(Calibration.from_json(small.to_json()).percentiles(4)[1] - high) < 1e-3
    assert percentile([1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 1.0, 1.0], 0.5) == 2.5


def test_a_horizon_without_errors_of_its_own_starts_from_the_other_horizons() -> None:
    # Thirteen weeks ahead waits thirteen weeks for its first error; meanwhile one week ahead has
    # shown the prior to be too wide: the 13-week band narrows too, and its own errors take over.
    short = [(AS_OF - timedelta(days=7 * i), 0.4 * (-1) ** i) for i in range(12)]
    early = calibrate({1: short, 2: short}, as_of=AS_OF)
    low, high = early.percentiles(13)
    assert low == -high and 0.4 < high < 0.8 * Z
    assert abs(Calibration.from_json(early.to_json()).percentiles(13)[1] - high) < 1e-3
    assert Calibration.from_json({"horizons": [[0.0, -Z, Z]] * 13}).percentiles(13) == (-Z, Z)  # stored before pooling
    own = calibrate({1: short, 13: [(AS_OF - timedelta(days=7 * i), 2.0) for i in range(12)]}, as_of=AS_OF)
    assert own.percentiles(13)[1] > Z > own.percentiles(1)[1]


def test_a_backtest_of_a_client_always_three_weeks_late_beats_the_due_date() -> None:
    start = date(2026, 1, 5)
    schedules, payments = [], []
    for month in range(1, 13):
        due = date(2026, month, 1)
        schedules.append(LedgerSchedule(f"inv{month}", due, "inflow", "fixed", "manual", "late", Decimal("10000")))
        if due + timedelta(days=21) <= date(2026, 12, 31):
            payments.append(LedgerPayment(f"inv{month}", "inflow", Decimal("10000"), due + timedelta(days=21)))
    outcomes = backtest(Ledger(tuple(schedules), tuple(payments)), start=start, end=date(2026, 12, 27), currency="USD")
    rows = {row.weeks_ahead: row for row in score(outcomes)}
    assert rows[4].forecasts == 48 and rows[4].improvement is not None and rows[4].improvement > Decimal("0.5")
    assert rows[1].coverage is not None and rows[1].coverage >= Decimal("0.7")

"""Issue 21 item 5: a prepared option's "lowest after" and a what-if of the same change agree, because
both go through the scenario engine against the same base forecast; issue 20 item 2: the option's
effect is a running delta over the base's weeks, and still the what-if's figures exactly."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.data.service import find_cash_account
from tamio.detection.models import DetectionType
from tamio.forecast.engine import INFLOW, OUTFLOW, ForecastItem
from tamio.forecast.expected import ExpectedKey, items_of
from tamio.forecast.service import ForecastInputs
from tamio.obligations.habits import Habits, PaymentBehaviour
from tamio.scenarios.changes import Draw, Move, Scenario
from tamio.scenarios.engine import Delta, ScenarioBase, effect_of, forecast_with
from tamio.scenarios.service import what_if
from tests.service.books import SCHEDULE_PATH
from tests.service.test_agents import MONDAY, NOW, days, healthy, prepared


async def test_a_cards_lowest_after_is_the_what_if_of_the_same_change(session: AsyncSession) -> None:
    books = await healthy(session, cash="30000")
    await books.cash("Credit line", "0", account_type="credit_line", credit_limit=Decimal("20000"))
    line = await find_cash_account(session, account_id=books.account.id, name="Credit line")
    assert line is not None
    line.interest_rate_pct = Decimal("8")  # the repayment's interest is part of the effect
    await books.expense("Contractors", "9000", books.every("monthly", MONDAY + days(4), day=11), flexibility_level="negotiable",
                        criticality="important")
    _, options = await prepared(session, books, DetectionType.RUNWAY_THRESHOLD)
    compared = 0
    for option in options:
        if option.kind == "credit_draw":
            change: Draw | Move = Draw(credit_line="Credit line", amount=Decimal(option.params["amount"]), on=MONDAY)
        elif option.kind == "delay_payment" and len(option.params["moves"]) == 1:
            change = Move(name="Contractors", to=date.fromisoformat(option.params["moves"][0]["new_date"]))
        else:
            continue
        result = await what_if(session, account=books.account, scenario=Scenario(changes=[change]), settings=SCHEDULE_PATH,
                               today=MONDAY, now=NOW)
        assert result.forecast.lowest_closing_balance == option.forecast_lowest_balance, option.kind
        compared += 1
    assert compared == 2, [o.kind for o in options]


# An option's effect is a running delta over the base's closing balances (``effect_of``); a what-if
# rebuilds the weeks (``forecast_with``). Generated books and changes: both give the same lowest
# closing balance and week, to the last digit. Amounts in thousandths (as stored), so that a close
# can land on half a cent (banker's rounding then depends on the cents around it); JPY and KWD round
# to whole yen and to thousandths.
AS_OF = date(2026, 12, 7)
CLIENTS = ["cli_a", "cli_b", None]
LATE_PAYER = PaymentBehaviour(first=5, weights=(300_000, 400_000, 300_000), observations=8, strength=6.0, origin="learned")

money = st.integers(-2_000_000, 20_000_000).map(lambda n: Decimal(n) / 1000)
half_cents = st.integers(-200_000, 2_000_000).map(lambda n: Decimal(n) / 100 + Decimal("0.005"))
dates = st.integers(-30, 100).map(lambda d: AS_OF + timedelta(days=d))
keys = st.builds(ExpectedKey, due=dates, direction=st.sampled_from([INFLOW, OUTFLOW]),
                 amount_type=st.sampled_from(["fixed", "variable", "estimated"]), origin=st.sampled_from(["generated", "manual"]),
                 client_id=st.sampled_from(CLIENTS))
items = st.builds(ForecastItem, date=dates, amount=st.one_of(money, half_cents), direction=st.sampled_from([INFLOW, OUTFLOW]),
                  confidence=st.sampled_from([Decimal("0.9"), Decimal("0.5")]))


@st.composite
def bases(draw: st.DrawFn) -> ScenarioBase:
    currency = draw(st.sampled_from(["USD", "USD", "JPY", "KWD"]))
    totals = draw(st.dictionaries(keys, money.filter(lambda m: m > 0), max_size=25))
    if currency == "JPY":
        totals = {key: amount.to_integral_value() for key, amount in totals.items()}
    habits = Habits(clients={"cli_a": LATE_PAYER})
    placed = items_of(totals, habits, as_of=AS_OF, weeks=13, currency=currency)
    inputs = ForecastInputs(
        base_currency=currency, opening_balance=draw(money), buffer=Decimal(draw(st.integers(0, 20_000))),
        items=(*placed.items, *draw(st.lists(items, max_size=10))), variance=placed.variance, lean=placed.lean, habits=habits, totals=totals,
    )
    return ScenarioBase.of(inputs, as_of=AS_OF, weeks=13)


@st.composite
def changes(draw: st.DrawFn, base: ScenarioBase) -> Delta:
    known = st.sampled_from(list(base.totals)) if base.totals else keys
    amounts = draw(st.dictionaries(st.one_of(known, keys), money, max_size=3))
    later = draw(st.dictionaries(st.sampled_from(["cli_a", "cli_b"]), st.integers(1, 40), max_size=1))
    opening = draw(st.one_of(st.just(Decimal(0)), money))
    return Delta(amounts=amounts, later=later, opening=opening, items=tuple(draw(st.lists(items, max_size=4))))


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_an_options_effect_is_the_full_what_if_of_its_change(data: st.DataObject) -> None:
    base = data.draw(bases())
    delta = data.draw(changes(base))
    full = forecast_with(base, delta)
    effect = effect_of(base, delta)
    assert (effect.lowest_closing_balance, effect.lowest_week_start) == (full.lowest_closing_balance, full.lowest_week_start)


def test_a_close_on_half_a_cent_is_rounded_as_the_full_forecast_rounds_it() -> None:
    """Week 2 closes on exactly half a cent: shifted by an odd number of cents, banker's rounding goes
    the other way than the base's, so the running delta re-closes that week instead of shifting it."""
    week = timedelta(days=7)
    inputs = ForecastInputs(
        base_currency="USD", opening_balance=Decimal("100.00"), buffer=Decimal(0), variance=(0.0,) * 13,
        items=(ForecastItem(AS_OF + week, Decimal("0.005"), OUTFLOW), ForecastItem(AS_OF + 3 * week, Decimal("120"), OUTFLOW)),
    )
    base = ScenarioBase.of(inputs, as_of=AS_OF, weeks=13)
    assert base.forecast.weeks[1].closing_balance == Decimal("100.00")  # 99.995 rounds to the even cent
    delta = Delta(items=(ForecastItem(AS_OF, Decimal("0.01"), INFLOW),))  # 100.005 rounds to 100.00 too: not 100.01
    effect, full = effect_of(base, delta), forecast_with(base, delta)
    assert full.weeks[1].closing_balance == Decimal("100.00")
    assert effect.lowest_closing_balance == full.lowest_closing_balance == Decimal("-20.00")
    assert effect.lowest_week_start == full.lowest_week_start == AS_OF + 3 * week

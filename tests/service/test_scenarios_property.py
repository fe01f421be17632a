"""Property: for generated businesses and generated what-ifs, the scenario's weeks are exactly the
forecast after doing the same changes for real on a copy of the data (a savepoint, rolled back);
a scenario with no changes is the baseline exactly; and evaluating one changes no stored row (row
counts and the audit chain's head as they were). Each counterparty (and Operating) is changed at
most once, so that "for real" is unambiguous (two moves of one vendor would depend on their order):
each change of a scenario is resolved against today's data, not against the changes before it."""

from __future__ import annotations

import asyncio
import itertools
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tamio.models  # noqa: F401
from tamio.currency.service import add_rate
from tamio.data.service import find_cash_account
from tamio.db import create_engine, make_session_factory
from tamio.errors import TamioError
from tamio.obligations.recurrence import Frequency
from tamio.obligations.schemas import RecurrenceSpec
from tamio.scenarios.changes import (
    AddObligation,
    Balance,
    Change,
    ChangeAmount,
    Draw,
    Late,
    Lose,
    Move,
    OneOff,
    Pause,
    Remove,
    Scenario,
)
from tamio.scenarios.service import what_if
from tests.conftest import secret_for_tests
from tests.service.books import SCHEDULE_PATH, Books, at
from tests.service.test_scenarios import (
    closings,
    for_real,
    generated_through_horizon,
    real_forecast,
    stored_state,
)

MONDAY = date(2026, 12, 7)
_names = itertools.count()

parties = st.fixed_dictionaries({
    "client": st.booleans(),
    "amount": st.integers(10_000, 3_000_000).map(lambda cents: Decimal(cents) / 100),
    "frequency": st.sampled_from(["monthly", "weekly", "once", "once"]),
    "start": st.integers(-40, 60),  # a one-off client from the past is an overdue invoice
    "delay": st.integers(0, 25),
    "currency": st.sampled_from(["USD", "USD", "EUR"]),
})
CHANGE_KINDS = ("late", "lose", "remove", "pause", "amount", "move", "none")
# A draw lands in Operating: with a balance set for Operating too, "for real" would depend on their order.
extra = st.lists(st.sampled_from(["once_in", "once_out", "add_client", "add_payroll", "draw", "balance"]), max_size=3, unique=True).filter(
    lambda kinds: not {"draw", "balance"} <= set(kinds))


def _change_for(kind: str, name: str, is_client: bool, draw: Any) -> Change | None:
    if kind in ("late", "lose") and not is_client:
        return None
    if kind == "late":
        return Late(name=name, days=draw(st.integers(1, 60)))
    if kind == "lose":
        return Lose(name=name)
    if kind == "remove":
        return Remove(name=name)
    if kind == "pause":
        return Pause(name=name)
    if kind == "amount":
        return ChangeAmount(name=name, amount=Decimal(draw(st.integers(100, 1_000_000))) / 100)
    if kind == "move":
        return Move(name=name, to=MONDAY + timedelta(days=draw(st.integers(0, 100))))
    return None


def _extra(kind: str, draw: Any) -> Change:
    day = MONDAY + timedelta(days=draw(st.integers(0, 95)))
    amount = Decimal(draw(st.integers(100, 2_000_000))) / 100
    if kind in ("once_in", "once_out"):
        return OneOff(direction="in" if kind == "once_in" else "out", amount=amount, on=day)
    if kind in ("add_client", "add_payroll"):
        frequency = draw(st.sampled_from(["monthly", "weekly", "once"]))
        spec = RecurrenceSpec(Frequency(frequency), start_date=day).to_config()
        return AddObligation(name=f"New {kind}", obligation_kind="client" if kind == "add_client" else "payroll", amount=amount,
                             currency=draw(st.sampled_from(["USD", "EUR"])), recurrence=spec)
    if kind == "draw":
        return Draw(credit_line="Credit line", amount=min(amount, Decimal("20000")), on=MONDAY)
    return Balance(cash_account="Operating", amount=Decimal(draw(st.integers(-500_000, 20_000_000))) / 100)


async def _check(url: str, rows: list[dict[str, Any]], draw: Any) -> None:
    engine = create_engine(url)
    try:
        sessions = make_session_factory(engine, secret_for_tests())
        async with sessions() as session, session.begin():
            books = await Books.open(session, today=MONDAY, name=f"Prop {next(_names)}")
            await generated_through_horizon(session, books)
            await add_rate(session, base_currency="EUR", quote_currency="USD", rate=Decimal("1.0832"), rate_date=MONDAY, account_id=None)
            await books.cash("Operating", "25000")
            await books.cash("Credit line", "0", account_type="credit_line", credit_limit=Decimal("20000"))
            line = await find_cash_account(session, account_id=books.account.id, name="Credit line")
            assert line is not None
            line.interest_rate_pct = Decimal("9")
            changes: list[Change] = []
            for index, row in enumerate(rows):
                start = MONDAY + timedelta(days=row["start"] if row["frequency"] == "once" else abs(row["start"]))
                spec = books.every(row["frequency"], start)
                name = f"{'Client' if row['client'] else 'Vendor'} {index}"
                if row["client"]:
                    await books.client(name, str(row["amount"]), spec, currency=row["currency"], avg_payment_delay_days=row["delay"])
                else:
                    await books.expense(name, str(row["amount"]), spec, currency=row["currency"])
                change = _change_for(draw(st.sampled_from(CHANGE_KINDS)), name, row["client"], draw)
                if change is not None:
                    changes.append(change)
            changes += [_extra(kind, draw) for kind in draw(extra)]
            await session.flush()
            baseline = await real_forecast(session, books)
            before = await stored_state(session)
            empty = await what_if(session, account=books.account, scenario=Scenario(), settings=SCHEDULE_PATH, today=MONDAY, now=at(MONDAY))
            assert empty.forecast == empty.baseline == baseline
            try:
                result = await what_if(session, account=books.account, scenario=Scenario(changes=changes), settings=SCHEDULE_PATH,
                                       today=MONDAY, now=at(MONDAY))
            except TamioError:
                return  # refused (a move of a vendor with nothing open): nothing to compare
            assert await stored_state(session) == before
            assert result.baseline == baseline
            savepoint = await session.begin_nested()
            for change in changes:
                await for_real(session, books, change)
            real = await real_forecast(session, books)
            await savepoint.rollback()
            assert closings(result.forecast) == closings(real), (changes, closings(result.forecast), closings(real))
            assert (result.forecast.lowest_closing_balance, result.forecast.runway_weeks) == (real.lowest_closing_balance, real.runway_weeks)
            assert [(w.inflows, w.outflows) for w in result.forecast.weeks] == [(w.inflows, w.outflows) for w in real.weeks]
            await session.rollback()
    finally:
        await engine.dispose()


def test_a_scenario_agrees_with_doing_it_for_real(db_url: str) -> None:
    @settings(max_examples=25 if db_url.startswith("sqlite") else 8, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(st.lists(parties, min_size=1, max_size=6), st.data())
    def check(rows: list[dict[str, Any]], data: st.DataObject) -> None:
        asyncio.run(_check(db_url, rows, data.draw))

    check()

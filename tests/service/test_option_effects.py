"""Issue 21 item 5: a prepared option's "lowest after" and a what-if of the same change agree, because
both go through the scenario engine against the same base forecast."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from tamio.data.service import find_cash_account
from tamio.detection.models import DetectionType
from tamio.scenarios.changes import Draw, Move, Scenario
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

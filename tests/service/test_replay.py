"""Issue 16's replay: a year of fifteen clients with known habits, driven through the product.

Payments are recorded on their real dates with ``record_payment``, once naming each invoice and
once naming only the client (as ``/tamio paid`` does); the 6 AM job runs every Monday (learning,
calibrating the band, storing the forecast). Then ``tamio forecast accuracy``'s numbers (from the
stored forecasts) and ``tamio forecast backtest``'s (the ledger replayed at weekly cut-offs) must
show the default settings beating the due-date baseline by at least 40 % four weeks ahead, and the
80 % band holding the actual balance 70-90 % of the time at 1, 4 and 13 weeks.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.accounts.models import Account
from tamio.data.models import Client
from tamio.forecast.snapshots import Accuracy, forecast_accuracy, run_backtest
from tamio.obligations.habits import PaymentBehaviour
from tests.service.replay_business import drive

pytestmark = pytest.mark.slow

AFTER = date(2027, 1, 1)


def check(accuracy: Accuracy) -> None:
    rows = {row.weeks_ahead: row for row in accuracy.rows}
    assert rows[4].forecasts >= 40 and rows[13].forecasts >= 30, rows
    assert rows[4].improvement is not None and rows[4].improvement >= Decimal("0.40"), rows[4]
    for weeks_ahead in (1, 4, 13):
        coverage = rows[weeks_ahead].coverage
        assert coverage is not None and Decimal("0.70") <= coverage <= Decimal("0.90"), rows[weeks_ahead]


@pytest.mark.parametrize("by", ["invoice", "client"])
async def test_a_year_of_known_habits_beats_the_due_date_and_the_band_holds(session_factory: async_sessionmaker[AsyncSession], by: str) -> None:
    account_id = await drive(session_factory, by=by)
    async with session_factory() as db:
        account = await db.get(Account, account_id)
        assert account is not None
        stored = await forecast_accuracy(db, account=account, today=AFTER, weeks=52)
        replayed = await run_backtest(db, account=account, start=date(2026, 1, 5), end=date(2026, 12, 27), today=AFTER)
        habits = {
            name: PaymentBehaviour.from_json(stored_json).describe()
            for name, stored_json in await db.execute(select(Client.name, Client.payment_behaviour).where(Client.user_id == account_id))
            if stored_json
        }
    check(stored)
    check(replayed)
    assert habits["Prompt Ltd"] in ("usually pays 1-3 days late", "usually pays 1-2 days late", "usually pays on time to 3 days late")
    assert habits["Twenty Days Inc"] in ("usually pays 17-22 days late", "usually pays 18-22 days late", "usually pays 18-21 days late")
    assert habits["Early Bird Co"].startswith("usually pays") and "early" in habits["Early Bird Co"]
    assert habits["Drifter GmbH"].endswith("lately later")

"""Money is exact on both databases, and stays exact when summed in SQL."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.data.models import CashAccount
from tamio.db import Money
from tamio.opening import open_account

AMOUNTS = [
    ("USD", Decimal("1234567890123456.78")),
    ("JPY", Decimal("120000")),
    ("KWD", Decimal("1250.505")),
    ("USD", Decimal("0.01")),
    ("USD", Decimal("-42000.10")),
]


async def test_amounts_round_trip_unchanged(session: AsyncSession) -> None:
    account = await open_account(session, name="Exact Ltd", base_currency="USD")
    for index, (currency, amount) in enumerate(AMOUNTS):
        session.add(CashAccount(user_id=account.id, name=f"acct {index}", currency=currency, balance=amount, base_currency_amount=amount))
    await session.commit()
    session.expunge_all()
    rows = (await session.execute(select(CashAccount).where(CashAccount.user_id == account.id).order_by(CashAccount.name))).scalars().all()
    assert [(r.currency, r.balance) for r in rows] == AMOUNTS
    assert rows[0].balance == Decimal("1234567890123456.78")
    assert str(rows[1].balance.normalize()) == "1.2E+5" and rows[1].balance == 120000


async def test_sql_sum_is_exact(session: AsyncSession) -> None:
    account = await open_account(session, name="Sum Ltd", base_currency="USD")
    values = [Decimal("0.1")] * 10 + [Decimal("1234567890123.45"), Decimal("0.005")]
    for index, value in enumerate(values):
        session.add(CashAccount(user_id=account.id, name=f"a{index}", currency="USD", balance=value))
    await session.commit()
    total = (
        await session.execute(select(type_coerce(func.sum(CashAccount.balance), Money())).where(CashAccount.user_id == account.id))
    ).scalar_one()
    assert total == Decimal("1234567890124.455")


async def test_more_precision_than_thousandths_is_refused(session: AsyncSession) -> None:
    account = await open_account(session, name="Precise Ltd", base_currency="USD")
    session.add(CashAccount(user_id=account.id, name="x", currency="USD", balance=Decimal("1.0001")))
    with pytest.raises(Exception, match="decimal places"):
        await session.flush()

"""Conversion at write time: the latest rate on or before the date, direct, inverse or through EUR."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.currency.feed import import_ecb
from tamio.currency.service import add_rate, convert_amount
from tamio.errors import MissingExchangeRate

ACCOUNT = "acc_without_rates_of_its_own"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ecb"


async def test_direct_inverse_and_cross_rates(session: AsyncSession) -> None:
    await add_rate(session, base_currency="EUR", quote_currency="USD", rate=Decimal("1.0800"), rate_date=date(2026, 11, 27), account_id=None)
    await add_rate(session, base_currency="EUR", quote_currency="USD", rate=Decimal("1.1000"), rate_date=date(2026, 12, 1), account_id=None)
    await add_rate(session, base_currency="EUR", quote_currency="JPY", rate=Decimal("160.00"), rate_date=date(2026, 11, 27), account_id=None)
    await session.commit()

    converted, rate, on = await convert_amount(session, Decimal("5000"), "EUR", "USD", date(2026, 11, 30), account_id=ACCOUNT)
    assert (converted, rate, on) == (Decimal("5400.00"), Decimal("1.0800"), date(2026, 11, 27))

    converted, rate, on = await convert_amount(session, Decimal("5400"), "USD", "EUR", date(2026, 11, 30), account_id=ACCOUNT)
    assert converted == Decimal("5000.00") and on == date(2026, 11, 27)

    converted, rate, on = await convert_amount(session, Decimal("100"), "USD", "JPY", date(2026, 11, 30), account_id=ACCOUNT)
    assert converted == Decimal("14815")  # 100 / 1.08 * 160, JPY has no minor units
    assert on == date(2026, 11, 27)

    assert (await convert_amount(session, Decimal("12.34"), "USD", "USD", date(2026, 1, 1), account_id=ACCOUNT))[0] == Decimal("12.34")


async def test_missing_rate_is_a_clear_error(session: AsyncSession) -> None:
    with pytest.raises(MissingExchangeRate, match="no exchange rate from GBP to USD on or before 2026-12-01"):
        await convert_amount(session, Decimal("1"), "GBP", "USD", date(2026, 12, 1), account_id=ACCOUNT)


async def test_ecb_daily_file_is_imported(session: AsyncSession) -> None:
    count, latest = await import_ecb(session, str(FIXTURES / "eurofxref-daily.xml"))
    await session.commit()
    assert count > 5 and latest is not None
    converted, _, on = await convert_amount(session, Decimal("100"), "EUR", "USD", latest, account_id=ACCOUNT)
    assert on == latest and converted > 0

"""Store ECB reference rates (parsed by ``tamio.currency.ecb``) as EUR-based exchange rates.

``import_ecb`` writes the server's feed (``account_id=None``, what the scheduler and an operator's
``tamio rates import`` do) or one account's own rates.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from tamio.currency.ecb import load_ecb_rates
from tamio.currency.service import upsert_rates


async def import_ecb(db: AsyncSession, source: str, *, account_id: str | None = None) -> tuple[int, date | None]:
    rates = await load_ecb_rates(source)
    rows = [("EUR", r.currency, r.rate, r.rate_date) for r in rates]
    count = await upsert_rates(db, rows, source="ecb", account_id=account_id)
    return count, max((r.rate_date for r in rates), default=None)

"""The demo company of `make run`: the first pipeline run finds what the README promises."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.demo import seed_demo
from tamio.pipeline import run_detection_preparation_cycle
from tamio.preparation.models import LinkedAction, PreparedAction
from tests.service.books import SCHEDULE_PATH


async def test_first_run_raises_late_payment_payroll_risk_and_buffer_breach(session: AsyncSession) -> None:
    today, now = date(2026, 11, 28), datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    account = await seed_demo(session, settings=SCHEDULE_PATH, today=today, now=now)
    result = await run_detection_preparation_cycle(session, account.id, today=today, now=now, settings=SCHEDULE_PATH)
    assert result.errors == []
    assert {"late_payment", "payroll_safety", "buffer_breach"} <= set(result.alerts_by_type)
    assert {"payroll_contingency", "invoice_follow_up"} <= set(result.actions_by_type)
    links = {link.link_type.value for link in (await session.execute(select(LinkedAction))).scalars()}
    assert links == {"resolves", "conflicts", "sequence"}
    again = await run_detection_preparation_cycle(session, account.id, today=today, now=now, settings=SCHEDULE_PATH)
    assert again.actions_prepared == 0  # reruns never duplicate pending actions
    assert len((await session.execute(select(PreparedAction))).scalars().all()) == result.actions_prepared


async def test_the_demo_seeds_on_any_day_of_the_month(session: AsyncSession) -> None:
    for day in (date(2027, 1, 31), date(2027, 2, 14), date(2027, 3, 1)):
        account = await seed_demo(session, settings=SCHEDULE_PATH, today=day, now=datetime(day.year, day.month, day.day, 8, tzinfo=UTC))
        result = await run_detection_preparation_cycle(session, account.id, today=day, now=datetime(day.year, day.month, day.day, 8, tzinfo=UTC), settings=SCHEDULE_PATH)
        assert {"late_payment", "payroll_safety", "buffer_breach"} <= set(result.alerts_by_type), (day, result.alerts_by_type)

"""The demo company of `make run`: the first pipeline run finds what the README promises."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.data.models import CashAccount, Client, ExpenseBucket
from tamio.demo import seed_demo
from tamio.obligations.models import ObligationAgreement, ObligationSchedule, ObligationType
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


async def test_the_demo_company_has_what_the_readme_lists(session: AsyncSession) -> None:
    today = date(2026, 11, 28)
    account = await seed_demo(session, settings=SCHEDULE_PATH, today=today, now=datetime(2026, 11, 28, 9, tzinfo=UTC))
    clients = (await session.scalars(select(Client).where(Client.user_id == account.id))).all()
    assert any(c.relationship_type and c.relationship_type.value == "strategic" for c in clients)
    assert any(c.avg_payment_delay_days > 0 for c in clients)
    agreements = (await session.scalars(select(ObligationAgreement).where(ObligationAgreement.user_id == account.id))).all()
    assert any(a.currency == "EUR" and a.client_id for a in agreements)
    vendors = (await session.scalars(select(ExpenseBucket).where(ExpenseBucket.user_id == account.id))).all()
    assert len({v.flexibility_level for v in vendors if v.flexibility_level}) == 3
    assert {a.obligation_type for a in agreements} >= {ObligationType.PAYROLL, ObligationType.TAX}
    cash = (await session.scalars(select(CashAccount).where(CashAccount.user_id == account.id))).all()
    assert sorted(c.account_type.value for c in cash) == ["bank", "credit_line", "savings"]

    schedules = (await session.scalars(select(ObligationSchedule).where(ObligationSchedule.user_id == account.id))).all()
    kind = {a.id: a for a in agreements}
    quarter = [s for s in schedules if today <= s.due_date < today + timedelta(days=91)]
    payroll = [s for s in quarter if kind[s.obligation_id].obligation_type is ObligationType.PAYROLL]
    taxes = [s for s in quarter if kind[s.obligation_id].obligation_type is ObligationType.TAX]
    assert len(payroll) == 6 and len(taxes) == 1  # semi-monthly payroll, a quarterly tax


# Days that once lost an alert: a payroll moved before a vendor payment by a weekend (2027-01-20), and
# schedules starting on a 29th-31st that skipped their first month (2026-12-27, 2027-01-27).
@pytest.mark.parametrize("today", [date(2026, 12, 23), date(2026, 12, 27), date(2027, 1, 20), date(2027, 1, 27),
                                   date(2027, 1, 31), date(2027, 2, 14), date(2027, 3, 1), date(2028, 2, 25)])
async def test_the_demo_raises_the_same_alerts_whatever_the_day(session: AsyncSession, today: date) -> None:
    now = datetime(today.year, today.month, today.day, 8, tzinfo=UTC)
    account = await seed_demo(session, settings=SCHEDULE_PATH, today=today, now=now)
    result = await run_detection_preparation_cycle(session, account.id, today=today, now=now, settings=SCHEDULE_PATH)
    assert result.errors == []
    assert {"late_payment", "payroll_safety", "buffer_breach", "statutory_deadline"} <= set(result.alerts_by_type), result.alerts_by_type
    links = {link.link_type.value for link in (await session.scalars(select(LinkedAction).where(LinkedAction.user_id == account.id)))}
    assert links == {"resolves", "conflicts", "sequence"}

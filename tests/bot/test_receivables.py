"""Issue 19 item 1 from Slack: receivables as they are. An invoice already overdue goes in (and says so), an
agreement that started in the past schedules its arrears, and both then show in the forecast, in late-payment
detection and in ``/tamio paid ... for INV-...``."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from tamio.currency.service import add_rate
from tamio.detection.models import DetectionAlert, DetectionType
from tamio.forecast.service import forecast_for_account
from tamio.obligations.models import ObligationAgreement, ObligationSchedule, ScheduleStatus
from tests.bot.conftest import ADMIN, NOW, BotHarness
from tests.bot.prepared import account_of

pytestmark = pytest.mark.backends("sqlite")
TODAY = NOW.date()  # Monday 7 December 2026


def last_text(bot: BotHarness) -> str:
    return str(bot.ephemerals_for(ADMIN)[-1]["text"])


async def test_an_overdue_invoice_goes_in_and_shows_in_the_forecast_detection_and_paid(bot: BotHarness) -> None:
    await bot.command(ADMIN, "digest here")
    await bot.command(ADMIN, 'balance set "Operating" 20000')
    await bot.command(ADMIN, 'add client "Late Payer Co" invoice 5000 due 2026-11-20 ref INV-1042')
    said = last_text(bot)
    assert ":white_check_mark: Added *Late Payer Co* (client): invoice INV-1042 for $5,000.00" in said
    assert "due Fri 20 Nov (already 17 days overdue)" in said
    account = await account_of(bot.sessions)
    async with bot.sessions() as db:
        schedule = (await db.execute(select(ObligationSchedule))).scalar_one()
        assert (schedule.due_date, schedule.status, schedule.invoice_number) == (date(2026, 11, 20), ScheduleStatus.OVERDUE, "INV-1042")
    forecast = await forecast_for_account(bot.sessions, account.id, today=TODAY, now=NOW, settings=bot.settings)  # what /tamio forecast shows
    assert [(item.amount, item.direction, item.overdue) for item in forecast.items] == [(Decimal("5000"), "inflow", True)]
    assert forecast.weeks[0].inflows == Decimal("5000")  # expected in week 1, at the confidence of an overdue one

    # The same invoice twice is refused, naming the one there.
    await bot.command(ADMIN, 'add client "Late Payer Co" invoice 5000 due 2026-11-20 ref INV-1042')
    assert "Late Payer Co already has invoice INV-1042 (due 2026-11-20); nothing was added." in last_text(bot)

    await bot.command(ADMIN, "run")
    async with bot.sessions() as db:
        alerts = (await db.execute(select(DetectionAlert).where(DetectionAlert.detection_type == DetectionType.LATE_PAYMENT))).scalars().all()
    assert [a.title for a in alerts] == ["Late Payer Co is 17 days late"]

    await bot.command(ADMIN, 'paid "Late Payer Co" 5000 for INV-1042')
    assert "matched to INV-1042 due Fri 20 Nov (now paid)" in last_text(bot)


async def test_the_issues_words_for_an_overdue_one_off_are_accepted(bot: BotHarness) -> None:
    await bot.command(ADMIN, 'add client "Late Payer Co" 5000 once from 2026-11-20')
    assert "(already 17 days overdue)" in last_text(bot) and "in the past" not in last_text(bot)


async def test_an_agreement_started_in_the_past_schedules_its_arrears(bot: BotHarness) -> None:
    await bot.command(ADMIN, 'add client "Retainer Co" 1000 monthly on 1 from 2026-09-01')
    said = last_text(bot)
    assert "first due Tue 1 Sep (already 97 days overdue); 4 payments since then are already overdue" in said
    async with bot.sessions() as db:
        agreement = (await db.execute(select(ObligationAgreement))).scalar_one()
        schedules = (await db.execute(select(ObligationSchedule).where(ObligationSchedule.obligation_id == agreement.id)
                                      .order_by(ObligationSchedule.due_date))).scalars().all()
    overdue = [s.due_date for s in schedules if s.status == ScheduleStatus.OVERDUE]
    assert overdue == [date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1)]
    assert schedules[len(overdue)].due_date == date(2027, 1, 1) and schedules[len(overdue)].status == ScheduleStatus.SCHEDULED
    await bot.command(ADMIN, "run")
    async with bot.sessions() as db:
        alerts = (await db.execute(select(DetectionAlert).where(DetectionAlert.detection_type == DetectionType.LATE_PAYMENT))).scalars().all()
    assert len(alerts) == 3  # Sep, Oct and Nov are more than 7 days late; 1 Dec is 6 days late


async def test_arrears_reach_back_five_years_at_most(bot: BotHarness) -> None:
    await bot.command(ADMIN, 'add client "Old Co" 1000 monthly from 2021-12-06')
    assert "more than 5 years ago" in last_text(bot)


async def test_one_date_reader_and_currency_words(bot: BotHarness) -> None:
    """Issue 19 item 2: the CLI's and the API's words for a date off the calendar; an unknown currency named as unknown."""
    await bot.command(ADMIN, 'add expense "Rent" 10 monthly from 2027-02-31')
    assert "2027-02-31 is not a date on the calendar; check the month and day." in last_text(bot)
    await bot.command(ADMIN, 'add expense "Rent" 10 XYZ monthly')
    assert "`XYZ` is not a currency I know." in last_text(bot)
    await bot.command(ADMIN, 'add expense "Rent\u0007Bell" 10 monthly')
    assert "control character" in last_text(bot)


async def test_a_stale_rate_is_named_on_the_cash_figure_of_the_forecast(bot: BotHarness) -> None:
    """Issue 19 item 2: the forecast reply names a rate more than 7 days old on the cash figure it converted."""
    async with bot.sessions() as db, db.begin():
        await add_rate(db, base_currency="EUR", quote_currency="USD", rate=Decimal("1.08"), rate_date=date(2026, 11, 23), account_id=None)
    await bot.command(ADMIN, 'balance set "Savings" 1000 EUR')
    assert "at the 23 Nov rate" in last_text(bot)
    await bot.command(ADMIN, "forecast")
    reply = next(e for e in reversed(bot.ephemerals_for(ADMIN)) if e.get("blocks") and e["blocks"][0]["type"] == "header")
    assert ":warning: Cash today ($1,080.00) converts Savings (EUR) at the 23 Nov rate." in str(reply["blocks"])

"""Exchange rates from Slack: ``/tamio rate`` (admins, this workspace only), the ECB feed fetched on first
need, and a rate older than a week named on the figure it changed (issues 19 and 22)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from slack_sandbox.standin import SlackStandIn
from tamio.currency.models import ExchangeRate
from tamio.currency.service import add_rate
from tamio.data.models import CashAccount
from tamio.money import format_money
from tests.bot.conftest import ADMIN, APPROVER, BotHarness, free_port, start_bot

pytestmark = pytest.mark.backends("sqlite")
CHF_1000 = format_money(Decimal(1000), "CHF")
USD_FOR_IT = "$1,131.46"  # 1000 / 0.9326 * 1.0552
ECB_DAILY = (Path(__file__).resolve().parents[1] / "fixtures" / "ecb" / "eurofxref-daily.xml").read_text()


def last_text(bot: BotHarness, user: str) -> str:
    return str(bot.ephemerals_for(user)[-1]["text"])


async def balance(bot: BotHarness, name: str) -> CashAccount:
    async with bot.sessions() as db:
        return (await db.execute(select(CashAccount).where(CashAccount.name == name))).scalar_one()


async def test_an_admin_sets_this_workspaces_rate_and_others_cannot(bot: BotHarness) -> None:
    await bot.command(ADMIN, f"role <@{APPROVER}> approver")
    await bot.command(APPROVER, "rate CHF 1.12")
    assert "Only admins" in last_text(bot, APPROVER) or "only admins" in last_text(bot, APPROVER).lower()
    await bot.command(ADMIN, "rate CHF 1.12")
    assert "From today, 1 CHF = 1.12 USD for this workspace" in last_text(bot, ADMIN)
    await bot.command(ADMIN, 'balance set "Zurich" 1000 CHF')
    assert last_text(bot, ADMIN) == f":white_check_mark: *Zurich* now holds {format_money(Decimal(1000), 'CHF')} ($1,120.00)."
    async with bot.sessions() as db:
        [rate] = (await db.execute(select(ExchangeRate))).scalars().all()
        assert (rate.base_currency, rate.quote_currency, rate.rate, rate.user_id is not None) == ("CHF", "USD", Decimal("1.12"), True)


@pytest.mark.parametrize(
    ("text", "says"),
    [("rate XYZ 1.2", "`XYZ` is not a currency I know"), ("rate XTS 1.2", "`XTS` is not a currency I know"),
     ("rate CHF 0", "out of range"), ("rate CHF ١٫٢", "I couldn't read the rate"), ("rate USD 1.1", "this workspace's own currency"),
     ("rate CHF", "I need a currency and what one of it is worth")],
)
async def test_rate_refuses_what_is_not_a_rate(bot: BotHarness, text: str, says: str) -> None:
    await bot.command(ADMIN, text)
    assert says in last_text(bot, ADMIN)


async def test_another_workspaces_rate_leaves_this_one_alone(bot: BotHarness) -> None:
    async with bot.sessions() as db, db.begin():
        await add_rate(db, base_currency="EUR", quote_currency="USD", rate=Decimal("1.08"), rate_date=date(2026, 12, 4), account_id=None)
    other = bot.sender_for("T0OTHER")
    await other.slash_command(ADMIN, "rate EUR 0.000001", "C0OTHER")
    await bot.settle()
    await bot.command(ADMIN, 'balance set "Paris" 100000 EUR')
    assert last_text(bot, ADMIN) == ":white_check_mark: *Paris* now holds €100,000.00 ($108,000.00)."


@pytest.fixture
async def feed() -> AsyncIterator[dict[str, object]]:
    """An ECB feed on loopback: the daily XML dated 12 Nov 2026, and how often it was read."""
    state: dict[str, object] = {"requests": 0, "xml": ECB_DAILY.replace("2024-11-27", "2026-11-12")}

    async def daily(request: web.Request) -> web.Response:
        state["requests"] = int(state["requests"]) + 1  # type: ignore[call-overload]
        return web.Response(text=str(state["xml"]), content_type="application/xml")

    app = web.Application()
    app.router.add_get("/eurofxref-daily.xml", daily)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    state["url"] = f"http://127.0.0.1:{port}/eurofxref-daily.xml"
    try:
        yield state
    finally:
        await runner.cleanup()


async def test_the_ecb_feed_is_fetched_on_first_need_and_an_old_rate_is_named(
    slack: SlackStandIn, session_factory: async_sessionmaker[AsyncSession], feed: dict[str, object]
) -> None:
    async for bot in start_bot(slack, session_factory, ecb_feed_url=feed["url"]):
        await bot.command(ADMIN, 'balance set "Zurich" 1000 CHF')
        # 1000 CHF -> EUR -> USD through the feed of 12 Nov (EUR/CHF 0.9326, EUR/USD 1.0552), 25 days old on 7 Dec.
        assert last_text(bot, ADMIN) == f":white_check_mark: *Zurich* now holds {CHF_1000} ({USD_FOR_IT} at the 12 Nov rate)."
        assert feed["requests"] == 1
        await bot.command(ADMIN, 'balance set "Oslo" 1000 NOK')  # in the feed now: no second download
        assert "at the 12 Nov rate" in last_text(bot, ADMIN) and feed["requests"] == 1
        await bot.command(ADMIN, 'balance set "Lagos" 1000 NGN')  # the ECB has no naira
        assert "no exchange rate from NGN to USD" in last_text(bot, ADMIN) and "`/tamio rate NGN" in last_text(bot, ADMIN)
        await bot.command(ADMIN, 'balance set "Lagos" 1000 NGN')
        assert feed["requests"] == 2  # asked once for NGN, not again within the hour
        async with bot.sessions() as db:
            assert (await db.execute(select(CashAccount.name).where(CashAccount.name == "Lagos"))).first() is None
            assert {r.user_id for r in (await db.execute(select(ExchangeRate))).scalars()} == {None}  # the server's feed


async def test_a_fresh_rate_is_not_named(slack: SlackStandIn, session_factory: async_sessionmaker[AsyncSession],
                                         feed: dict[str, object]) -> None:
    feed["xml"] = ECB_DAILY.replace("2024-11-27", "2026-12-04")
    async for bot in start_bot(slack, session_factory, ecb_feed_url=feed["url"]):
        await bot.command(ADMIN, 'balance set "Zurich" 1000 CHF')
        assert last_text(bot, ADMIN) == f":white_check_mark: *Zurich* now holds {CHF_1000} ({USD_FOR_IT})."

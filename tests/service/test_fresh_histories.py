"""A property: whatever happens to the money (balances set, bills added, cards approved and carried out,
time passing), once the refresh it asked for has run, every open alert, every pending card and
App Home agree with the forecast; no alert has two cards waiting; no credit line is drawn past its limit;
the basis a steady run checks the cards on without a context (``load_bases``) is the context's."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

import tamio.models
from tamio.accounts.models import Account
from tamio.config import Settings
from tamio.data.models import CashAccount
from tamio.data.service import set_balance
from tamio.db import create_engine, make_session_factory
from tamio.demo import PEOPLE
from tamio.detection.snapshot import load_snapshot
from tamio.execution import closing
from tamio.execution.service import execute_action
from tamio.pipeline import run_detection_preparation_cycle
from tamio.preparation.basis import load_bases
from tamio.preparation.context import load_context
from tamio.preparation.freshness import forecast_basis
from tamio.preparation.models import ActionStatus, PreparedAction
from tests.conftest import secret_for_tests
from tests.consistency import assert_figures_agree
from tests.service.execution_factories import Mailbox, settings_for
from tests.service.fresh_story import NOW, Story

steps = st.lists(
    st.one_of(
        st.tuples(st.just("balance"), st.integers(0, 120).map(lambda n: Decimal(n * 500))),
        st.tuples(st.just("bill"), st.integers(1, 400).map(lambda n: Decimal(n * 50)), st.integers(1, 80)),
        st.tuples(st.just("approve"), st.integers(0, 9)),
        st.tuples(st.just("wait"), st.sampled_from([3, 90, 60 * 26, 60 * 24 * 8])),
    ),
    min_size=1, max_size=5,
)


async def _history(db_url: str, settings: Settings, history: list[tuple[object, ...]]) -> None:
    engine = create_engine(db_url)
    try:
        sessions = make_session_factory(engine, secret_for_tests())
        story = await Story.open(sessions, settings)
        now: datetime = NOW
        for step in history:
            now += timedelta(minutes=1)
            if step[0] == "balance":
                async with sessions() as db, db.begin():
                    account = await db.get(Account, story.account_id)
                    assert account is not None
                    await set_balance(db, account=account, name="Operating", amount=Decimal(str(step[1])), currency="USD",
                                      on_date=now.date(), now=now)
            elif step[0] == "bill":
                await story.add_expense(f"Bill {now:%H%M}", str(step[1]), now.date() + timedelta(days=int(str(step[2]))), now)
            elif step[0] == "approve":
                cards = [c for c in await story.cards() if not c.action.requires_admin]
                if cards:
                    card = cards[int(str(step[1])) % len(cards)]
                    decision = await story.approve(card.action.id, 1, PEOPLE.approver, now)
                    if decision.outcome == "awaiting_second_approval":
                        decision = await story.approve(card.action.id, 1, PEOPLE.approver_two, now)
                    assert decision.outcome in ("approved", "figures_changed"), decision
                    if decision.outcome == "approved":
                        await execute_action(sessions, account_id=story.account_id, action_id=card.action.id, now=now, settings=settings)
            else:
                now += timedelta(minutes=int(str(step[1])))
                async with sessions() as db, db.begin():  # the hourly run
                    await closing.expire_due(db, account=await story.account(db), now=now)
                    await run_detection_preparation_cycle(db, story.account_id, now=now, settings=settings)
            await story.drain(now)
            await assert_figures_agree(sessions, account_id=story.account_id, now=now, settings=settings, home=await story.home(now))
            async with sessions() as db:
                pending = Counter((await db.execute(select(PreparedAction.alert_id).where(
                    PreparedAction.user_id == story.account_id, PreparedAction.status == ActionStatus.PENDING))).scalars())
                lines = (await db.execute(select(CashAccount).where(CashAccount.user_id == story.account_id,
                                                                   CashAccount.credit_limit.is_not(None)))).scalars().all()
            assert [alert for alert, n in pending.items() if n > 1] == [], history
            async with sessions() as db:  # a steady run checks the cards on the basis worked out without a context: the same
                account = await story.account(db)
                today = now.astimezone(ZoneInfo(account.timezone)).date()
                snapshot = await load_snapshot(db, story.account_id, today=today, settings=settings)
                context = await load_context(db, account_id=story.account_id, today=today, settings=settings, snapshot=snapshot)
                assert (await load_bases(db, {story.account_id: snapshot}))[story.account_id] == forecast_basis(context), history
            assert all(line.drawn_amount <= (line.credit_limit or 0) for line in lines), history
    finally:
        await engine.dispose()


@pytest.mark.slow
def test_after_any_history_and_its_refresh_every_figure_agrees_with_the_forecast(db_url: str) -> None:
    assert tamio.models.__all__
    with Mailbox() as mailbox:
        money = settings_for(mailbox.port)

        @settings(max_examples=12 if db_url.startswith("sqlite") else 4, deadline=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
        @given(steps)
        def check(history: list[tuple[object, ...]]) -> None:
            asyncio.run(_history(db_url, money, history))

        check()

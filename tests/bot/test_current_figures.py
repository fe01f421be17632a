"""What Slack shows follows the changes already made: `/tamio alerts` and `/tamio actions` right after a
payment answer the account's waiting refresh first (``Scope.current_figures``).

The finding: a change queues a refresh for the account and a background loop runs it every
``TAMIO_REFRESH_SECONDS``; meanwhile `/tamio alerts` still listed "Late Payer Co is 17 days late" after
`/tamio paid` had settled the invoice. Here no background loop runs (``slash_command`` without
``settle``): only the answers' own refresh can bring the figures up to date. A refresh that must wait
(SQLite's write lock held by another writer, or another replica's run on PostgreSQL) does not hold
Slack's ack: the app answers "Working on it…" and the fresh answer follows through the response URL.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select, text

from bot.boundary import WORKING_ON_IT
from tamio.pipeline import PipelineRun, refresh_figures
from tamio.refresh import service as refresh
from tamio.scheduler.refresh import up_to_date
from tests.bot.conftest import ADMIN, VIEWER, BotHarness, write_lock_held
from tests.bot.prepared import account_of
from tests.waiting import until

LATE = "Late Payer Co is 17 days late"


async def late_invoice(bot: BotHarness) -> str:
    """An overdue invoice with its open alert and chase card, every refresh answered; the account id."""
    await bot.command(ADMIN, "digest here")
    await bot.command(ADMIN, 'balance set "Operating" 20000')
    await bot.command(ADMIN, 'add client "Late Payer Co" invoice 5000 due 2026-11-20 ref INV-1042')
    await bot.command(ADMIN, "run")
    await bot.command(ADMIN, "alerts")
    assert LATE in str(bot.ephemerals_for(ADMIN)[-1]["blocks"])
    return (await account_of(bot.sessions)).id


async def paid_without_refresh(bot: BotHarness, account_id: str) -> None:
    """`/tamio paid`, its after-ack work done, and no refresh drained: the request waits."""
    await bot.sender.slash_command(ADMIN, 'paid "Late Payer Co" 5000 for INV-1042', "C0FINANCE")
    await bot.app.runtime.drain()
    async with bot.sessions() as db:
        assert await refresh.waiting(db, account_ids=[account_id])


async def refresh_runs(bot: BotHarness, account_id: str) -> int:
    async with bot.sessions() as db:
        return int((await db.execute(select(func.count()).select_from(PipelineRun).where(
            PipelineRun.user_id == account_id, PipelineRun.trigger == "refresh"))).scalar_one())


def shown(reply_json: dict[str, object]) -> str:
    return f"{reply_json.get('text')} {reply_json.get('blocks')}"


async def test_alerts_and_actions_right_after_a_payment_show_the_figures_after_it(bot: BotHarness) -> None:
    account_id = await late_invoice(bot)
    chase = shown((await bot.sender.slash_command(ADMIN, "actions", "C0FINANCE")).json())
    assert "Late Payer Co" in chase, chase
    await paid_without_refresh(bot, account_id)
    runs = await refresh_runs(bot, account_id)

    answer = shown((await bot.sender.slash_command(ADMIN, "alerts", "C0FINANCE")).json())
    assert LATE not in answer and "No open alerts" in answer, answer
    answer = shown((await bot.sender.slash_command(ADMIN, "actions", "C0FINANCE")).json())
    assert "Nothing waits for a decision" in answer, answer
    assert await refresh_runs(bot, account_id) == runs + 1  # the first answer ran it; the second found nothing waiting
    async with bot.sessions() as db:
        assert not await refresh.waiting(db, account_ids=[account_id])


async def test_a_viewer_told_only_whether_something_needs_attention_is_told_after_the_payment(bot: BotHarness) -> None:
    account_id = await late_invoice(bot)
    await bot.command(ADMIN, "help")  # the viewer is a member before the payment
    await bot.command(VIEWER, "alerts")
    assert "1 open alert" in str(bot.ephemerals_for(VIEWER)[-1]["text"])
    await paid_without_refresh(bot, account_id)
    answer = shown((await bot.sender.slash_command(VIEWER, "alerts", "C0FINANCE")).json())
    assert "Nothing needs attention" in answer, answer


@pytest.mark.backends("sqlite")
async def test_a_refresh_that_must_wait_acks_working_on_it_and_the_fresh_answer_follows(bot: BotHarness) -> None:
    account_id = await late_invoice(bot)
    await paid_without_refresh(bot, account_id)
    bot.app.runtime.ack_deadline_s = 0.2  # the production 2 s, shortened: the order of events is what counts
    async with write_lock_held(bot):
        reply = await bot.sender.slash_command(ADMIN, "alerts", "C0FINANCE")
        assert (reply.status, reply.json()["text"]) == (200, WORKING_ON_IT)  # acked while the refresh waited
    await bot.app.runtime.drain()
    answer = bot.ephemerals_for(ADMIN)[-1]
    assert "No open alerts" in answer["text"] and LATE not in str(answer["blocks"]), answer


ADVISORY_WAITERS = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")


@pytest.mark.backends("pg")
async def test_with_another_replica_refreshing_the_answer_waits_for_its_run_and_never_runs_it_again(bot: BotHarness) -> None:
    account_id = await late_invoice(bot)
    await paid_without_refresh(bot, account_id)
    runs = await refresh_runs(bot, account_id)
    bot.app.runtime.ack_deadline_s = 0.2
    async with bot.sessions() as other, other.begin():  # another replica's drain, in the middle of its run
        assert await refresh.take_turn(other, account_id=account_id)
        reply = await bot.sender.slash_command(ADMIN, "alerts", "C0FINANCE")
        assert reply.json()["text"] == WORKING_ON_IT

        async def one_waiter() -> bool:
            async with bot.sessions() as db:
                return int((await db.execute(ADVISORY_WAITERS)).scalar_one()) == 1

        await until(one_waiter, what="the answer waits for the other replica's run")
        assert await refresh_figures(other, account_id, now=bot.app.runtime.clock(), settings=bot.settings) is not None
    await asyncio.wait_for(bot.app.runtime.drain(), timeout=60)
    answer = bot.ephemerals_for(ADMIN)[-1]
    assert "No open alerts" in answer["text"] and LATE not in str(answer["blocks"]), answer
    assert await refresh_runs(bot, account_id) == runs + 1  # the other replica's run only


async def test_app_home_opened_right_after_a_payment_shows_the_figures_after_it(bot: BotHarness) -> None:
    account_id = await late_invoice(bot)
    await bot.sender.app_home_opened(ADMIN)
    await bot.settle()
    assert LATE in str(bot.slack.home_views[ADMIN]["blocks"])
    await paid_without_refresh(bot, account_id)
    await bot.sender.app_home_opened(ADMIN)
    await bot.app.runtime.drain()
    assert LATE not in str(bot.slack.home_views[ADMIN]["blocks"])


@pytest.mark.backends("pg")
async def test_a_read_waits_for_another_replicas_run_only_so_long_then_shows_what_is_stored(bot: BotHarness) -> None:
    account_id = await late_invoice(bot)
    await paid_without_refresh(bot, account_id)
    runs = await refresh_runs(bot, account_id)
    now = bot.app.runtime.clock()
    async with bot.sessions() as other, other.begin():  # another replica's run that does not end in time
        assert await refresh.take_turn(other, account_id=account_id)
        assert not await up_to_date(bot.sessions, account_id=account_id, now=now, settings=bot.settings, wait_seconds=0.2)
    assert await refresh_runs(bot, account_id) == runs  # nothing ran; the request still waits for the next drain
    assert await up_to_date(bot.sessions, account_id=account_id, now=now, settings=bot.settings, wait_seconds=0.2)
    assert await refresh_runs(bot, account_id) == runs + 1

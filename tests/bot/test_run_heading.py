"""A scheduled run says where its cards come from (issue 19 item 6).

Before, the hourly run posted its cards into the channel with no word of where they came from; now
one message heads them ("Hourly check: 3 new things need you", one line each), posted first.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from slack_sandbox.blockkit_limits import message_block_errors
from slack_sandbox.standin import SlackStandIn
from tamio.pipeline import PipelineConfig, PipelineMode, run_detection_preparation_cycle
from tamio.scheduler.runner import SchedulerApp
from tests.bot.test_delivery_reliability import deliver_everything, worker_for
from tests.bot.test_digest import CHANNEL, DEC_7, LATER, acme, morning
from tests.service.books import SCHEDULE_PATH


async def test_the_hourly_run_heads_its_new_cards_with_one_message(slack: SlackStandIn, session_factory: async_sessionmaker[AsyncSession]) -> None:
    await acme(session_factory)
    worker = worker_for(slack, session_factory, "w", spacing=0.0, clock=LATER)

    class At:
        now = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)

    await SchedulerApp(SCHEDULE_PATH, session_factory, clock=lambda: At.now).run_due("pipeline")
    await deliver_everything([worker], session_factory)
    posted = slack.messages(CHANNEL)
    heading, cards = posted[0], [m for m in posted[1:] if m["blocks"][0]["type"] == "header"]
    assert cards and heading["text"] == f"Hourly check: {len(posted) - 1} new things need you"
    assert message_block_errors(heading["blocks"]) == []
    lines = heading["blocks"][1]["text"]["text"].split("\n")
    assert len(lines) == len(posted) - 1 and all(line.startswith("• ") for line in lines)
    for line in lines:  # each line names one of the messages that follow it
        assert sum(line[2:] in str(m["blocks"]) for m in posted[1:]) >= 1, line

    At.now = datetime(2026, 12, 7, 11, 0, tzinfo=UTC)  # the next hour finds nothing new: no heading
    await SchedulerApp(SCHEDULE_PATH, session_factory, clock=lambda: At.now).run_due("pipeline")
    await deliver_everything([worker], session_factory)
    assert [m for m in slack.messages(CHANNEL) if m["text"].startswith("Hourly check")] == [heading]


async def test_a_run_someone_asked_for_answers_itself_without_a_heading(slack: SlackStandIn, session_factory: async_sessionmaker[AsyncSession]) -> None:
    account_id = await acme(session_factory)
    worker = worker_for(slack, session_factory, "w", spacing=0.0, clock=LATER)
    async with session_factory() as db, db.begin():
        await run_detection_preparation_cycle(db, account_id, PipelineConfig(mode=PipelineMode.FULL), now=morning(DEC_7, 5),
                                              settings=SCHEDULE_PATH, trigger="slack")
    await deliver_everything([worker], session_factory)
    assert slack.messages(CHANNEL) and not [m for m in slack.messages(CHANNEL) if "check:" in m["text"]]

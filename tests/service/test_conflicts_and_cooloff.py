"""Issue 15, item 4 (preparing): actions that act on the same payment, credit line or invoice are linked
as conflicts; after a chase email no new chase of that invoice is proposed for ``chase_cooloff_days``,
and the late payer's next card says when it was last chased."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.blocks.card import card_blocks
from bot.queries import CardData
from tamio.accounts.models import UserConfiguration
from tamio.detection.models import AlertStatus, DetectionAlert, DetectionType
from tamio.execution.service import execute_action
from tamio.pipeline import run_detection_preparation_cycle
from tamio.preparation.models import ActionType, LinkedAction, LinkType
from tests.service.books import SCHEDULE_PATH
from tests.service.execution_factories import Mailbox, settings_for
from tests.service.fresh_story import NOW, TODAY, Story, later

BLUEBIRD = "Bluebird Studio"


def chases_of(cards: list[CardData], client: str) -> list[str]:
    """The options (or plan steps) of pending cards that would email ``client`` about an invoice."""
    found = []
    for card in cards:
        for option in card.options:
            for step in [{"kind": option.kind, **(option.params or {})}, *(option.params or {}).get("steps", [])]:
                if step.get("kind") == "send_email" and step.get("schedule_id") and client in (option.counterparty_name or ""):
                    found.append(f"{card.action.title}: {option.title}")
    return found


async def test_cards_acting_on_the_same_payment_or_credit_line_are_linked_as_conflicts(session_factory: async_sessionmaker[AsyncSession]) -> None:
    story = await Story.open(session_factory, SCHEDULE_PATH)
    cards = {c.action.action_type: c for c in await story.cards()}
    buffer, runway = cards[ActionType.PAYMENT_PRIORITIZATION], cards[ActionType.CREDIT_LINE_DRAW]
    payroll = cards[ActionType.PAYROLL_CONTINGENCY]
    async with session_factory() as db:
        links = (await db.execute(select(LinkedAction).where(LinkedAction.link_type == LinkType.CONFLICTS))).scalars().all()
    pairs = {frozenset((link.source_action_id, link.target_action_id)): link.reason for link in links}
    # Both answer the cash position with the same draw on Credit line and the same delay of Cloud Host's payment.
    assert "the same payment" in pairs[frozenset((buffer.action.id, runway.action.id))]
    assert "the same credit line" in pairs[frozenset((buffer.action.id, runway.action.id))]
    assert frozenset((buffer.action.id, payroll.action.id)) in pairs
    assert frozenset((runway.action.id, payroll.action.id)) in pairs
    chase = cards[ActionType.INVOICE_FOLLOW_UP]  # and the buffer card's chase of Bluebird's invoice
    assert "the same invoice" in pairs[frozenset((buffer.action.id, chase.action.id))]
    shown = str(card_blocks(buffer, today=TODAY, base_currency="USD"))
    assert "Conflicts with" in shown and runway.action.title in shown


async def test_no_new_chase_within_the_cooloff_then_the_card_says_when_it_was_last_chased(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    with Mailbox() as mailbox:
        settings = settings_for(mailbox.port)
        story = await Story.open(session_factory, settings)
        chase = await story.card(ActionType.INVOICE_FOLLOW_UP)
        assert chase.action.counterparty_name == BLUEBIRD and chases_of(await story.cards(), BLUEBIRD)
        firm = next(o for o in chase.options if o.draft_tone == "firm")
        decision = await story.approve(chase.action.id, firm.rank, "U0APPROVER", later(1))
        assert decision.outcome == "approved"
        outcome = await execute_action(session_factory, account_id=story.account_id, action_id=chase.action.id, now=later(1), settings=settings)
        assert outcome.status == "executed" and len(mailbox.to("accounts@bluebird.example")) == 1

        # Three minutes later: the refresh the email asked for, then an hourly run; the alert stays open.
        assert await story.drain(later(4)) == 1
        async with session_factory() as db, db.begin():
            await run_detection_preparation_cycle(db, story.account_id, now=later(4), settings=settings)
        assert chases_of(await story.cards(), BLUEBIRD) == []
        async with session_factory() as db:
            alert = (await db.execute(select(DetectionAlert).where(DetectionAlert.detection_type == DetectionType.LATE_PAYMENT))).scalar_one()
        assert alert.status is AlertStatus.ACTIVE
        await story.agrees(later(4), with_home=False)

        six_days = NOW + timedelta(days=6)
        async with session_factory() as db, db.begin():
            await run_detection_preparation_cycle(db, story.account_id, now=six_days, settings=settings)
        assert chases_of(await story.cards(), BLUEBIRD) == []

        week = NOW + timedelta(days=7)
        async with session_factory() as db, db.begin():
            await run_detection_preparation_cycle(db, story.account_id, now=week, settings=settings)
        again = await story.card(ActionType.INVOICE_FOLLOW_UP)
        assert again.action.id != chase.action.id
        assert "Last chased 7 Dec (firm reminder)." in again.options[0].description
        shown = str(card_blocks(again, today=week.date(), base_currency="USD"))
        assert "*Last chased*\\n7 Dec (firm reminder)" in shown
        await story.agrees(week, with_home=False)


async def test_the_cooloff_is_the_accounts_setting(session_factory: async_sessionmaker[AsyncSession]) -> None:
    with Mailbox() as mailbox:
        settings = settings_for(mailbox.port)
        story = await Story.open(session_factory, settings)
        async with session_factory() as db, db.begin():
            config = await db.get(UserConfiguration, story.account_id)
            assert config is not None and config.chase_cooloff_days == 7
            config.chase_cooloff_days = 2
        chase = await story.card(ActionType.INVOICE_FOLLOW_UP)
        assert (await story.approve(chase.action.id, 1, "U0APPROVER", later(1))).outcome == "approved"
        await execute_action(session_factory, account_id=story.account_id, action_id=chase.action.id, now=later(1), settings=settings)
        for days, chased in ((1, False), (2, True)):
            async with session_factory() as db, db.begin():
                await run_detection_preparation_cycle(db, story.account_id, now=NOW + timedelta(days=days), settings=settings)
            assert bool(chases_of(await story.cards(), BLUEBIRD)) is chased, days

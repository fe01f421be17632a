"""Issue 15: a payment an executed action moved is never moved again by the cards prepared after it.

The finding: buffer breach and runway each prepared "Delay $2,500 to Cloud Host", and the payment
moved twice (20 Dec -> 19 Jan -> 1 Mar). Carrying out one now supersedes the other; but before this
fix the card prepared again for the still open buffer breach offered to delay the same payment once
more, since preparation counted the moved payment as one that could still wait. The successor comes
with the refresh the delay asks for (not with the next pipeline run), and its figures see the payment
on its new date (the consistency check prepares it again from the current data).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.queries import CardData, load_cards, pending_action_ids
from tamio.accounts.models import Account
from tamio.accounts.service import get_user_configuration
from tamio.detection.models import AlertStatus, DetectionAlert, DetectionType
from tamio.execution import lifecycle
from tamio.execution.delays import agree_delay
from tamio.execution.service import execute_action
from tamio.obligations.models import ObligationSchedule
from tamio.preparation.models import ActionOption, ActionStatus, PreparedAction
from tamio.scheduler.refresh import drain_refreshes
from tests.consistency import assert_figures_agree
from tests.service.execution_factories import MONDAY, NOW, Mailbox, Team, later, settings_for

CLOUD_HOST_DUE = date(2026, 12, 21)


async def cards(sessions: async_sessionmaker[AsyncSession], account_id: str) -> list[CardData]:
    async with sessions() as db:
        return await load_cards(db, account_id=account_id, action_ids=await pending_action_ids(db, account_id=account_id, limit=50))


def moved(option: ActionOption) -> set[str]:
    """The payments an option would move (a plan's steps count)."""
    params = option.params or {}
    return {str(m["schedule_id"]) for step in [params, *params.get("steps", [])] for m in step.get("moves") or []}


def moved_by(card: CardData) -> set[str]:
    return {s for option in card.options for s in moved(option)}


async def test_the_cards_after_a_carried_out_delay_never_move_that_payment_again(session_factory: async_sessionmaker[AsyncSession]) -> None:
    with Mailbox() as mailbox:
        settings = settings_for(mailbox.port)
        async with session_factory() as db, db.begin():
            team = await Team.open(db)
            books = team.books
            books.settings = settings
            await books.cash("Operating", "6000")
            await books.client("Bluebird Studio", "1500", books.every("once", MONDAY - timedelta(days=20)),
                               contact_email="ap@bluebird.example")  # late: a chase is the other remedy
            config = await get_user_configuration(db, account_id=team.account.id)
            config.obligations_buffer_amount = Decimal("5000")
            await books.expense("Cloud Host", "2500", books.every("once", CLOUD_HOST_DUE), flexibility_level="can_delay",
                                contact_email="billing@cloudhost.example")
            await books.expense("Rent", "4000", books.every("monthly", MONDAY + timedelta(days=4), day=11), flexibility_level="cannot_delay")
            account_id = team.account.id
        await drain_refreshes(session_factory, now=NOW, settings=settings)
        delaying = [c for c in await cards(session_factory, account_id) if moved_by(c)]
        by_type = {c.alert.detection_type: c for c in delaying if c.alert is not None}
        assert len(delaying) == 2 and set(by_type) == {DetectionType.BUFFER_BREACH, DetectionType.RUNWAY_THRESHOLD}
        [schedule_id] = {s for c in delaying for s in moved_by(c)}  # both would move Cloud Host's $2,500
        runway, buffer = by_type[DetectionType.RUNWAY_THRESHOLD], by_type[DetectionType.BUFFER_BREACH]
        option = next(o for o in runway.options if moved(o))
        async with session_factory() as db, db.begin():
            decision = await lifecycle.approve(db, account=await team_account(db, account_id), member=team.maria, action_id=runway.action.id,
                                               option_id=option.id, now=later(1), settings=settings)
            assert decision.outcome == "approved", decision
        outcome = await execute_action(session_factory, account_id=account_id, action_id=runway.action.id, now=later(1), settings=settings)
        assert outcome.status == "executed", outcome
        async with session_factory() as db:  # asked, not yet agreed: the payment keeps its date
            payment = await db.get(ObligationSchedule, schedule_id)
            assert payment is not None and payment.delay_requested_to is not None and payment.due_date == CLOUD_HOST_DUE
        async with session_factory() as db, db.begin():  # the vendor agrees: now it moves
            await agree_delay(db, account=await team_account(db, account_id), member=team.maria, action_id=runway.action.id,
                              today=later(1).date(), now=later(1))
        async with session_factory() as db:
            payment = await db.get(ObligationSchedule, schedule_id)
            assert payment is not None and payment.delayed_from == CLOUD_HOST_DUE and payment.due_date > CLOUD_HOST_DUE
            superseded = await db.get(PreparedAction, buffer.action.id)
            assert superseded is not None and superseded.status is ActionStatus.SUPERSEDED

        # The refresh the delay and its agreement asked for, and nothing else: the buffer breach is still open (Rent
        # still breaks the buffer) and has a fresh card at once (savings to move), which does not move
        # Cloud Host again.
        assert list(await drain_refreshes(session_factory, now=later(1), settings=settings)) == [account_id]
        async with session_factory() as db:
            alert = await db.get(DetectionAlert, buffer.action.alert_id)
            assert alert is not None and alert.status in (AlertStatus.ACTIVE, AlertStatus.ACKNOWLEDGED)
        fresh = await cards(session_factory, account_id)
        successor = [c for c in fresh if c.action.alert_id == buffer.action.alert_id]
        assert successor, [c.action.title for c in fresh]
        for card in fresh:
            assert schedule_id not in moved_by(card), (card.action.title, [o.title for o in card.options])
        # Approved, a fresh card's option would not move it either (nothing left to approve that does).
        async with session_factory() as db:
            again = await db.get(ObligationSchedule, schedule_id)
            assert again is not None and again.due_date == payment.due_date
        assert len(mailbox.to("billing@cloudhost.example")) == 1
        await assert_figures_agree(session_factory, account_id=account_id, now=later(1), settings=settings)


async def team_account(db: AsyncSession, account_id: str) -> Account:
    account = await db.get(Account, account_id)
    assert account is not None
    return account

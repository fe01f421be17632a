"""The demo company of the findings in issue 15, and the steps its stories take.

Harbor & Pine Studio on Mon 7 Dec 2026: $13,000 of cash, a $10,000 buffer, a $40,000 credit line,
payroll of $21,000 on Fri 11 Dec. Its first refresh raises "Cash falls $25,637.18 below your
buffer" and prepares "Draw $26,000.00 on Credit line" (lowest after $10,362.82) on three cards
(the findings' $25,640.00 and $10,360 before the forecast spread receivables by how clients pay).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.home import render_home
from bot.queries import CardData, load_cards, pending_action_ids
from bot.runtime import Runtime
from tamio.accounts.models import Account, Member
from tamio.accounts.service import get_member
from tamio.config import Settings
from tamio.demo import PEOPLE, seed_demo
from tamio.execution import lifecycle
from tamio.execution.service import execute_action
from tamio.obligations.counterparties import BillingLine, CounterpartyService
from tamio.obligations.models import ObligationType
from tamio.obligations.recurrence import Frequency
from tamio.obligations.schemas import RecurrenceSpec
from tamio.preparation.models import ActionType
from tamio.scheduler.refresh import drain_refreshes
from tests.consistency import assert_figures_agree

TODAY = date(2026, 12, 7)
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def later(minutes: float) -> datetime:
    return NOW + timedelta(minutes=minutes)


@dataclass
class Story:
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings
    account_id: str

    @classmethod
    async def open(cls, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> Story:
        async with sessions() as db, db.begin():
            account = await seed_demo(db, settings=settings, today=TODAY, now=NOW)
        story = cls(sessions, settings, account.id)
        await story.drain(NOW)
        return story

    async def drain(self, now: datetime) -> int:
        return len(await drain_refreshes(self.sessions, now=now, settings=self.settings))

    async def cards(self) -> list[CardData]:
        async with self.sessions() as db:
            ids = await pending_action_ids(db, account_id=self.account_id, limit=50)
            return await load_cards(db, account_id=self.account_id, action_ids=ids)

    async def card(self, action_type: ActionType) -> CardData:
        [card] = [c for c in await self.cards() if c.action.action_type is action_type]
        return card

    async def member(self, db: AsyncSession, slack_user_id: str) -> Member:
        member = await get_member(db, account_id=self.account_id, slack_user_id=slack_user_id)
        assert member is not None
        return member

    async def account(self, db: AsyncSession) -> Account:
        account = await db.get(Account, self.account_id)
        assert account is not None
        return account

    async def add_expense(self, name: str, amount: str, due: date, now: datetime) -> None:
        """A new one-off bill, committed (it asks for a refresh, which is not drained here)."""
        async with self.sessions() as db, db.begin():
            books = CounterpartyService(db, account=await self.account(db), settings=self.settings, today=now.date(), now=now)
            line = BillingLine(Decimal(amount), "USD", RecurrenceSpec(Frequency.ONCE, start_date=due), ObligationType.EXPENSE)
            await books.create_expense(name=name, category="other", billing=line)

    async def approve(self, action_id: str, option_rank: int, who: str, now: datetime) -> lifecycle.Decision:
        async with self.sessions() as db, db.begin():
            card = next(c for c in await self._cards(db, [action_id]))
            option = next(o for o in card.options if o.rank == option_rank)
            return await lifecycle.approve(db, account=await self.account(db), member=await self.member(db, who), action_id=action_id,
                                           option_id=option.id, now=now, settings=self.settings)

    async def approve_both(self, action_id: str, option_rank: int, now: datetime) -> None:
        """Dual control: the two approvers approve the same option; then it is carried out."""
        first = await self.approve(action_id, option_rank, PEOPLE.approver, now)
        assert first.outcome == "awaiting_second_approval", first
        second = await self.approve(action_id, option_rank, PEOPLE.approver_two, now)
        assert second.outcome == "approved", second
        outcome = await execute_action(self.sessions, account_id=self.account_id, action_id=action_id, now=now, settings=self.settings)
        assert outcome.status == "executed", outcome

    async def _cards(self, db: AsyncSession, ids: list[str]) -> list[CardData]:
        return await load_cards(db, account_id=self.account_id, action_ids=ids)

    async def home(self, now: datetime) -> dict[str, object]:
        from bot.charts import ChartLinks
        from tests.conftest import TEST_SECRET_KEY

        runtime = Runtime(self.settings, self.sessions, clock=lambda: now)
        charts = ChartLinks(self.settings.model_copy(update={"secret_key": TEST_SECRET_KEY}))
        return await render_home(runtime, account_id=self.account_id, slack_user_id=PEOPLE.admin, charts=charts)

    async def agrees(self, now: datetime, *, with_home: bool = True) -> None:
        """The consistency check (issue 15, item 7): alerts, pending cards and App Home against the forecast."""
        home = await self.home(now) if with_home else None
        await assert_figures_agree(self.sessions, account_id=self.account_id, now=now, settings=self.settings, home=home)

    async def request_count(self) -> int:
        from tamio.refresh.models import RefreshRequest

        async with self.sessions() as db:
            return len((await db.execute(select(RefreshRequest).where(RefreshRequest.user_id == self.account_id))).all())

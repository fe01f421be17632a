"""Issue 15, item 3: every change to money data asks for a refresh in its own transaction; the drain
answers each request once, keeps one that came in while it ran, and replicas take turns."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.accounts.models import Account
from tamio.accounts.service import create_account
from tamio.data.service import set_balance
from tamio.obligations.counterparties import CounterpartyService
from tamio.obligations.models import ObligationAgreement, ObligationSchedule
from tamio.obligations.payments import record_payment
from tamio.obligations.service import ObligationService
from tamio.refresh import service as refresh
from tamio.refresh.models import RefreshRequest
from tamio.refresh.service import CASH, CLIENTS, EVERYTHING, VENDORS
from tests.service.books import SCHEDULE_PATH, Books

TODAY = date(2026, 12, 7)
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
Change = Callable[[AsyncSession, Account], Awaitable[object]]


async def _balance(db: AsyncSession, account: Account) -> object:
    return await set_balance(db, account=account, name="Operating", amount=Decimal("900"), currency="USD", on_date=TODAY, now=NOW)


async def _client(db: AsyncSession, account: Account) -> object:
    return await CounterpartyService(db, account=account, settings=SCHEDULE_PATH, today=TODAY, now=NOW).create_client(name="Beta LLC")


async def _vendor_terms(db: AsyncSession, account: Account) -> object:
    service = CounterpartyService(db, account=account, settings=SCHEDULE_PATH, today=TODAY, now=NOW)
    bucket = await service.create_expense(name="Cloud Host")
    return await service.update_expense(bucket, flexibility_level="can_delay")


async def _payment(db: AsyncSession, account: Account) -> object:
    schedule = (await db.execute(select(ObligationSchedule).where(ObligationSchedule.user_id == account.id)
                                 .order_by(ObligationSchedule.due_date))).scalars().first()
    assert schedule is not None
    return await record_payment(db, account=account, amount=Decimal("100"), currency="USD", payment_date=TODAY, schedule=schedule,
                                adjust_balance=False, reference="part", now=NOW)


async def _cancel(db: AsyncSession, account: Account) -> object:
    agreement = (await db.execute(select(ObligationAgreement).where(ObligationAgreement.user_id == account.id))).scalars().first()
    assert agreement is not None
    return await ObligationService(db, account=account, settings=SCHEDULE_PATH, today=TODAY, now=NOW).cancel_agreement(agreement)


@pytest.mark.parametrize(("change", "scopes"), [
    (_balance, CASH), (_client, CASH | CLIENTS), (_vendor_terms, CASH | VENDORS), (_payment, EVERYTHING), (_cancel, EVERYTHING),
], ids=["balance", "client", "vendor-terms", "payment", "cancelled-obligation"])
async def test_every_change_to_money_data_asks_for_a_refresh_in_its_transaction(
    session_factory: async_sessionmaker[AsyncSession], change: Change, scopes: int,
) -> None:
    async with session_factory() as db, db.begin():
        books = await Books.open(db, today=TODAY)
        await books.client("Acme Corp", "5000", books.every("monthly", TODAY, day=20))
        account_id = books.account.id
    async with session_factory() as db, db.begin():
        await db.execute(RefreshRequest.__table__.delete())
    async with session_factory() as db, db.begin():
        account = await db.get(Account, account_id)
        assert account is not None
        await change(db, account)
    async with session_factory() as db:
        [request] = (await db.execute(select(RefreshRequest))).scalars().all()
    assert (request.user_id, request.scopes & scopes) == (account_id, scopes)


async def test_a_rolled_back_change_asks_for_nothing(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with session_factory() as db, db.begin():
        account = await create_account(db, name="Acme Ltd", base_currency="USD")
    async with session_factory() as db, db.begin():
        await db.execute(RefreshRequest.__table__.delete())
    async with session_factory() as db:
        await db.begin()
        await _balance(db, await db.get(Account, account.id))  # type: ignore[arg-type]
        await db.rollback()
    async with session_factory() as db:
        assert (await db.execute(select(RefreshRequest))).scalars().all() == []


async def test_a_request_that_came_in_while_the_run_ran_stays_for_the_next_drain(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with session_factory() as db, db.begin():
        account = await create_account(db, name="Acme Ltd", base_currency="USD")
        await _balance(db, account)
    async with session_factory() as db:
        seen = await refresh.current(db, account_id=account.id)
        assert seen is not None
        generation = seen.generation
    async with session_factory() as db, db.begin():  # another change commits while a run works on ``generation``
        await refresh.request_refresh(db, account_id=account.id, scopes=CASH, reason="test", now=NOW)
    async with session_factory() as db, db.begin():
        assert not await refresh.done(db, account_id=account.id, generation=generation)
    async with session_factory() as db, db.begin():
        current = await refresh.current(db, account_id=account.id)
        assert current is not None and current.generation == generation + 1
        assert await refresh.done(db, account_id=account.id, generation=current.generation)


@pytest.mark.backends("pg")
async def test_replicas_take_turns_on_an_account(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with session_factory() as db, db.begin():
        account = await create_account(db, name="Acme Ltd", base_currency="USD")
    async with session_factory() as first, first.begin():
        assert await refresh.take_turn(first, account_id=account.id)
        async with session_factory() as second, second.begin():
            assert not await refresh.take_turn(second, account_id=account.id)  # the first one is on it
    async with session_factory() as third, third.begin():
        assert await refresh.take_turn(third, account_id=account.id)  # its transaction ended: free again

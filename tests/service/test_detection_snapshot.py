"""The detection snapshot: what it holds, and that it is loaded in the same number of queries for a
two-line business and a business with hundreds of schedules."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tamio.detection.snapshot import load_snapshot, load_snapshots
from tamio.errors import NotFound
from tamio.obligations.models import ObligationSchedule
from tamio.obligations.payments import record_payment
from tamio.obligations.standing import client_standings
from tests.service.books import SCHEDULE_PATH, Books, at

MONDAY = date(2026, 12, 7)


async def small_business(session: AsyncSession) -> Books:
    books = await Books.open(session, today=MONDAY, name="Corner Shop")
    await books.cash("Operating", "5000")
    await books.client("Acme Corp", "800", books.every("monthly", date(2026, 12, 15), day=15))
    await books.expense("Landlord", "600", books.every("monthly", date(2026, 12, 1), day=1))
    await session.commit()
    return books


async def large_business(session: AsyncSession) -> Books:
    books = await Books.open(session, today=MONDAY, name="Big Agency")
    await books.cash("Operating", "250000")
    await books.cash("Savings", "40000", account_type="savings")
    for n in range(40):
        client = await books.client(f"Client {n:02}", "1500", books.every("weekly", MONDAY), relationship_type="strategic" if n % 5 == 0 else "transactional")
        await books.client(f"Client {n:02} project", "900", books.every("once", MONDAY - timedelta(days=10 + n)))
        assert client.id
    for n in range(20):
        await books.expense(f"Vendor {n:02}", "700", books.every("weekly", MONDAY + timedelta(days=n % 7)), payment_terms="net_30", payment_terms_days=30)
    await books.expense("Payroll", "42000", books.every("semimonthly", date(2026, 12, 15)), category="payroll")
    await books.expense("HMRC VAT", "9000", books.every("quarterly", date(2027, 1, 7)), category="tax")
    projects = (await session.execute(select(ObligationSchedule).where(ObligationSchedule.estimated_amount == Decimal("900")))).scalars().all()
    for schedule in projects[:15]:
        await record_payment(session, account=books.account, amount=Decimal("950"), currency="USD", payment_date=MONDAY - timedelta(days=2),
                             schedule=schedule, adjust_balance=False, now=at(MONDAY - timedelta(days=2)))
    await session.commit()
    return books


async def count_statements(engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession], account_id: str) -> tuple[int, Any]:
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        async with session_factory() as session:
            snapshot = await load_snapshot(session, account_id, today=MONDAY, settings=SCHEDULE_PATH)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    return len(statements), snapshot


async def test_the_snapshot_takes_the_same_number_of_queries_whatever_the_size(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with session_factory() as session:
        small = await small_business(session)
        large = await large_business(session)
    for business in (small, large):  # the first forecast of an account makes sure its schedules are there, once
        async with session_factory() as session, session.begin():
            await load_snapshot(session, business.account.id, today=MONDAY, settings=SCHEDULE_PATH)
    small_count, small_snapshot = await count_statements(engine, session_factory, small.account.id)
    large_count, large_snapshot = await count_statements(engine, session_factory, large.account.id)
    assert len(large_snapshot.schedules) > 10 * len(small_snapshot.schedules) and len(large_snapshot.clients) == 80
    assert small_count == large_count and small_count <= 16


async def test_the_snapshot_holds_the_books_as_records(session: AsyncSession) -> None:
    books = await Books.open(session, today=MONDAY)
    await books.cash("Operating", "20000")
    await books.cash("Credit line", "0", account_type="credit_line", credit_limit=Decimal("10000"))
    acme = await books.client("Acme Corp", "8000", books.every("once", date(2026, 7, 1)), avg_payment_delay_days=4, relationship_type="strategic")
    await books.client("Old Paid Ltd", "500", books.every("once", date(2026, 7, 2)))
    await books.client("Old Unpaid Ltd", "700", books.every("once", date(2026, 7, 3)))
    host = await books.expense("Cloud Host", "2500", books.every("once", MONDAY + timedelta(days=3)), payment_terms="net_15", payment_terms_days=15,
                               flexibility_level="can_delay")
    await books.expense("Far Future", "100", books.every("once", MONDAY + timedelta(days=200)))
    schedules = {s.estimated_amount: s for s in (await session.execute(select(ObligationSchedule))).scalars()}
    await record_payment(session, account=books.account, amount=Decimal("500"), currency="USD", payment_date=date(2026, 7, 2),
                         schedule=schedules[Decimal("500")], adjust_balance=False, now=at(date(2026, 7, 2)))
    await record_payment(session, account=books.account, amount=Decimal("8200"), currency="USD", payment_date=MONDAY - timedelta(days=3),
                         schedule=schedules[Decimal("8000")], adjust_balance=False, now=at(MONDAY - timedelta(days=3)))
    await session.commit()

    snapshot = await load_snapshot(session, books.account.id, today=MONDAY, settings=SCHEDULE_PATH)
    assert (snapshot.account_id, snapshot.base_currency, snapshot.today) == (books.account.id, "USD", MONDAY)
    assert {c.account_type for c in snapshot.cash_accounts} == {"bank", "credit_line"}
    # Acme paid on 4 Dec for 1 Jul: its usual delay is learned again by record_payment, from that one
    # payment 156 days late (shrunk toward the due date, with nothing else to go on).
    assert snapshot.clients[acme.id].relationship_type == "strategic" and 100 <= snapshot.clients[acme.id].avg_payment_delay_days <= 156
    assert snapshot.vendors[host.id].payment_terms_days == 15 and snapshot.vendors[host.id].flexibility_level == "can_delay"
    due = {s.amount: s for s in snapshot.schedules}
    # July is more than 120 days back: the paid one is history, the unpaid one is still owed; day 200 is past the forecast.
    assert Decimal("500") not in due and Decimal("700") in due and Decimal("100") not in due
    assert due[Decimal("2500")].vendor_id == host.id and due[Decimal("2500")].obligation_type == "expense"
    assert due[Decimal("700")].is_open and due[Decimal("700")].direction == "inflow"
    [payment] = snapshot.payments  # the July payment is outside the 120 days
    assert (payment.amount, payment.variance_vs_expected, payment.expected_amount, payment.schedule_status) == (
        Decimal("8200"), Decimal("200"), Decimal("8000"), "paid",
    )
    assert payment.client_id == acme.id and snapshot.agreements[payment.agreement_id or ""].client_id == acme.id
    assert len(snapshot.forecast.weeks) == 13 and snapshot.forecast.opening_balance == Decimal("20000")


async def test_an_unknown_account_is_not_found(session: AsyncSession) -> None:
    with pytest.raises(NotFound):
        await load_snapshot(session, "acct_nobody", today=MONDAY, settings=SCHEDULE_PATH)


async def test_a_batch_reads_for_each_account_what_it_reads_alone_on_its_own_day(session: AsyncSession) -> None:
    """The hourly pass loads many accounts at once, in a few time zones: each account's snapshot and
    client standings are the ones it has alone, whether the batch shares one day or not (the shared
    day's statements are built once and reused; a batch over several days gets one term per day)."""
    large, small = await large_business(session), await small_business(session)
    ids = (large.account.id, small.account.id)
    for days in ((MONDAY, MONDAY), (MONDAY, MONDAY + timedelta(days=1)), (MONDAY + timedelta(days=40), MONDAY - timedelta(days=3))):
        today = dict(zip(ids, days, strict=True))
        together = await load_snapshots(session, today, settings=SCHEDULE_PATH)
        standing = await client_standings(session, today=today)
        for account_id, day in today.items():
            alone = await load_snapshot(session, account_id, today=day, settings=SCHEDULE_PATH)
            mine = together[account_id]
            assert (mine.schedules, mine.payments, mine.cash_accounts) == (alone.schedules, alone.payments, alone.cash_accounts)
            assert (dict(mine.clients), dict(mine.vendors), dict(mine.agreements)) == (dict(alone.clients), dict(alone.vendors), dict(alone.agreements))
            assert mine.forecast.weeks == alone.forecast.weeks and mine.loaded == alone.loaded
            assert standing[account_id] == (await client_standings(session, today={account_id: day}))[account_id]
    assert any(s.schedules for s in together.values()) and any(standing.values())

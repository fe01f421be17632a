"""The set-based import of obligations: the books row by row would leave, in batches of statements.

Issue 20: importing took ~22 ms a row and grew with the file (10,000 rows did not finish in 300 s)
because every row ran a dozen statements and every name lookup read all counterparties. Now the
import writes in batches; these check that it leaves exactly the books the row-by-row service
functions leave (counterparties, agreements, schedules, cash events, audit rows that verify), that
the statements it runs do not grow with the rows, and that it stays all-or-nothing and idempotent.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tamio.audit.models import AuditLog
from tamio.config import Settings
from tamio.errors import MissingExchangeRate, TamioError
from tamio.forecast.service import load_forecast_inputs
from tamio.obligations.csv_format import CsvImportError, ObligationsReader, parse_obligations_csv
from tamio.obligations.importer import ANALYZE_AFTER, import_obligations
from tamio.obligations.models import ObligationAgreement, ObligationSchedule
from tamio.obligations.service import horizon_end
from tests.service.books import SCHEDULE_PATH, Books, at
from tests.service.import_reference import import_row_by_row, snapshot

TODAY = date(2026, 12, 1)
NOW = at(TODAY)
HEADER = "counterparty,kind,amount,currency,frequency,start_date,end_date,day,business_day,calendar,flexibility,email,contact_name"
FIRST = HEADER + """
Acme Corp,client,5000,USD,monthly,2026-12-31,,31,,,,ap@acme.example,Jane Doe
Acme Corp,revenue,750,EUR,quarterly,2027-01-15,,15,,,,,
Late Payer Co,client,5000,USD,once,2026-11-20,,,,,,,
Cloud Host,vendor,1200,USD,monthly,2026-12-15,2027-06-15,15,following,US,can_delay,ops@cloud.example,
Landlord LLC,expense,"4,500.00",USD,monthly,2026-12-31,,last,preceding,US,cannot_delay,,
Staff,payroll,42000,USD,semimonthly,2026-12-15,,,preceding,US,,,
IRS,tax,6100,USD,quarterly,2027-01-31,,-1,,,,,
cloud host,supplier,90,EUR,weekly,2026-12-04,,,,,,,Bob
Big Client,customer,900,USD,"FREQ=WEEKLY;BYDAY=FR",2026-12-04,2027-02-26,,,,,,
Existing Vendor,vendor,300,USD,monthly,2026-12-10,,,,,negotiable,billing@existing.example,
existing client,client,100,USD,weekly,2026-12-07,,,,,,,Ann
"""
# The same obligations again with what belongs to the counterparties changed, and one new row.
SECOND = FIRST.replace("cannot_delay", "negotiable").replace(",,Ann", ",ann@existing.example,Ann") + (
    "Newcomer,bill,55,USD,monthly,2026-12-20,,,,,,,\n"
)
SETTINGS = {
    "schedules": SCHEDULE_PATH,
    "schedule events": Settings(use_obligation_for_forecast=True, deprecate_direct_cash_events=True, database_url="sqlite+aiosqlite:///:memory:"),
    "no agreements": Settings(use_obligation_system=False, database_url="sqlite+aiosqlite:///:memory:"),
}


async def business(session: AsyncSession, settings: Settings) -> Books:
    """An account with a client and a vendor already there, and a EUR rate."""
    books = await Books.open(session, today=TODAY, name="Acme Ltd", settings=settings)
    await books.rate("EUR", "USD", "1.0825", on=date(2026, 11, 27))
    await books.expense("Existing Vendor", "80", books.every("monthly", date(2026, 12, 5), day=5))
    await books.client("Existing Client", "2000", books.every("monthly", date(2026, 12, 20), day=20))
    return books


async def bulk(books: Books, text: str, *, batch_rows: int = 3, dry_run: bool = False) -> Any:
    rows = ObligationsReader(text.splitlines(keepends=True), currency="USD")
    return await import_obligations(books.session, account=books.account, settings=books.settings, rows=rows, today=TODAY, now=NOW,
                                    batch_rows=batch_rows, dry_run=dry_run)


async def by_rows(books: Books, text: str) -> None:
    await import_row_by_row(books.session, account=books.account, settings=books.settings, rows=parse_obligations_csv(text, currency="USD"),
                            today=TODAY, now=NOW)


@pytest.mark.parametrize("settings", list(SETTINGS.values()), ids=list(SETTINGS))
async def test_the_set_based_import_leaves_the_books_row_by_row_leaves(session: AsyncSession, settings: Settings) -> None:
    reference = await business(session, settings)
    batched = await business(session, settings)
    await by_rows(reference, FIRST)
    result = await bulk(batched, FIRST)  # three rows a batch: a counterparty made in one batch gets lines in the next
    assert (result.created, result.skipped, result.new_counterparties) == (11, 0, 7)
    assert await snapshot(session, batched.account.id) == await snapshot(session, reference.account.id)

    await by_rows(reference, SECOND)
    again = await bulk(batched, SECOND)
    assert (again.created, again.skipped, again.new_counterparties, again.flexibility_set, again.contacts_set) == (1, 11, 1, 1, 1)
    books = await snapshot(session, batched.account.id)
    assert books == await snapshot(session, reference.account.id)
    assert len(books["counterparties"]) == 10 and books["counterparties"]["expense:Landlord LLC"]["flexibility_level"] == "negotiable"
    await session.commit()


async def test_importing_the_same_file_twice_changes_nothing_the_second_time(session: AsyncSession) -> None:
    books = await business(session, SCHEDULE_PATH)
    await bulk(books, FIRST)
    once = await snapshot(session, books.account.id)
    result = await bulk(books, FIRST)
    assert (result.created, result.skipped, result.new_counterparties, result.flexibility_set, result.contacts_set) == (0, 11, 0, 0, 0)
    assert await snapshot(session, books.account.id) == once


@contextmanager
def statements(session: AsyncSession) -> Iterator[list[str]]:
    """The SQL statements the session's connection runs (an executemany counts once)."""
    ran: list[str] = []
    engine = session.get_bind()

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        ran.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield ran
    finally:
        event.remove(engine, "before_cursor_execute", count)


def many_rows(count: int) -> str:
    kinds = ("client", "vendor", "payroll", "tax")
    return HEADER + "\n" + "".join(
        f"Party {i % 50},{kinds[i % 50 % 4]},{100 + i},USD,monthly,2026-12-{1 + i % 28:02d},,,,,,,\n" for i in range(count)
    )


@pytest.mark.slow
async def test_the_statements_an_import_runs_do_not_grow_with_its_rows(session: AsyncSession) -> None:
    small = await business(session, SCHEDULE_PATH)
    large = await business(session, SCHEDULE_PATH)
    with statements(session) as for_small:
        assert (await bulk(small, many_rows(60), batch_rows=2000)).created == 60
    with statements(session) as for_large:
        assert (await bulk(large, many_rows(600), batch_rows=2000)).created == 600
    # One more statement per 500 rows of a table, not one per row: row by row, 600 rows ran thousands.
    assert len(for_small) < 40 and len(for_large) - len(for_small) < 15, for_large
    with statements(session) as again:
        assert (await bulk(large, many_rows(600), batch_rows=2000)).skipped == 600
    assert len(again) < 10
    assert (await snapshot(session, large.account.id))["audit"][-1][0] == 1 + 2 * 2 + 50 + 600  # chained, none lost


async def test_a_large_import_leaves_postgresql_statistics_of_what_it_wrote(session: AsyncSession) -> None:
    """Until autovacuum came round, PostgreSQL planned the refresh after a 10,000-row import on the tables'
    empty statistics: the schedules read by a nested loop took 17.6 s instead of 0.2 s."""
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("statistics the planner reads: PostgreSQL's")
    books = await business(session, SCHEDULE_PATH)
    assert (await bulk(books, many_rows(ANALYZE_AFTER), batch_rows=2000)).created == ANALYZE_AFTER
    sizes = dict((await session.execute(text(
        "SELECT relname, reltuples FROM pg_class WHERE relname IN ('obligation_schedules', 'obligation_agreements')"))).all())
    assert sizes["obligation_agreements"] >= ANALYZE_AFTER and sizes["obligation_schedules"] >= ANALYZE_AFTER, sizes


async def counts(session: AsyncSession, account_id: str) -> tuple[int, int, int]:
    return tuple([  # type: ignore[return-value]
        (await session.execute(select(func.count()).select_from(model).where(model.user_id == account_id))).scalar_one()
        for model in (ObligationAgreement, ObligationSchedule, AuditLog)
    ])


async def test_a_problem_in_a_later_batch_names_its_line_and_the_transaction_keeps_nothing(session_factory: Any) -> None:
    async with session_factory() as session:
        books = await business(session, SCHEDULE_PATH)
        await session.commit()
        before = await counts(session, books.account.id)
    text = FIRST + "Zurich AG,vendor,700,CHF,monthly,2026-12-10,,,,,,,\n"
    async with session_factory() as session:
        books.session = session
        with pytest.raises(MissingExchangeRate) as caught:
            async with session.begin():
                await bulk(books, text, batch_rows=4)  # the first batches are written before line 13 is reached
        assert caught.value.message.startswith("line 13, column currency: I have no exchange rate from CHF to USD")
        assert caught.value.currencies == ("CHF", "USD")
        assert await counts(session, books.account.id) == before
        await session.rollback()

        # A file's own problems come first, even below a row the import refuses: as when it was read whole.
        with pytest.raises(CsvImportError) as problems:
            async with session.begin():
                await bulk(books, text + 'Broken,client,"12,00.5",USD,monthly,2026-12-01,,,,,,,\n', batch_rows=4)
        assert [str(p) for p in problems.value.errors] == [
            "line 14, column amount: I couldn't read '12,00.5' as an amount; write it like 1200 or 1,200.50"
        ]
        assert await counts(session, books.account.id) == before


async def test_a_field_an_integration_owns_is_refused_by_line_and_column(session: AsyncSession) -> None:
    books = await business(session, SCHEDULE_PATH)
    await bulk(books, FIRST)
    vendor = (await session.execute(select(ObligationAgreement).where(
        ObligationAgreement.user_id == books.account.id, ObligationAgreement.description == "Cloud Host"))).scalars().first()
    assert vendor is not None and vendor.expense_bucket_id is not None
    from tamio.data.models import ExpenseBucket

    bucket = await session.get(ExpenseBucket, vendor.expense_bucket_id)
    assert bucket is not None
    bucket.locked_fields, bucket.source = ["contact_email", "flexibility_level"], "xero"
    await session.flush()
    with pytest.raises(TamioError) as caught:
        await bulk(books, FIRST.replace("ops@cloud.example", "help@cloud.example"))
    assert str(caught.value) == "line 5, column email: `contact_email` of Cloud Host comes from Xero, which owns it; change it there and sync."
    with pytest.raises(TamioError) as caught:
        await bulk(books, FIRST.replace("can_delay", "negotiable"))
    assert str(caught.value) == "line 5: `flexibility_level` of Cloud Host comes from Xero, which owns it; change it there and sync."


async def test_a_dry_run_writes_nothing_and_says_what_would_change_line_by_line(session: AsyncSession) -> None:
    books = await business(session, SCHEDULE_PATH)
    before = await counts(session, books.account.id)
    plan = await bulk(books, SECOND, batch_rows=2, dry_run=True)
    assert await counts(session, books.account.id) == before
    assert (plan.created, plan.skipped, plan.new_counterparties, plan.flexibility_set, plan.contacts_set) == (12, 0, 8, 1, 3)
    parties = {c.name: (c.subject, c.action, c.lines, c.detail) for c in plan.changes if c.subject != "obligation"}
    assert parties["Acme Corp"] == ("client", "create", (2, 3), "")
    assert parties["Cloud Host"] == ("expense", "create", (5, 9), "")
    assert parties["Existing Vendor"] == ("expense", "update", (11,), "flexibility negotiable; email billing@existing.example")
    assert parties["Existing Client"] == ("client", "update", (12,), "email ann@existing.example; contact name Ann")
    obligations = [c for c in plan.changes if c.subject == "obligation"]
    assert [c.lines[0] for c in obligations] == list(range(2, 14)) and {c.action for c in obligations} == {"create"}
    assert obligations[0].detail == "revenue $5,000.00 monthly on the last day from 2026-12-31"
    assert obligations[2].detail == "revenue $5,000.00 once on 20 Nov 2026"

    await bulk(books, FIRST)
    plan = await bulk(books, SECOND, dry_run=True)
    parties = {c.name: (c.action, c.detail) for c in plan.changes if c.subject != "obligation"}
    assert parties["Landlord LLC"] == ("update", "flexibility negotiable") and parties["IRS"] == ("unchanged", "")
    assert parties["Newcomer"] == ("create", "")
    assert [(c.lines[0], c.action) for c in plan.changes if c.subject == "obligation"][-3:] == [(11, "unchanged"), (12, "unchanged"), (13, "create")]


def test_a_row_keeps_its_key_whatever_word_names_its_kind() -> None:
    rows = parse_obligations_csv(FIRST, currency="USD")
    acme = rows[0]
    assert replace(acme, kind="revenue").import_key == acme.import_key == parse_obligations_csv(
        FIRST.replace("Acme Corp,client", "Acme Corp,revenue"), currency="USD")[0].import_key


async def test_a_new_accounts_first_import_has_its_forecast_read_the_schedules_with_the_figures_its_lines_give(
    session: AsyncSession,
) -> None:
    """An account that never had obligations is marked, once its first import is written, as having its
    schedules through the horizon: the forecast reads them (one summed query) instead of working out
    every billing line until the 6 AM job (a 100,000-row import's refresh spent 7 of its 58 CPU seconds
    there). Both give the same figures. An account that had obligations before keeps its mark as it was."""
    books = await Books.open(session, today=TODAY, name="New Ltd", settings=SCHEDULE_PATH)
    await books.rate("EUR", "USD", "1.0825", on=date(2026, 11, 27))
    books.account.schedules_through = None  # as `tamio account create` leaves it: never backfilled
    await bulk(books, FIRST)
    assert books.account.schedules_through == horizon_end(TODAY, SCHEDULE_PATH.schedule_horizon_months)
    schedules = await load_forecast_inputs(session, books.account.id, as_of=TODAY, settings=SCHEDULE_PATH)
    books.account.schedules_through = None
    lines = await load_forecast_inputs(session, books.account.id, as_of=TODAY, settings=SCHEDULE_PATH)
    assert schedules.totals == lines.totals and schedules.totals
    assert schedules.forecast(as_of=TODAY, weeks=13).weeks == lines.forecast(as_of=TODAY, weeks=13).weeks

    existing = await business(session, SCHEDULE_PATH)
    existing.account.schedules_through = None
    await bulk(existing, FIRST)
    assert existing.account.schedules_through is None

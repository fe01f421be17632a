"""``tamio.bulk.copy_rows``: the rows a bulk import sends by COPY on PostgreSQL are stored exactly as an
INSERT stores them, in the same transaction.

Issue 20 (speed at size): on PostgreSQL a 100,000-row import wrote its schedules, cash events and audit
rows by executemany INSERT, one statement execution a row on the server. COPY takes them in about two
thirds of the server's time, but its values bypass SQLAlchemy's statement: each is converted here by
its column's own bind processor. These compare what each way stores, column by column as the database
holds it (Money as integer thousandths, dates, naive UTC timestamps, JSON, NULLs, a left-out column's
default), check that a failed COPY is SQLAlchemy's error and leaves nothing, and that a whole import
large enough to go by COPY leaves the books the row-by-row services leave.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.audit.models import AuditLog
from tamio.bulk import COPY_FROM, copy_rows, insert_rows
from tamio.data.models import Client
from tamio.db import Base, core_table, new_id
from tamio.events.models import CashEvent
from tamio.obligations.csv_format import ObligationsReader, parse_obligations_csv
from tamio.obligations.importer import import_obligations
from tamio.obligations.models import Direction
from tests.service.books import Books
from tests.service.import_reference import import_row_by_row, snapshot
from tests.service.test_import_bulk import HEADER, NOW, SETTINGS, TODAY, business

ROWS = COPY_FROM + 7  # enough to go by COPY on PostgreSQL
WRITTEN = {CashEvent: "event_key LIKE 'copy-test:%'", AuditLog: "seq >= 1000", Client: "name LIKE 'Client %'"}  # not the books' own


@contextmanager
def inserts(session: AsyncSession) -> Iterator[list[str]]:
    """The INSERT statements the session's connection runs (COPY is not one)."""
    ran: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT"):
            ran.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield ran
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def events(account_id: str, client_id: str) -> list[dict[str, Any]]:
    """Cash events with every kind of value: cents and thousandths, negative and large amounts, NULLs,
    a client or none, both directions, text with quotes and accents; equal values written alike. ``id``, ``category`` and
    ``confidence`` are left out: their Python-side defaults fill them (a callable and two constants)."""
    amounts = [Decimal("0.001"), Decimal("-12.5"), Decimal("1234567890.123"), Decimal("100"), Decimal("0"), Decimal("100.00")]
    return [{
        "user_id": account_id, "schedule_id": None, "client_id": client_id if i % 3 == 0 else None, "expense_bucket_id": None,
        "event_key": f"copy-test:{i:03d}", "date": date(2026, 12, 1) + timedelta(days=i), "amount": amounts[i % len(amounts)],
        "currency": "EUR" if i % 4 == 0 else "USD", "base_currency_amount": None if i % 5 == 0 else amounts[(i + 1) % len(amounts)],
        "exchange_rate_used": None if i % 5 == 0 else Decimal("1.0825" if i % 3 else "1.08250"),  # a rate keeps its digits "exchange_rate_date": None if i % 2 else date(2026, 11, 27),
        "direction": Direction.INFLOW if i % 2 else Direction.OUTFLOW, "source": "legacy",
        "description": f"Café \"Ünïcode\" 'quoted' \\ {i}", "created_at": datetime(2026, 12, 1, 9, 30, i % 60, 123456, tzinfo=UTC),
    } for i in range(ROWS)]


def audit_rows(account_id: str) -> list[dict[str, Any]]:
    """Audit rows with JSON changes: nested, unicode, numbers as text, lists, NULLs."""
    return [{
        "id": new_id("aud"), "user_id": account_id, "seq": 1000 + i, "actor": "import", "action": "create",
        "entity_type": "client", "entity_id": f"cli_{i}", "integration": None if i % 2 else "xero", "direction": None,
        "changes": {"name": f"Zoë {i}", "amount": "12.345", "lines": [{"n": i, "ok": True, "none": None}], "empty": {}},
        "prev_hash": f"{i:064x}", "row_hash": f"{i + 1:064x}", "created_at": datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
    } for i in range(ROWS)]


def clients(account_id: str) -> list[dict[str, Any]]:
    """Clients with JSON configs and lists, Money amounts, rates stored as exact text, dates."""
    return [{
        "id": new_id("cli"), "user_id": account_id, "name": f"Client {i:03d}", "source": "csv",
        "billing_config": {"lines": [{"amount": f"{i}.50", "recurrence": {"rrule": "FREQ=MONTHLY;BYMONTHDAY=-1"}}]} if i % 2 else {},
        "contact_email": None if i % 3 else f"ap{i}@example.com", "contact_name": None, "locked_fields": ["name"] if i % 4 == 0 else [],
        "tags": [], "currency": "EUR", "amount": Decimal(i) + Decimal("0.125") if i % 5 else None, "base_currency_amount": Decimal("99.999"),
        "exchange_rate_used": Decimal("1.08250000"), "exchange_rate_date": date(2026, 11, 27),
        "created_at": datetime(2026, 12, 1, 9, 0, tzinfo=UTC), "updated_at": datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
    } for i in range(ROWS)]


async def stored(session: AsyncSession, model: type[Base], account_id: str, order: str, same: dict[str, str]) -> list[tuple[Any, ...]]:
    """The rows the test wrote in the account as the database holds them: every column but the ids,
    as text (``same``: an id of one account and its counterpart in the other, named alike)."""
    columns = [c.name for c in core_table(model).columns if c.name not in ("id", "user_id")]
    listed = ", ".join(f"CAST({name} AS TEXT)" for name in columns)
    result = await session.execute(text(f"SELECT {listed} FROM {model.__tablename__} WHERE user_id = :account AND {WRITTEN[model]} "
                                        f"ORDER BY {order}"),
                                   {"account": account_id})
    return [tuple(same.get(value, value) for value in row) for row in result]


async def test_rows_copied_are_stored_as_rows_inserted(session: AsyncSession) -> None:
    inserted = await Books.open(session, today=TODAY, name="Inserted Ltd")
    copied = await Books.open(session, today=TODAY, name="Copied Ltd")
    client_of = {}
    for books in (inserted, copied):
        client_of[books.account.id] = (await books.client("Acme", "10", books.every("once", TODAY))).id
    same = {client_of[inserted.account.id]: "Acme", client_of[copied.account.id]: "Acme"}
    await session.flush()

    for model, rows_of, order in ((CashEvent, lambda a: events(a, client_of[a]), "event_key"), (AuditLog, audit_rows, "seq"),
                                  (Client, clients, "name")):
        await insert_rows(session, model, rows_of(inserted.account.id))
        with inserts(session) as ran:
            await copy_rows(session, model, rows_of(copied.account.id))
        if session.get_bind().dialect.name == "postgresql":
            assert ran == [], f"{model.__tablename__}: INSERT instead of COPY"
        written = await stored(session, model, copied.account.id, order, same)
        assert len(written) >= ROWS
        assert written == await stored(session, model, inserted.account.id, order, same), model.__tablename__
    await session.commit()


async def test_a_failed_copy_is_sqlalchemys_error_and_its_transaction_keeps_nothing(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        books = await Books.open(session, today=TODAY, name="Acme Ltd")
        client = await books.client("Acme", "10", books.every("once", TODAY))
        await session.commit()
        account_id = books.account.id
        rows = events(account_id, client.id)
    async with session_factory() as session:
        await copy_rows(session, CashEvent, rows[:ROWS // 2])
        with pytest.raises(IntegrityError):  # the same event key twice in an account
            await copy_rows(session, CashEvent, rows[ROWS // 2 :] + rows[:1])
        await session.rollback()
    async with session_factory() as session:
        kept = await session.execute(text("SELECT count(*) FROM cash_events WHERE event_key LIKE 'copy-test:%'"))
        assert kept.scalar_one() == 0


async def test_a_value_its_column_refuses_is_sqlalchemys_statement_error(session: AsyncSession) -> None:
    books = await Books.open(session, today=TODAY, name="Acme Ltd")
    client = await books.client("Acme", "10", books.every("once", TODAY))
    rows = events(books.account.id, client.id)
    rows[-1] = {**rows[-1], "amount": Decimal("0.0001")}  # a fourth decimal place: Money refuses it
    with pytest.raises(StatementError, match="more than 3 decimal places"):
        await copy_rows(session, CashEvent, rows)
    await session.rollback()


def a_larger_file() -> str:
    """Rows enough that a batch's audit rows, agreements, schedules and events go by COPY: 60 clients, 60
    vendors, payroll and tax, counterparties named again on later lines, some EUR, emails and flexibility."""
    lines = []
    for i in range(130):
        kind = "client" if i % 2 == 0 else ("vendor", "payroll", "tax", "vendor", "expense")[i // 2 % 5]
        party = f"{'Client' if kind == 'client' else 'Supplier'} {i % 120:03d}"
        frequency = ("monthly", "weekly", "quarterly", "once")[i % 4]
        currency = "EUR" if i % 7 == 3 else "USD"
        email = f"ap{i % 120}@example.com" if kind == "client" and i % 3 == 0 else ""
        flexibility = ("can_delay", "negotiable", "")[i % 3] if kind == "vendor" else ""
        lines.append(f"{party},{kind},{100 + i}.{i % 100:02d},{currency},{frequency},2026-{11 + i % 2}-{1 + i % 28:02d},,,,,"
                     f"{flexibility},{email},\n")
    return HEADER + "\n" + "".join(lines)


@pytest.mark.slow
@pytest.mark.parametrize("settings", list(SETTINGS.values()), ids=list(SETTINGS))
async def test_an_import_by_copy_leaves_the_books_row_by_row_leaves(session: AsyncSession, settings: Any) -> None:
    reference = await business(session, settings)
    batched = await business(session, settings)
    content = a_larger_file()
    await import_row_by_row(session, account=reference.account, settings=settings, rows=parse_obligations_csv(content, currency="USD"),
                            today=TODAY, now=NOW)
    with inserts(session) as ran:
        # Two batches: the second is planned while the first is written, and names counterparties the first made.
        result = await import_obligations(session, account=batched.account, settings=settings, today=TODAY, now=NOW, batch_rows=65,
                                          rows=ObligationsReader(content.splitlines(keepends=True), currency="USD"))
    assert (result.created, result.skipped) == (130, 0)
    if session.get_bind().dialect.name == "postgresql":
        copied = ("audit_logs", "cash_events") + (("obligation_agreements", "obligation_schedules")
                                                                               if settings.use_obligation_system else ())
        assert not [s for s in ran if any(f"INSERT INTO {table} " in s for table in copied)], ran
    assert await snapshot(session, batched.account.id) == await snapshot(session, reference.account.id)
    await session.commit()

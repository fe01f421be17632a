"""For any business and any file, the set-based import leaves the books the row-by-row import leaves.

Hypothesis draws a file (clients and vendors under a few names, every kind word, amounts, currencies,
frequencies, start dates in the past and the future, vendors' flexibility, contacts' emails and
one-off rows' invoice numbers), a
business that may already have some of those counterparties, and a batch size; the file is imported
into two accounts, once row by row through the service functions and once set-based, then again
(which must change nothing more in either), and the two accounts' books must be the same.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tamio.models  # noqa: F401  (every table on Base.metadata)
from tamio.accounts.service import create_account
from tamio.currency.service import add_rate
from tamio.db import create_engine, make_session_factory
from tamio.obligations.csv_columns import kind_of
from tamio.obligations.csv_format import ObligationsReader, parse_obligations_csv
from tamio.obligations.importer import import_obligations
from tests.conftest import secret_for_tests
from tests.service.books import SCHEDULE_PATH, Books, at
from tests.service.import_reference import import_row_by_row, snapshot

TODAY = date(2026, 12, 1)
NAMES = ("Acme", "Beta LLC", "Cloud Host", "Delta")
KIND_WORDS = ("client", "revenue", "customer", "vendor", "expense", "supplier", "bill", "payroll", "tax")
FREQUENCIES = ("once", "weekly", "biweekly", "semimonthly", "monthly", "quarterly", "annually", '"FREQ=WEEKLY;BYDAY=MO,TH"')
HEADER = "counterparty,kind,amount,currency,frequency,start_date,flexibility,email,invoice"

rows = st.lists(st.tuples(
    st.sampled_from(NAMES), st.sampled_from(KIND_WORDS), st.integers(1, 99_999), st.sampled_from(["USD", "EUR", ""]),
    st.sampled_from(FREQUENCIES), st.integers(-45, 60), st.sampled_from(["", "INV-1", "INV-2"]),
), min_size=1, max_size=12)
# What belongs to each counterparty: one flexibility and one email per name, or none.
owned = st.tuples(st.lists(st.sampled_from(["", "can_delay", "negotiable", "cannot_delay"]), min_size=4, max_size=4),
                  st.lists(st.booleans(), min_size=4, max_size=4))


def csv_text(drawn: list[tuple[Any, ...]], flexibility: list[str], emails: list[bool]) -> str:
    lines, seen, numbered = [HEADER], set(), set()
    for name, kind, amount, currency, frequency, offset, number in drawn:
        client = kind_of(kind) == "revenue"
        # An invoice number goes on a one-off, once per client or vendor (a file that breaks that is refused).
        invoice = number if frequency == "once" and (client, name, number) not in numbered else ""
        numbered.add((client, name, invoice))
        key = (name, kind_of(kind), amount, currency or "USD", frequency, offset, invoice)
        if key in seen:
            continue  # the same obligation twice in one file is refused; the property is about good files
        seen.add(key)
        index = NAMES.index(name)
        flex = "" if client else flexibility[index]
        email = f"ap{index}@{'client' if client else 'vendor'}.example" if emails[index] else ""
        start = TODAY + timedelta(days=offset)
        lines.append(f"{name},{kind},{Decimal(amount) / 100},{currency},{frequency},{start.isoformat()},{flex},{email},{invoice}")
    return "\n".join(lines) + "\n"


async def _scenario(url: str, text: str, existing: list[str], batch_rows: int) -> None:
    engine = create_engine(url)
    try:
        sessions = make_session_factory(engine, secret_for_tests())
        async with sessions() as session, session.begin():
            accounts = []
            for _ in range(2):
                account = await create_account(session, name="Acme Ltd", base_currency="USD", now=at(TODAY))
                books = Books(session, account, TODAY)
                for name in existing:  # a vendor already there under a name the file may use
                    await books.expense(name, "80", books.every("monthly", date(2026, 12, 5), day=5))
                accounts.append(books)
            await add_rate(session, base_currency="EUR", quote_currency="USD", rate=Decimal("1.0825"), rate_date=TODAY, account_id=None)
            reference, batched = accounts
            for _ in range(2):  # the second time adds nothing, in both
                await import_row_by_row(session, account=reference.account, settings=SCHEDULE_PATH,
                                        rows=parse_obligations_csv(text, currency="USD"), today=TODAY, now=at(TODAY))
                await import_obligations(session, account=batched.account, settings=SCHEDULE_PATH, today=TODAY, now=at(TODAY),
                                         rows=ObligationsReader(text.splitlines(keepends=True), currency="USD"), batch_rows=batch_rows)
                assert await snapshot(session, batched.account.id) == await snapshot(session, reference.account.id), text
    finally:
        await engine.dispose()


@pytest.mark.slow
def test_the_set_based_import_matches_row_by_row_for_any_file(db_url: str) -> None:
    @settings(max_examples=25 if db_url.startswith("sqlite") else 8, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(rows, owned, st.lists(st.sampled_from(NAMES), unique=True, max_size=2), st.integers(1, 5))
    def check(drawn: list[tuple[Any, ...]], belongs: tuple[list[str], list[bool]], existing: list[str], batch_rows: int) -> None:
        asyncio.run(_scenario(db_url, csv_text(drawn, *belongs), existing, batch_rows))

    check()

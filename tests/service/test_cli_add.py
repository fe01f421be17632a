"""``tamio add``: the same words, rules and messages as ``/tamio add``, through the core's one function."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.service.test_cli_new_user import Tamio, books, one_clear_line, tamio  # noqa: F401  (fixtures)

pytestmark = pytest.mark.backends("sqlite")


def rows(tmp_path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(tmp_path / "new-user.db") as db:
        return db.execute(sql).fetchall()


def test_an_overdue_invoice_from_the_cli(books: Tamio, tmp_path: Path) -> None:  # noqa: F811
    code, out, err = books("add", 'client "Late Payer Co" invoice 5000 due 2026-11-20 ref INV-1042')
    assert code == 0, err
    assert out.strip() == "Added Late Payer Co (client): invoice INV-1042 for $5,000.00, due 2026-11-20 (already 10 days overdue)."
    assert rows(tmp_path, "select due_date, status, invoice_number from obligation_schedules") == [("2026-11-20", "overdue", "INV-1042")]
    forecast = json.loads(books("forecast", "--json", "--as-of", "2026-11-30")[1])
    assert forecast["weeks"][0]["inflows"] == "5000.00"
    # The shell's own words work too, and the second amount goes to the same client.
    code, out, err = books("add", "client", "Late Payer Co", "invoice", "250", "due", "2026-12-04", "--email", "ap@late.example")
    assert code == 0 and out.startswith("Added another amount to Late Payer Co (client): $250.00, due 2026-12-04."), err
    assert rows(tmp_path, "select contact_email from clients") == [("ap@late.example",)]


def test_arrears_of_an_agreement_started_in_the_past(books: Tamio, tmp_path: Path) -> None:  # noqa: F811
    code, out, err = books("add", 'expense "Rent" 1000 monthly on 1 from 2026-09-01')
    assert code == 0 and "3 payments since then are already overdue" in out, err
    assert [r[0] for r in rows(tmp_path, "select due_date from obligation_schedules where status = 'overdue' order by due_date")] == [
        "2026-09-01", "2026-10-01", "2026-11-01"]


def test_the_same_amount_twice_needs_allow_duplicate(books: Tamio, tmp_path: Path) -> None:  # noqa: F811
    """Issue 19: the core's duplicate check, the CLI's way on (``--allow-duplicate``)."""
    assert books("add", 'expense "Rent" 500 monthly')[0] == 0
    one_clear_line(books("add", 'expense "Rent" 500.00 monthly'), "Rent already has $500.00 monthly: add another?", "--allow-duplicate")
    assert rows(tmp_path, "select count(*) from obligation_agreements") == [(1,)]
    code, out, err = books("add", 'expense "Rent" 500 monthly', "--allow-duplicate")
    assert code == 0 and out.startswith("Added another amount to Rent (expense): $500.00"), err
    assert rows(tmp_path, "select count(*) from obligation_agreements") == [(2,)]


@pytest.mark.parametrize(("line", "needles"), [
    ('expense "Rent" 99999999999999999 monthly', ("99,999,999,999,999,999", "at most 1,000,000,000,000")),
    ('expense "' + "x" * 201 + '" 10 monthly', ("201 characters", "at most 200")),
    ('expense "Rent" 10 XYZ monthly', ("`XYZ` is not a currency I know",)),
    ('client "Acme" invoice 10 due 2026-11-20 ref INV-1 weekly', ("An invoice is paid once",)),
    ('expense "Rent" 10 monthly from 2020-01-01', ("more than 5 years ago",)),
])
def test_refusals_are_one_line_and_write_nothing(books: Tamio, tmp_path: Path, line: str, needles: tuple[str, ...]) -> None:  # noqa: F811
    one_clear_line(books("add", line), *needles)
    assert rows(tmp_path, "select count(*) from clients") == [(0,)] and rows(tmp_path, "select count(*) from expense_buckets") == [(0,)]


def test_one_date_reader(books: Tamio) -> None:  # noqa: F811
    """The words Slack, the CSV import and the API use for a date that is not on the calendar (issue 19 item 2)."""
    one_clear_line(books("add", 'expense "Rent" 10 monthly from 2027-02-31'), "2027-02-31 is not a date on the calendar; check the month and day.")
    one_clear_line(books("forecast", "--as-of", "2027-02-31"), "2027-02-31 is not a date on the calendar; check the month and day.", code=2)
    one_clear_line(books("paid", "Acme", "10", "--on", "2027-02-31"), "2027-02-31 is not a date on the calendar; check the month and day.", code=2)


def test_the_csv_import_holds_rows_to_the_same_rules(books: Tamio, tmp_path: Path) -> None:  # noqa: F811
    """Issue 19 item 1 (and 17 item 2): the CSV's rows go through the core's rules, with Slack's receivables as they are."""
    path = tmp_path / "books.csv"
    path.write_text("counterparty,kind,amount,currency,frequency,start_date\n"
                    "Late Payer Co,client,5000,USD,once,2026-11-20\n"
                    "Rent,vendor,1000,USD,monthly,2026-09-30\n")
    code, out, err = books("import", "obligations", str(path))
    assert code == 0, err
    overdue = rows(tmp_path, "select due_date from obligation_schedules where status = 'overdue' order by due_date")
    assert [r[0] for r in overdue] == ["2026-09-30", "2026-10-30", "2026-11-20"]  # the invoice, and the rent's arrears
    path.write_text("counterparty,kind,amount,currency,frequency,start_date\nOld Co,client,10,USD,monthly,2020-01-01\n")
    one_clear_line(books("import", "obligations", str(path)), "line 2, column start_date", "more than 5 years ago")
    path.write_text("counterparty,kind,amount,currency,frequency,start_date\nBad Date Co,client,10,USD,monthly,2027-02-31\n")
    one_clear_line(books("import", "obligations", str(path)), "2027-02-31 is not a date on the calendar; check the month and day")


def test_a_stale_rate_is_named_on_the_cash_figure_it_converted(books: Tamio, tmp_path: Path) -> None:  # noqa: F811
    """Issue 19 item 2: a rate more than 7 days old is named on the figure it changed, not only in a footnote."""
    assert books("rates", "add", "EUR", "USD", "1.08", "--date", "2026-11-02")[0] == 0
    code, out, err = books("balance", "set", "Savings", "1000", "EUR")
    assert code == 0 and "at the 2 Nov rate" in out, err
    code, out, err = books("forecast", "--as-of", "2026-11-30")
    assert code == 0 and out.strip().splitlines()[-1] == "Opening cash $1,080.00 converts Savings (EUR) at the 2 Nov rate.", out
    assert books("rates", "add", "EUR", "USD", "1.10", "--date", "2026-11-29")[0] == 0
    assert books("balance", "set", "Savings", "1000", "EUR")[0] == 0
    assert "converts" not in books("forecast", "--as-of", "2026-11-30")[1]

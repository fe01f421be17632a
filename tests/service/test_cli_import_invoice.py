"""An invoice in the obligations CSV, as in Slack, the CLI's `tamio add` and the API (issue 19 item 1).

The finding: `/tamio add client "Acme" invoice 5000 due 2026-11-20 ref INV-1042` took an invoice's
number, and `tamio paid "Acme" 5000 --for INV-1042` matched it, but the CSV import had no column for
it. The optional `invoice` column is held to the core's rules (``AddObligation``): one-off rows only,
at most 64 characters, a number the client already has (in the books or on a line above) refused
with its line; nothing is written when a row is refused, and importing the file again adds nothing.
These run the real entry point in-process on a fresh SQLite file.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.service.cli_runner import Tamio, fresh_cli

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # a Monday
CSV = """counterparty,kind,amount,currency,frequency,start_date,invoice
Acme,client,5000,USD,once,2026-11-20,INV-1
Acme,client,5000,USD,once,2026-11-20,INV-2
Cloud Host,vendor,1200,USD,monthly,2026-12-15,
"""
TABLES = ("clients", "expense_buckets", "obligation_agreements", "obligation_schedules", "audit_logs", "cash_events")


@pytest.fixture
def tamio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Tamio:
    run = fresh_cli(tmp_path, monkeypatch, capsys, now=NOW, database="invoice.db", account="Acme Ltd")
    return run


def counts(tmp_path: Path) -> dict[str, int]:
    with sqlite3.connect(tmp_path / "invoice.db") as db:
        return {table: int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]) for table in TABLES}


def schedules(tmp_path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(tmp_path / "invoice.db") as db:
        return sorted(db.execute("SELECT invoice_number, due_date, status FROM obligation_schedules WHERE direction = 'inflow'"))


def forecast(tamio: Tamio) -> dict[str, Any]:
    code, out, err = tamio("forecast", "--json")
    assert code == 0, err
    result: dict[str, Any] = json.loads(out)
    return result


def inflows(result: dict[str, Any]) -> Decimal:
    return sum((Decimal(w["inflows"]) for w in result["weeks"]), Decimal(0))


def test_an_overdue_invoice_imported_with_its_number_is_what_paid_for_matches(tamio: Tamio, tmp_path: Path) -> None:
    (tmp_path / "books.csv").write_text(CSV)
    code, out, err = tamio("import", "obligations", "books.csv")
    assert code == 0 and "Imported 3 obligations" in out, err
    assert schedules(tmp_path) == [("INV-1", "2026-11-20", "overdue"), ("INV-2", "2026-11-20", "overdue")]
    assert tamio("balance", "set", "Operating", "0", "USD")[0] == 0
    before = forecast(tamio)

    code, out, err = tamio("paid", "Acme", "5000", "--for", "INV-2")
    assert code == 0, err
    assert out.splitlines()[1:] == ["  $5,000.00 to INV-2, due Fri 20 Nov 2026 (now paid)"]  # the second, not the oldest
    assert schedules(tmp_path) == [("INV-1", "2026-11-20", "overdue"), ("INV-2", "2026-11-20", "paid")]
    assert "$5,000.00" in tamio("balance", "list")[1]
    after = forecast(tamio)
    # The cash came in and INV-2 is no longer expected; INV-1 still is.
    assert (before["opening_balance"], after["opening_balance"]) == ("0.00", "5000.00")
    assert inflows(before) - inflows(after) == Decimal(5000)
    assert after["weeks"][-1]["closing_balance"] == before["weeks"][-1]["closing_balance"]
    code, _, err = tamio("paid", "Acme", "10", "--for", "INV-2")
    assert code != 0 and "INV-2 of Acme is already paid" in err

    code, out, err = tamio("import", "obligations", "books.csv")  # again: nothing more, and INV-1 is not refused as known
    assert code == 0 and "0 obligations" in out and "3 already there" in out, err
    assert schedules(tmp_path) == [("INV-1", "2026-11-20", "overdue"), ("INV-2", "2026-11-20", "paid")]


def test_a_dry_run_names_the_invoice(tamio: Tamio, tmp_path: Path) -> None:
    (tmp_path / "books.csv").write_text(CSV)
    code, out, err = tamio("import", "obligations", "books.csv", "--dry-run")
    assert code == 0, err
    assert "  line 2: create  Acme: revenue $5,000.00 once on 20 Nov 2026, invoice INV-1" in out.splitlines()


@pytest.mark.parametrize(
    ("rows", "problem"),
    [
        ("Acme,client,5000,USD,monthly,2026-11-20,INV-1\n",
         "line 3, column invoice: An invoice number goes with a one-off amount, not a monthly one."),
        (f"Acme,client,5000,USD,once,2026-11-20,INV-{'9' * 61}\n",
         "line 3, column invoice: The invoice number has 65 characters; use at most 64."),
        ("Acme,client,5000,USD,once,2026-11-20,INV-1\nacme ,client,700,USD,once,2026-12-20,INV-1\n",
         "line 4, column invoice: Acme already has invoice INV-1 (line 3); nothing was added."),
    ],
)
def test_a_refused_invoice_names_its_line_and_column_and_nothing_is_written(
    tamio: Tamio, tmp_path: Path, rows: str, problem: str
) -> None:
    before = counts(tmp_path)
    (tmp_path / "bad.csv").write_text("counterparty,kind,amount,currency,frequency,start_date,invoice\n"
                                      "Cloud Host,vendor,1200,USD,monthly,2026-12-15,\n" + rows)
    code, out, err = tamio("import", "obligations", "bad.csv")
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1, err
    assert problem in err, err
    assert counts(tmp_path) == before


def test_a_number_the_client_already_has_is_refused_whichever_edge_added_it(tamio: Tamio, tmp_path: Path) -> None:
    code, _, err = tamio("add", 'client "Acme" invoice 800 due 2026-11-02 ref INV-7')
    assert code == 0, err
    (tmp_path / "books.csv").write_text(CSV)
    assert tamio("import", "obligations", "books.csv")[0] == 0
    before = counts(tmp_path)
    for number, due in (("INV-7", "2026-11-02"), ("INV-1", "2026-11-20")):
        (tmp_path / "more.csv").write_text("counterparty,kind,amount,frequency,start_date,invoice\n"
                                           "New Client,client,300,once,2026-12-01,INV-7\n"  # another client's INV-7 is its own
                                           f"ACME,client,900,once,2026-12-03,{number}\n")
        code, _, err = tamio("import", "obligations", "more.csv")
        assert code == 1 and f"line 3, column invoice: Acme already has invoice {number} (due {due}); nothing was added." in err, err
        assert counts(tmp_path) == before
    (tmp_path / "more.csv").write_text("counterparty,kind,amount,frequency,start_date,invoice\nACME,client,900,once,2026-12-03,INV-3\n")
    assert tamio("import", "obligations", "more.csv")[0] == 0
    code, out, err = tamio("paid", "Acme", "900", "--for", "inv-3")
    assert code == 0 and "INV-3" in out, err


def test_help_lists_the_invoice_column(tamio: Tamio) -> None:
    code, out, _ = tamio("import", "obligations", "--help")
    assert code == 0 and "  invoice " in out
    assert "INV-1042" in " ".join(out.split()) and "once rows only" in " ".join(out.split())

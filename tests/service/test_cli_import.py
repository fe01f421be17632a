"""`tamio import obligations` as a new business meets it (issue 19 item 4, issue 20 item 1).

The findings: `kind` was `revenue` in the file but `client` in Slack; all ten columns were required
even when empty; a file with a byte-order mark (a spreadsheet's "Unicode Text") was refused; `--help`
did not list the allowed values; there was no way to see what an import would change. These run the
real entry point in-process on a fresh SQLite file.
"""

from __future__ import annotations

import codecs
import os
import pty
import select
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tamio.cli import main
from tamio.cli.status import progress_bar, working
from tamio.obligations import csv_columns
from tamio.obligations.schemas import KIND_WORDS

Tamio = Callable[..., tuple[int, str, str]]
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
SLACK_WORDS = """counterparty,kind,amount,currency,frequency,start_date,end_date,day,business_day,calendar
Acme Corp,client,5000,USD,monthly,2026-12-31,,31,,
Cloud Host,vendor,1200,USD,monthly,2026-12-15,,15,following,US
Staff,payroll,42000,USD,semimonthly,2026-12-15,,,preceding,US
Late Payer Co,customer,800,USD,once,2026-11-20,,,,
"""
LEDGER_WORDS = SLACK_WORDS.replace(",client,", ",revenue,").replace(",vendor,", ",expense,").replace(",customer,", ",revenue,")


@pytest.fixture
def books(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Tamio:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TAMIO_DATABASE_URL", f"sqlite:///{tmp_path}/import.db")
    for name in ("USE_OBLIGATION_FOR_FORECAST", "TAMIO_BASE_CURRENCY", "TAMIO_TIMEZONE", "TAMIO_ECB_FEED_URL"):
        monkeypatch.delenv(name, raising=False)

    def run(*args: str) -> tuple[int, str, str]:
        try:
            code = main(list(args), now=NOW)
        except SystemExit as exc:  # argparse: --help and usage errors
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return code, out.out, out.err

    assert run("db", "upgrade")[0] == 0
    assert run("account", "create", "--name", "Acme Ltd", "--base-currency", "USD")[0] == 0
    return run


def table_rows(tmp_path: Path, table: str) -> int:
    with sqlite3.connect(tmp_path / "import.db") as db:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_help_lists_every_column_and_every_value_each_takes(books: Tamio) -> None:
    code, out, _ = books("import", "obligations", "--help")
    assert code == 0
    for column in csv_columns.COLUMNS:
        assert f"  {column.name} " in out and column.name in csv_columns.ALL_COLUMNS
    flat = " ".join(out.split())
    for value in [*KIND_WORDS, *(f.value for f in csv_columns.NAMED_FREQUENCIES), *csv_columns.BUSINESS_DAY_RULES,
                  *csv_columns.FLEXIBILITY_LEVELS, "FREQ=", "YYYY-MM-DD", "last", "--dry-run"]:
        assert value in flat, value
    assert all(f" {code} " in flat for code in ("US", "GB", "DE", "FR", "JP", "CH"))
    assert set(csv_columns.calendar_codes()) <= set(flat.split())
    assert "required" in flat and "optional" in flat


def test_the_kinds_are_the_words_slack_takes_and_name_the_same_obligations(books: Tamio, tmp_path: Path) -> None:
    (tmp_path / "slack.csv").write_text(SLACK_WORDS)
    (tmp_path / "ledger.csv").write_text(LEDGER_WORDS)
    code, out, err = books("import", "obligations", "slack.csv")
    assert code == 0 and "Imported 4 obligations" in out and "4 new counterparties" in out, err
    code, out, err = books("import", "obligations", "ledger.csv")
    assert code == 0 and "Imported 0 obligations" in out and "4 already there" in out, err
    with sqlite3.connect(tmp_path / "import.db") as db:
        assert sorted(db.execute("SELECT name FROM clients")) == [("Acme Corp",), ("Late Payer Co",)]
        assert sorted(db.execute("SELECT name, category FROM expense_buckets")) == [("Cloud Host", "operating"), ("Staff", "payroll")]


def test_only_the_columns_really_needed_must_be_there(books: Tamio, tmp_path: Path) -> None:
    (tmp_path / "short.csv").write_text("counterparty,kind,amount,frequency,start_date\nAcme Corp,client,5000,monthly,2026-12-31\n"
                                        "Cloud Host,vendor,1200,weekly,2026-12-04\n")
    code, out, err = books("import", "obligations", "short.csv")
    assert code == 0 and "Imported 2 obligations" in out, err
    with sqlite3.connect(tmp_path / "import.db") as db:
        assert sorted(db.execute("SELECT description, currency, business_day_convention FROM obligation_agreements")) == [
            ("Acme Corp", "USD", "none"), ("Cloud Host", "USD", "none")]  # the account's base currency
    (tmp_path / "shorter.csv").write_text("counterparty,kind,amount,start_date\nAcme Corp,client,5000,2026-12-31\n")
    code, _, err = books("import", "obligations", "shorter.csv")
    assert code == 1 and "missing: frequency" in err and "only counterparty, kind, amount, frequency, start_date are needed" in err


@pytest.mark.parametrize(
    ("name", "encoded"),
    [
        ("CSV UTF-8 (Excel, Numbers)", codecs.BOM_UTF8 + SLACK_WORDS.replace("\n", "\r\n").encode()),
        ("Unicode Text (Excel): UTF-16 with tabs", SLACK_WORDS.replace(",", "\t").replace("\n", "\r\n").encode("utf-16")),
        ("UTF-16 big-endian", codecs.BOM_UTF16_BE + SLACK_WORDS.encode("utf-16-be")),
        ("semicolons (a European Excel)", SLACK_WORDS.replace(",", ";").encode()),
    ],
)
def test_a_spreadsheets_export_with_a_byte_order_mark_is_read(books: Tamio, tmp_path: Path, name: str, encoded: bytes) -> None:
    (tmp_path / "export.csv").write_bytes(encoded)
    code, out, err = books("import", "obligations", "export.csv")
    assert code == 0 and "Imported 4 obligations" in out, (name, err)
    (tmp_path / "plain.csv").write_text(SLACK_WORDS)
    assert "4 already there" in books("import", "obligations", "plain.csv")[1]  # the same rows


def test_a_dry_run_shows_what_would_change_line_by_line_and_writes_nothing(books: Tamio, tmp_path: Path) -> None:
    (tmp_path / "o.csv").write_text(SLACK_WORDS)
    before = {table: table_rows(tmp_path, table) for table in ("clients", "obligation_agreements", "audit_logs", "cash_events")}
    code, out, err = books("import", "obligations", "o.csv", "--dry-run")
    assert code == 0 and err == "", err
    assert out.splitlines() == [
        "Dry run: nothing was written. Importing o.csv would change:",
        "Counterparties: 4 to create, 0 to update, 0 unchanged.",
        "  create  client Acme Corp (line 2)",
        "  create  expense Cloud Host (line 3)",
        "  create  expense Staff (line 4)",
        "  create  client Late Payer Co (line 5)",
        "Obligations: 4 to create, 0 to update, 0 unchanged.",
        "  line 2: create  Acme Corp: revenue $5,000.00 monthly on the last day from 2026-12-31",
        "  line 3: create  Cloud Host: expense $1,200.00 monthly on the 15th; on weekends and US holidays, the next business day from 2026-12-15",
        "  line 4: create  Staff: payroll $42,000.00 semi-monthly on the 15th and last day; on weekends and US holidays, the business day before from 2026-12-15",
        "  line 5: create  Late Payer Co: revenue $800.00 once on 20 Nov 2026",
    ]
    assert {table: table_rows(tmp_path, table) for table in before} == before

    assert books("import", "obligations", "o.csv")[0] == 0
    header, *rows = SLACK_WORDS.splitlines()
    flexible = [f"{row},can_delay" if row.startswith("Cloud Host") else f"{row}," for row in rows]
    (tmp_path / "o.csv").write_text("\n".join([f"{header},flexibility", *flexible]) + "\n")
    code, out, err = books("import", "obligations", "o.csv", "--dry-run")
    assert code == 0, err
    assert "Counterparties: 0 to create, 1 to update, 3 unchanged." in out
    assert "  update     expense Cloud Host: flexibility can_delay (line 3)" in out
    assert "  unchanged  client Acme Corp (line 2)" in out and "  line 5: unchanged  Late Payer Co" in out


def test_a_dry_run_names_a_missing_rate_without_fetching_one(books: Tamio, tmp_path: Path) -> None:
    (tmp_path / "o.csv").write_text(SLACK_WORDS + "Zurich AG,vendor,700,CHF,monthly,2026-12-10,,,,\n")
    code, out, err = books("import", "obligations", "o.csv", "--dry-run")
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1
    assert "Nothing was imported from o.csv: line 6, column currency: I have no exchange rate from CHF to USD" in err
    assert "tamio rates add CHF USD RATE" in err
    assert table_rows(tmp_path, "exchange_rates") == 0


def test_a_progress_bar_shows_on_a_terminal_and_never_on_a_pipe(tmp_path: Path) -> None:
    controller, terminal = pty.openpty()
    with open(tmp_path / "out.txt", "w") as file, os.fdopen(terminal, "w") as tty:
        assert progress_bar(1000, "Importing o.csv", stdout=file, stderr=file) is None
        assert progress_bar(1000, "Importing o.csv", stdout=file, stderr=tty) is None  # stdout piped: no bar
        bar = progress_bar(1000, "Importing o.csv", stdout=tty, stderr=tty, delay=0)
        assert bar is not None
        bar.update(500)
        bar.refresh()  # what tqdm does on its own every tenth of a second
        bar.close()
        tty.flush()
        shown = ""  # the terminal hands the writes over one by one, as the kernel pushes them through
        while "50%" not in shown and select.select([controller], [], [], 10)[0]:
            shown += os.read(controller, 4096).decode()
    os.close(controller)
    assert "Importing o.csv" in shown and "50%" in shown


def test_the_figures_refresh_says_what_it_does_on_a_terminal_and_nothing_on_a_pipe(tmp_path: Path) -> None:
    """After a large import, working out the figures again takes a while: a terminal is told what is going on."""
    with open(tmp_path / "out.txt", "w") as file:
        with working("Updating the forecast, alerts and cards", stdout=file, stderr=file, delay=0, every=0.01):
            pass
    assert (tmp_path / "out.txt").read_text() == ""
    controller, terminal = pty.openpty()
    shown = ""
    with os.fdopen(terminal, "w") as tty:
        with working("Updating the forecast, alerts and cards", stdout=tty, stderr=tty, delay=0, every=0.01):
            # the work goes on until the terminal has shown the line (the ticking thread writes it)
            while "00:0" not in shown and select.select([controller], [], [], 10)[0]:
                shown += os.read(controller, 4096).decode()
    os.close(controller)
    assert "Updating the forecast, alerts and cards: 00:0" in shown


def test_an_import_whose_output_is_captured_prints_its_one_line_and_no_bar(books: Tamio, tmp_path: Path) -> None:
    (tmp_path / "o.csv").write_text(SLACK_WORDS)
    code, out, err = books("import", "obligations", "o.csv")
    assert (code, err) == (0, "") and out == "Imported 4 obligations from o.csv (0 already there; 4 new counterparties).\n"

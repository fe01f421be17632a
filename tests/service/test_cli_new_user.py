"""The `tamio` command as a new user meets it, flag by flag, with bad input everywhere.

Every mistake is one line on stderr (a file's several, one line each) that says what was wrong and
what would be right, a non-zero exit status, and nothing written. These run the real entry point in-process on a fresh SQLite file.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tamio.cli import main
from tamio.cli.db import _shown

Tamio = Callable[..., tuple[int, str, str]]

# The clock every command here reads: the books below start in December 2026, so "today" is fixed
# before them and the tests mean the same whatever the real date is.
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)

HEADER = "counterparty,kind,amount,currency,frequency,start_date,end_date,day,business_day,calendar"
CSV = HEADER + """
Acme Corp,revenue,5000.00,USD,monthly,2026-12-31,,31,,
Staff,payroll,42000,USD,semimonthly,2026-12-15,,,preceding,US
Cloud Host,expense,1200,USD,monthly,2026-12-15,2027-06-15,15,following,US
Cleaner,expense,200.50,USD,weekly,2026-12-07,,,,
"""

ECB_DAILY = """<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
  <gesmes:subject>Reference rates</gesmes:subject>
  <Cube><Cube time='2026-11-27'><Cube currency='USD' rate='1.0825'/><Cube currency='GBP' rate='0.8543'/></Cube></Cube>
</gesmes:Envelope>
"""


@pytest.fixture
def tamio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Tamio:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TAMIO_DATABASE_URL", f"sqlite:///{tmp_path}/new-user.db")
    for name in ("USE_OBLIGATION_FOR_FORECAST", "TAMIO_BASE_CURRENCY", "TAMIO_TIMEZONE"):
        monkeypatch.delenv(name, raising=False)

    def run(*args: str) -> tuple[int, str, str]:
        try:
            code = main(list(args), now=NOW)
        except SystemExit as exc:  # argparse's usage errors
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@pytest.fixture
def books(tamio: Tamio) -> Tamio:
    code, out, _ = tamio("db", "upgrade")
    assert code == 0 and out.startswith("Database is up to date (the latest schema): "), out  # not Alembic's "at head"
    assert tamio("account", "create", "--name", "Acme Ltd", "--base-currency", "USD")[0] == 0
    return tamio


def one_clear_line(result: tuple[int, str, str], *needles: str, code: int = 1) -> str:
    status, out, err = result
    assert status == code, (status, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err and "correlation id" not in err, err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def test_rates_import_of_a_missing_wrong_or_unreachable_source_is_one_line_and_writes_nothing(books: Tamio, tmp_path: Path) -> None:
    one_clear_line(books("rates", "import", "missing.xml"), "missing.xml", "no such file", "eurofxref-daily.xml")
    one_clear_line(books("rates", "import", str(tmp_path)), "is a directory")
    (tmp_path / "obligations.csv").write_text(CSV)
    one_clear_line(books("rates", "import", "obligations.csv"), "Nothing was imported from obligations.csv", "ECB daily XML")
    one_clear_line(books("rates", "import", "http://127.0.0.1:9/eurofxref-daily.xml"), "Nothing was imported", "127.0.0.1:9")
    assert books("rates", "list")[1] == ""
    (tmp_path / "eurofxref-daily.xml").write_text(ECB_DAILY)
    code, out, err = books("rates", "import", "eurofxref-daily.xml")
    assert code == 0 and "Imported 2 rates (latest 2026-11-27)" in out, err


def test_rates_add_refuses_a_rate_that_is_not_positive(books: Tamio) -> None:
    one_clear_line(books("rates", "add", "EUR", "USD", "0"), "`0`", "more than zero", "1.0825")
    one_clear_line(books("rates", "add", "EUR", "USD", "abc"), "`abc`", "1.0825")
    one_clear_line(books("rates", "add", "EUR", "XYZ", "1.1"), "XYZ", "ISO code")
    assert books("rates", "list")[1] == ""


def test_usage_mistakes_are_one_line_with_where_to_read_more(books: Tamio) -> None:
    one_clear_line(books("forecast", "--weeks", "53"), "53 weeks is out of range; use 1 to 52", "tamio forecast --help", code=2)
    one_clear_line(books("forecast", "--as-of", "2026-02-30"), "2026-02-30 is not a date on the calendar; check the month and day.", code=2)
    one_clear_line(books("forecast", "--bogus"), "--bogus", code=2)
    one_clear_line(books(), "COMMAND", code=2)
    one_clear_line(books("actions", "list", "--limit", "-1"), "-1 is out of range; use 1 to 1000", code=2)
    one_clear_line(books("actions", "list", "--limit", "abc"), "'abc' is not a number", code=2)


def test_a_bad_csv_row_is_one_line_naming_line_and_column_and_imports_nothing(books: Tamio, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(CSV + 'Broken,revenue,"12,00.5",USD,monthly,2026-12-01,,,,\n')
    line = one_clear_line(books("import", "obligations", str(bad)), "Nothing was imported from", "line 6, column amount", "12,00.5",
                          "1,200.50")
    assert line.endswith(".")
    bad.write_bytes(b"\xff\xfe\x00not utf-8")
    one_clear_line(books("import", "obligations", str(bad)), "not UTF-8", HEADER)
    one_clear_line(books("import", "obligations", "missing.csv"), "missing.csv", "No such file")
    bad.write_text(CSV + "Berlin GmbH,revenue,900,EUR,monthly,2026-12-01,,,,\n")
    one_clear_line(books("import", "obligations", str(bad)), f"Nothing was imported from {bad}: line 6, column currency",
                   "no exchange rate from EUR to USD", "tamio rates add EUR USD")
    forecast = json.loads(books("forecast", "--json", "--as-of", "2026-12-07")[1])
    assert all(w["inflows"] == "0.00" and w["outflows"] == "0.00" for w in forecast["weeks"])


def test_a_file_with_many_mistakes_names_each_on_a_line_of_its_own(books: Tamio, tmp_path: Path) -> None:
    """Every problem is seen at once, one to a line (before: the first five on one line, "and 4 more"
    left unnamed, so the file had to be imported again to find them); a thousand are not all printed."""
    bad = tmp_path / "bad.csv"
    mistakes = [
        ("Feb Co,expense,100,USD,monthly,2027-02-30,,,,", "line 6, column start_date: 2027-02-30 is not a date on the calendar"),
        ("Us Co,expense,100,USD,monthly,05/01/2027,,,,", "line 7, column start_date: I couldn't read '05/01/2027' as a date; write it as YYYY-MM-DD"),
        ("Cents Co,revenue,100.123,USD,once,2027-01-05,,,,", "line 8, column amount: USD amounts have at most 2 decimal places"),
        ("Odd Co,revenue,100,XYZ,once,2027-01-05,,,,", "line 9, column currency: 'XYZ' is not a currency I know"),
        ("Short Co,revenue,100", "line 10: this row has 3 cells; the header has 10"),
        ("Acme Corp,revenue,5000.00,USD,monthly,2026-12-31,,31,,", "line 11: this row repeats line 2"),
        ("Mars Co,martian,5,USD,monthly,2027-01-05,,,,", "line 12, column kind: I don't know the kind 'martian'"),
    ]
    bad.write_text(CSV + "".join(row + "\n" for row, _ in mistakes))
    code, out, err = books("import", "obligations", str(bad))
    assert code == 1 and out == "", (code, out)
    lines = err.strip().splitlines()
    assert lines[0] == f"tamio: Nothing was imported from {bad}: 7 problems; fix them and import the file again:", lines
    assert len(lines) == 1 + len(mistakes), lines
    for line, (_, says) in zip(lines[1:], mistakes, strict=True):
        assert line.startswith(f"  {says}") and line.endswith("."), (line, says)
    assert "Traceback" not in err

    bad.write_text(HEADER + "\n" + "".join(f"Co {i},expense,100,USD,monthly,2027-02-30,,,,\n" for i in range(1000)))
    code, _, err = books("import", "obligations", str(bad))
    lines = err.strip().splitlines()
    assert code == 1 and "1,000 problems" in lines[0], lines[0]
    assert len(lines) == 52 and lines[1].startswith("  line 2, column start_date") and lines[50].startswith("  line 51,"), lines
    assert lines[-1] == "  and 950 more, the last on line 1,001.", lines[-1]
    forecast = json.loads(books("forecast", "--json", "--as-of", "2026-12-07")[1])
    assert all(w["inflows"] == "0.00" and w["outflows"] == "0.00" for w in forecast["weeks"])  # nothing was imported


def test_amount_mistakes_echo_what_was_typed(books: Tamio) -> None:
    one_clear_line(books("balance", "set", "Operating", "12,00.5", "USD"), "`12,00.5`", "1,200.50")
    one_clear_line(books("balance", "set", "Operating", "100.555", "USD"), "`100.555`", "USD amounts have at most 2 decimal places")
    one_clear_line(books("balance", "set", "Operating", "100", "XYZ"), "XYZ", "USD, EUR or GBP")
    one_clear_line(books("balance", "set", "Credit", "0", "USD", "--type", "credit_line", "--credit-limit", "-5"), "`-5`", "positive")
    assert books("balance", "list")[1] == ""


def test_members_are_added_from_the_command_line_and_get_tokens(books: Tamio) -> None:
    assert "No members yet" in books("member", "list")[1]
    code, out, err = books("member", "add", "--name", "ada", "--role", "admin", "--slack-user", "U024BE7LH")
    assert code == 0 and "(ada, admin)" in out, err
    one_clear_line(books("member", "add", "--name", "ADA"), "already a member called `ADA`")
    one_clear_line(books("member", "add", "--name", "bob", "--slack-user", "U024BE7LH"), "U024BE7LH", "already a member")
    one_clear_line(books("member", "add", "--name", "x", "--role", "boss"), "invalid choice: 'boss'", code=2)
    [ada] = json.loads(books("member", "list", "--json")[1])
    assert (ada["display_name"], ada["role"], ada["slack_user_id"]) == ("ada", "admin", "U024BE7LH")
    code, out, err = books("token", "create", "--member", ada["id"], "--name", "reporting")
    assert code == 0 and out.strip().splitlines()[-1].startswith("tamio_"), err
    one_clear_line(books("token", "create", "--member", "nope"), "no member `nope`", "tamio member list")


def test_a_new_user_approves_and_skips_with_members_and_json_amounts_have_currency_precision(books: Tamio, tmp_path: Path) -> None:
    (tmp_path / "o.csv").write_text(CSV)
    assert books("import", "obligations", "o.csv")[0] == 0
    assert books("balance", "set", "Operating", "45000", "USD")[0] == 0
    assert books("member", "add", "--name", "li", "--role", "approver")[0] == 0
    assert books("member", "add", "--name", "vic")[0] == 0
    code, out, err = books("pipeline", "run", "--as-of", "2026-12-10", "--json")
    assert code == 0 and json.loads(out)["actions_prepared"] >= 2, err
    actions = json.loads(books("actions", "list", "--json")[1])
    # Run again: nothing new is prepared, and the report says so beside what still waits (the walk read
    # "0 actions prepared" above a queue of several as "nothing proposed").
    code, out, err = books("pipeline", "run", "--as-of", "2026-12-10")
    assert code == 0 and f"0 new actions prepared ({len(actions)} waiting for a decision: tamio actions list)" in out, out + err
    assert actions and all(a["amount"] is None or len(a["amount"].split(".")[-1]) == 2 for a in actions), actions
    cleaner = next(a for a in actions if a["title"].startswith("Cleaner"))
    assert cleaner["amount"] == "200.50"
    shown = json.loads(books("actions", "show", cleaner["id"], "--json")[1])
    assert shown["amount"] == "200.50" and shown["options"][0]["amount"] == "200.50"
    one_clear_line(books("actions", "approve", cleaner["id"], "--as", "vic"), "you are a viewer")
    one_clear_line(books("actions", "approve", cleaner["id"], "--as", "nobody"), "no member `nobody`", "tamio member list")
    # Prepared as of 10 Dec, approved on 30 Nov: not the figures of today, so refused with today's card.
    code, out, err = books("actions", "approve", cleaner["id"], "--as", "li")
    assert code == 1 and err.strip() == "tamio: The figures changed since this was prepared; here they are now.", err
    assert out.startswith("Cleaner") and "[pending]" in out, out
    before = {a["id"] for a in actions}
    actions = json.loads(books("actions", "list", "--json")[1])
    assert cleaner["id"] not in {a["id"] for a in actions}  # superseded: no longer waiting
    [cleaner] = [a for a in actions if a["title"].startswith("Cleaner") and a["id"] not in before]  # the fresh one
    code, out, err = books("actions", "approve", cleaner["id"], "--as", "li")
    assert code == 0 and "@li approved option 1" in out, err
    actions = json.loads(books("actions", "list", "--json")[1])  # carrying it out asked for fresh figures: restated cards
    other = next(a for a in actions if a["id"] != cleaner["id"] and not a["action_type"].startswith("payroll"))  # payroll: admins only
    code, out, err = books("actions", "skip", other["id"], "--as", "li", "--reason", "paid by phone")
    assert code == 0 and out.strip() == "@li skipped this: paid by phone", err
    assert books("audit", "verify")[0] == 0


def test_pipeline_types_mean_a_targeted_run(books: Tamio) -> None:
    code, out, err = books("pipeline", "run", "--types", "buffer_breach", "--json")
    assert code == 0 and json.loads(out)["mode"] == "targeted", err
    one_clear_line(books("pipeline", "run", "--mode", "full", "--types", "buffer_breach"), "--types is for a targeted run")
    one_clear_line(books("pipeline", "run", "--mode", "targeted"), "--mode targeted needs --types")
    one_clear_line(books("pipeline", "run", "--types", "bogus"), "unknown detection type", code=2)
    # an empty list is a mistake, not a full run
    one_clear_line(books("pipeline", "run", "--types", ","), "at least one detection type", code=2)
    one_clear_line(books("pipeline", "run", "--mode", "targeted", "--types", ""), "at least one detection type", code=2)


def test_database_mistakes_say_what_to_do(tamio: Tamio, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    one_clear_line(tamio("account", "create", "--name", "Acme"), "no Tamio tables yet", "tamio db upgrade")
    monkeypatch.setenv("TAMIO_DATABASE_URL", "postgresql://tamio:hunter2@127.0.0.1:9/tamio")
    line = one_clear_line(tamio("forecast"), "couldn't connect to the database", "TAMIO_DATABASE_URL")
    assert "hunter2" not in line and "***" in line
    monkeypatch.setenv("TAMIO_DATABASE_URL", "bogus://x")
    one_clear_line(tamio("db", "upgrade"), "not a database Tamio can use", "sqlite:///")
    monkeypatch.setenv("TAMIO_DATABASE_URL", f"sqlite:///{tmp_path}/new-user.db")
    monkeypatch.setenv("USE_OBLIGATION_FOR_FORECAST", "maybe")
    one_clear_line(tamio("forecast"), "USE_OBLIGATION_FOR_FORECAST", "valid boolean", "'maybe'")


def test_account_may_follow_the_command(books: Tamio) -> None:
    [account] = json.loads(books("account", "list", "--json")[1])
    code, out, err = books("forecast", "--account", account["id"], "--weeks", "1")
    assert code == 0 and "Cash forecast for Acme Ltd · 1 week from" in out, err
    one_clear_line(books("forecast", "--account", "nope"), "no account `nope`", "tamio account list")
    one_clear_line(books("actions", "list", "--account", "nope"), "no account `nope`")


def test_db_upgrade_never_prints_the_password() -> None:
    assert _shown("postgresql+asyncpg://tamio:hunter2@db.example.com/tamio") == "postgresql+asyncpg://tamio:***@db.example.com/tamio"
    assert _shown("sqlite+aiosqlite:///./var/tamio.db") == "sqlite+aiosqlite:///./var/tamio.db"


def test_the_optional_flexibility_column_lets_a_buffer_breach_delay_a_vendor(books: Tamio, tmp_path: Path) -> None:
    rows = [
        ("Staff,payroll,25000,USD,monthly,2026-12-15,,,following,US", "cannot_delay"),
        ("Cloud Host,expense,4000,USD,monthly,2026-12-10,,,,", "can_delay"),
        ("Acme Corp,revenue,5000,USD,monthly,2026-12-31,,,,", ""),
    ]
    (tmp_path / "plain.csv").write_text(HEADER + "\n" + "\n".join(row for row, _ in rows) + "\n")
    (tmp_path / "flexible.csv").write_text(HEADER + ",flexibility\n" + "\n".join(f"{row},{flex}" for row, flex in rows) + "\n")
    assert books("balance", "set", "Operating", "30000", "USD")[0] == 0
    assert books("import", "obligations", "plain.csv")[0] == 0
    code, out, err = books("pipeline", "run", "--types", "buffer_breach", "--json")
    assert code == 0 and json.loads(out)["actions_prepared"] == 0, err  # no vendor is known to be able to wait

    code, out, err = books("import", "obligations", "flexible.csv")
    assert code == 0 and "Imported 0 obligations" in out and "flexibility set for 2 vendors" in out, err
    assert "flexibility set" not in books("import", "obligations", "flexible.csv")[1]
    # The import changed the vendors' terms: the command's own refresh prepared the buffer response
    # (payment_prioritization, whatever ranks first; the runway's answer is another card).
    actions = json.loads(books("actions", "list", "--json")[1])
    [action] = [a for a in actions if a["action_type"] == "payment_prioritization"]
    shown = books("actions", "show", action["id"], "--json")[1]
    assert "Cloud Host" in shown and "Staff" not in shown
    assert [o["kind"] for o in json.loads(shown)["options"]] == ["delay_payment"]
    assert books("audit", "verify")[0] == 0


def test_database_urls_written_for_other_drivers_are_accepted(tamio: Tamio, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tamio.config import normalize_database_url

    for written in ("postgres://u:p@h/db", "postgresql://u:p@h/db", "postgresql+psycopg2://u:p@h/db", "postgresql+psycopg://u:p@h/db"):
        assert normalize_database_url(written) == "postgresql+asyncpg://u:p@h/db"
    monkeypatch.setenv("TAMIO_DATABASE_URL", f"sqlite+pysqlite:///{tmp_path}/sync-driver.db")
    code, out, err = tamio("db", "upgrade")
    assert code == 0 and f"sqlite+aiosqlite:///{tmp_path}/sync-driver.db" in out, err


def counterparty_row(tmp_path: Path, table: str, name: str) -> tuple[str | None, str | None]:
    with sqlite3.connect(tmp_path / "new-user.db") as db:
        found = db.execute(f"SELECT contact_email, contact_name FROM {table} WHERE name = ?", (name,)).fetchone()
    return (found[0], found[1]) if found else (None, None)


def lock(tmp_path: Path, table: str, name: str, fields: list[str]) -> None:
    with sqlite3.connect(tmp_path / "new-user.db") as db:
        db.execute(f"UPDATE {table} SET locked_fields = ?, source = 'xero' WHERE name = ?", (json.dumps(fields), name))


def audit_rows(tmp_path: Path) -> int:
    with sqlite3.connect(tmp_path / "new-user.db") as db:
        return int(db.execute("SELECT count(*) FROM audit_logs").fetchone()[0])


def test_the_csv_may_carry_each_counterpartys_email_and_contact_name(books: Tamio, tmp_path: Path) -> None:
    contact_header = HEADER + ",email,contact_name"
    at_start = audit_rows(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text(contact_header + "\nAcme Corp,revenue,5000,USD,monthly,2026-12-31,,31,,,ap@acme,Jane Doe\n"
                   "Cloud Host,expense,1200,USD,monthly,2026-12-15,,15,,,ops@cloud.example,\n")
    one_clear_line(books("import", "obligations", str(bad)), "Nothing was imported", "line 2, column email", "'ap@acme'", "ap@client.com")
    assert counterparty_row(tmp_path, "expense_buckets", "Cloud Host") == (None, None) and audit_rows(tmp_path) == at_start

    good = tmp_path / "good.csv"
    good.write_text(contact_header + "\nAcme Corp,revenue,5000,USD,monthly,2026-12-31,,31,,,ap@acme.example,Jane Doe\n"
                    "Cloud Host,expense,1200,USD,monthly,2026-12-15,,15,,,,\n")
    code, out, err = books("import", "obligations", str(good))
    assert code == 0 and "Imported 2 obligations" in out and "contact set" not in out, err
    assert counterparty_row(tmp_path, "clients", "Acme Corp") == ("ap@acme.example", "Jane Doe")
    assert counterparty_row(tmp_path, "expense_buckets", "Cloud Host") == (None, None)

    # The same obligations again, with a vendor's address added: nothing duplicated, the address set.
    good.write_text(good.read_text().replace("15,,,,\n", "15,,,ops@cloud.example,Bob\n"))
    code, out, err = books("import", "obligations", str(good))
    assert code == 0 and "Imported 0 obligations" in out and "contact set for 1 existing counterparty" in out, err
    assert counterparty_row(tmp_path, "expense_buckets", "Cloud Host") == ("ops@cloud.example", "Bob")

    # An address an integration owns is refused, naming the line and the column; nothing changes.
    lock(tmp_path, "clients", "Acme Corp", ["contact_email", "name"])
    before = audit_rows(tmp_path)
    good.write_text(good.read_text().replace("ap@acme.example", "billing@acme.example").replace(",Bob", ",Robert"))
    one_clear_line(books("import", "obligations", str(good)), "line 2, column email", "comes from Xero")
    assert counterparty_row(tmp_path, "expense_buckets", "Cloud Host") == ("ops@cloud.example", "Bob")
    assert audit_rows(tmp_path) == before
    assert books("audit", "verify")[0] == 0


def test_tamio_contact_sets_whom_follow_up_emails_go_to(books: Tamio, tmp_path: Path) -> None:
    (tmp_path / "o.csv").write_text(CSV + "Acme Corp,expense,80,USD,monthly,2026-12-20,,,,\n")
    assert books("import", "obligations", "o.csv")[0] == 0
    before = audit_rows(tmp_path)
    one_clear_line(books("contact", "Cloud Host", "ops@cloud"), "`ops@cloud` is not an email address", "ap@client.com")
    one_clear_line(books("contact", "Nobody", "ap@nobody.example"), "There is no client or expense called `Nobody`")
    one_clear_line(books("contact", "Acme Corp", "ap@acme.example"), "Both a client and an expense are called `Acme Corp`")
    one_clear_line(books("contact", "Cloud Host", "ops@cloud.example", "--name", " "), "contact name is empty")
    one_clear_line(books("contact", "Cloud Host", "ops@cloud.example", "--client"), "There is no client called `Cloud Host`")
    assert audit_rows(tmp_path) == before

    code, out, err = books("contact", "acme corp", " ap@acme.example ", "--client", "--name", "Jane  Doe")
    assert (code, out, err) == (0, "Acme Corp (client): follow-up emails go to ap@acme.example (Jane Doe).\n", "")
    assert counterparty_row(tmp_path, "clients", "Acme Corp") == ("ap@acme.example", "Jane Doe")
    assert counterparty_row(tmp_path, "expense_buckets", "Acme Corp") == (None, None)
    assert audit_rows(tmp_path) == before + 1
    code, out, _ = books("contact", "Acme Corp", "ap@acme.example", "--client")
    assert code == 0 and "already go to ap@acme.example (Jane Doe); nothing changed" in out and audit_rows(tmp_path) == before + 1
    assert books("contact", "Cloud Host", "ops@cloud.example")[1] == "Cloud Host (expense): follow-up emails go to ops@cloud.example.\n"

    lock(tmp_path, "expense_buckets", "Cloud Host", ["contact_email"])
    one_clear_line(books("contact", "Cloud Host", "help@cloud.example"), "`contact_email` of Cloud Host comes from Xero")
    assert counterparty_row(tmp_path, "expense_buckets", "Cloud Host") == ("ops@cloud.example", None)
    assert books("audit", "verify")[0] == 0


def test_xero_problems_name_the_command_line_way_to_reconnect(books: Tamio, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cryptography.fernet import Fernet

    from tamio.cli import cli_wording

    monkeypatch.setenv("XERO_CLIENT_ID", "client-id")
    monkeypatch.setenv("XERO_CLIENT_SECRET", "client-secret")
    monkeypatch.setenv("TAMIO_SECRET_KEY", Fernet.generate_key().decode())
    with sqlite3.connect(tmp_path / "new-user.db") as db:
        db.execute(
            "INSERT INTO integration_connections (id, user_id, integration_type, tenant_id, scopes, status, sync_cursor, created_at, updated_at) "
            "SELECT 'con_1', id, 'xero', 'tenant-1', '', 'needs_reconnect', '{}', '2026-11-01 00:00:00', '2026-11-01 00:00:00' FROM users"
        )
    line = one_clear_line(books("sync", "xero"), "Xero needs reconnecting", "Reconnect with `tamio connect xero`.")
    assert "/tamio" not in line
    # A Slack command with no command-line form is said to be in Slack.
    assert cli_wording("Give the role with `/tamio role @you approver`.") == "Give the role with `/tamio role @you approver` in Slack."
    assert cli_wording("(`tamio token create`, or `/tamio token` in Slack)") == "(`tamio token create`, or `/tamio token` in Slack)"
    assert cli_wording("Then run `/tamio sync`.") == "Then run `tamio sync xero`."

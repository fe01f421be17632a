"""What a new user trips on when using `tamio` with no server running, step by step.

These run the real entry point in-process on a fresh SQLite file and a real SMTP server on loopback.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.service.cli_runner import Tamio, fresh_cli
from tests.service.execution_factories import Mailbox, free_port

NOW = datetime(2026, 12, 6, 21, 0, tzinfo=UTC)

CSV = """counterparty,kind,amount,frequency,start_date,flexibility,email
Cloud Host,bill,2500,monthly,2026-12-20,can_delay,ops@cloud.example
Staff,payroll,18000,biweekly,2026-12-11,,
"""


@pytest.fixture
def tamio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Tamio:
    run = fresh_cli(tmp_path, monkeypatch, capsys, now=NOW, database="walk.db", account="Walk Co")
    assert run("balance", "set", "Operating", "20000", "USD")[0] == 0
    (tmp_path / "books.csv").write_text(CSV)
    assert run("import", "obligations", "books.csv")[0] == 0
    assert run("member", "add", "--name", "ada", "--role", "admin")[0] == 0
    return run


def test_an_approved_action_whose_email_failed_is_carried_out_by_jobs_run_executions(
    tamio: Tamio, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(port))
    monkeypatch.setenv("SMTP_SENDER", "tamio@walk.example")
    actions = json.loads(tamio("actions", "list", "--json")[1])
    [delay] = [a for a in actions if a["action_type"] == "payment_prioritization"]
    code, out, err = tamio("actions", "approve", delay["id"], "--option", "1", "--as", "ada")
    assert code == 0 and "Attempt 1 of 5 failed" in out, (out, err)  # nothing listens on the port yet
    # A mail server that is down is a line in the log, not a traceback on the user's terminal.
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []
    # Without a server nothing retries it, and a retry by hand is refused while it waits.
    assert tamio("actions", "retry", delay["id"], "--as", "ada")[0] != 0
    with Mailbox(port) as mailbox:
        code, out, err = tamio("jobs", "run", "executions", now=NOW + timedelta(hours=1))
        assert code == 0 and "resumed 1" in out, (out, err)
        assert len(mailbox.to("ops@cloud.example")) == 1
    shown = json.loads(tamio("actions", "show", delay["id"], "--json", now=NOW + timedelta(hours=1))[1])
    assert shown["status"] == "executed"
    code, out, _ = tamio("history", "Cloud Host", now=NOW + timedelta(hours=1))
    assert "Asked to delay $2,500.00 from 2026-12-20" in out  # a request until the vendor agrees


def test_a_backtest_with_its_dates_reversed_names_yesterday_not_the_to_date(tamio: Tamio) -> None:
    code, _, err = tamio("forecast", "backtest", "--from", "2026-12-01", "--to", "2026-11-01")
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert "up to yesterday, 2026-12-05" in err and "got 2026-12-01 to 2026-11-01" in err, err


def test_a_partly_paid_one_off_invoice_is_not_offered_expect_less_from_now_on(tamio: Tamio, tmp_path: Path) -> None:
    (tmp_path / "invoice.csv").write_text("counterparty,kind,amount,frequency,start_date\nAcme Corp,client,3000,once,2026-11-25\n")
    assert tamio("import", "obligations", "invoice.csv")[0] == 0
    code, out, err = tamio("paid", "Acme Corp", "1000")
    assert code == 0 and "$2,000.00 still open" in out, err
    actions = json.loads(tamio("actions", "list", "--json")[1])
    # One card for one debt: the invoice is late, so its late-payment card asks for the rest (no second
    # "paid less than expected" card); nothing of Acme's falls due ahead for a lower amount to apply to.
    [late] = [a for a in actions if "Acme Corp" in a["title"]]
    assert late["action_type"] != "invoice_generation", actions
    options = json.loads(tamio("actions", "show", late["id"], "--json")[1])["options"]
    assert options and {o["kind"] for o in options} == {"send_email"}, options

"""One forecast through the command line, with the default settings (no forecast flag set).

Issue 15's Done-when: "the default `tamio forecast` counts a recorded payment once and shows an
executed delay"; issue 16's ``tamio paid COUNTERPARTY AMOUNT [CUR] [--on DATE] [--for REF]``; and
``tamio db backfill-schedules`` for an account that forecast from billing lines until now. These run
the real entry point in-process (``tamio.cli.main(argv, now=...)``) on a fresh SQLite file.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.service.cli_runner import Tamio, fresh_cli

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # a Monday

CSV = """counterparty,kind,amount,currency,frequency,start_date,end_date,day,business_day,calendar,flexibility
Acme Corp,revenue,5000,USD,monthly,2026-12-09,,9,,,
Cloud Host,expense,2500,USD,once,2026-12-10,,,,,can_delay
"""


@pytest.fixture
def tamio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Tamio:
    run = fresh_cli(tmp_path, monkeypatch, capsys, now=NOW, database="one.db", account="Acme Ltd")
    return run


def forecast(tamio: Tamio) -> dict[str, Any]:
    code, out, err = tamio("forecast", "--json")
    assert code == 0, err
    result: dict[str, Any] = json.loads(out)
    return result


def week(result: dict[str, Any], start: str) -> dict[str, str]:
    found: dict[str, str] = next(w for w in result["weeks"] if w["start"] <= start <= w["end"])
    return found


async def _prepare_delay(url: str) -> str:
    """An approved-to-be vendor delay of Cloud Host's payment to Fri 8 Jan, as preparation stores it."""
    import tamio.models  # noqa: F401
    from tamio.accounts.models import Account
    from tamio.cli.context import CliContext
    from tamio.config import Settings
    from tamio.db import create_engine, make_session_factory
    from tamio.obligations.models import ObligationSchedule
    from tests.service.execution_factories import make_action, option

    engine = create_engine(url)
    try:
        secret = CliContext(settings=Settings(database_url=url)).secret()  # the one the command line seals the audit with
        async with make_session_factory(engine, secret)() as session, session.begin():
            account = (await session.execute(select(Account))).scalar_one()
            schedule = (await session.execute(select(ObligationSchedule).where(ObligationSchedule.direction == "outflow"))).scalar_one()
            params = {"moves": [{"schedule_id": schedule.id, "new_date": "2027-01-08"}], "notify_vendor": False}
            action = await make_action(session, account, "vendor_delay", amount="2500", title="Delay Cloud Host",
                                       options=[option("delay_payment", params, amount=Decimal("2500"))])
            return action.id
    finally:
        await engine.dispose()


def test_the_default_forecast_counts_a_recorded_payment_once_and_shows_an_executed_delay(tamio: Tamio, tmp_path: Path) -> None:
    (tmp_path / "books.csv").write_text(CSV)
    assert tamio("import", "obligations", "books.csv")[0] == 0
    assert tamio("balance", "set", "Operating", "20000", "USD")[0] == 0
    assert tamio("member", "add", "--name", "ada", "--role", "admin")[0] == 0
    before = forecast(tamio)
    first = before["weeks"][0]
    assert (before["opening_balance"], first["inflows"], first["outflows"]) == ("20000.00", "5000.00", "2500.00")

    code, out, err = tamio("paid", "Acme Corp", "5000")
    assert code == 0 and "Recorded $5,000.00 from Acme Corp on Mon 7 Dec 2026:" in out and "2026-12-09, due Wed 9 Dec 2026 (now paid)" in out, err
    paid = forecast(tamio)
    assert (paid["opening_balance"], paid["weeks"][0]["inflows"]) == ("25000.00", "0.00")  # in the bank, no longer expected
    # Counted once: the same closing balances, except that Acme has just paid two days early, so
    # part of its 9 Feb invoice is now expected in the week before (the horizon's total is the same).
    closings = [w["closing_balance"] for w in paid["weeks"]]
    assert closings[:8] == [w["closing_balance"] for w in before["weeks"]][:8] and closings[-1] == before["weeks"][-1]["closing_balance"]

    action_id = asyncio.run(_prepare_delay(f"sqlite+aiosqlite:///{tmp_path}/one.db"))
    code, out, err = tamio("actions", "approve", action_id, "--as", "ada")
    assert code == 0, err
    delayed = forecast(tamio)
    assert delayed["weeks"][0]["outflows"] == "0.00" and week(delayed, "2027-01-08")["outflows"] == "2500.00"


def test_tamio_paid_for_an_invoice_and_its_clear_errors(tamio: Tamio, tmp_path: Path) -> None:
    (tmp_path / "books.csv").write_text(CSV)
    assert tamio("import", "obligations", "books.csv")[0] == 0
    assert tamio("balance", "set", "Operating", "0", "USD")[0] == 0
    code, out, err = tamio("paid", "Acme Corp", "7000", "USD", "--on", "2026-12-04", "--for", "2027-01-09")
    assert code == 0, err
    assert out.splitlines() == [
        "Recorded $7,000.00 from Acme Corp on Fri 4 Dec 2026:",
        "  $7,000.00 to 2027-01-09, due Sat 9 Jan 2027 (now paid)",
        "  $2,000.00 more than was owed: kept as an overpayment (unexpected revenue)",
    ]
    code, out, err = tamio("paid", "Cloud Host", "100")
    assert code == 0 and "Recorded $100.00 to Cloud Host" in out and "$2,400.00 still open" in out

    def one_line(result: tuple[int, str, str], *needles: str) -> None:
        status, _, text = result
        assert status != 0 and len(text.strip().splitlines()) == 1 and "Traceback" not in text, text
        for needle in needles:
            assert needle in text, (needle, text)

    one_line(tamio("paid", "Acme Crop", "10"), "There is no client or vendor called `Acme Crop`. Did you mean `Acme Corp`?")
    one_line(tamio("paid", "Acme Corp", "10", "--for", "INV-9"), "Acme Corp has no open invoice `INV-9`. Open: 2026-12-09 (due Wed 9 Dec 2026",
             "Write one of those invoice numbers")
    one_line(tamio("paid", "Acme Corp", "10", "--on", "2026-12-08"), "2026-12-08 is after today (2026-12-07)")
    one_line(tamio("paid", "Acme Corp", "12,00.5"), "12,00.5")
    one_line(tamio("paid", "Acme Corp", "10", "--on", "yesterday"), "I couldn't read 'yesterday' as a date; write it as YYYY-MM-DD, like 2026-12-01.")
    code, out, _ = tamio("balance", "list")
    assert "$6,900.00" in out  # 7,000 in, 100 out; nothing half-written by the refused ones


def test_backfill_schedules_for_an_account_that_forecast_from_billing_lines(tamio: Tamio, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "books.csv").write_text(CSV)
    monkeypatch.setenv("USE_OBLIGATION_SYSTEM", "false")  # lines entered without obligations behind them
    monkeypatch.setenv("USE_OBLIGATION_FOR_FORECAST", "false")
    assert tamio("import", "obligations", "books.csv")[0] == 0
    legacy = forecast(tamio)
    monkeypatch.delenv("USE_OBLIGATION_SYSTEM")
    monkeypatch.delenv("USE_OBLIGATION_FOR_FORECAST")
    code, out, err = tamio("db", "backfill-schedules")
    assert code == 0, err
    assert out.startswith("Acme Ltd: 2 billing lines given an obligation, ") and "schedules run through " in out
    assert tamio("db", "backfill-schedules")[1].startswith("Acme Ltd: 0 billing lines given an obligation, 0 schedules")
    assert forecast(tamio)["weeks"] == legacy["weeks"]
    assert forecast(tamio)["weeks"][0]["inflows"] == "5000.00"

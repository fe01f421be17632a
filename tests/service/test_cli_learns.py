"""Issue 16 on the command line: the forecast keeps its schedules coming without a server, the 6 AM
job by hand, forecast against actual (stored and replayed) and a client's habits in words.

    tamio forecast [--json]                      ("interval": "0.80" at the top level)
    tamio jobs run morning
    tamio forecast accuracy [--weeks N] [--json]
    tamio forecast backtest --from DATE --to DATE [--json]
    tamio client NAME
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tests.service.cli_runner import Tamio, as_json, fresh_cli

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday

CSV = """counterparty,kind,amount,currency,frequency,start_date,end_date,day,business_day,calendar,flexibility
Slow Co,revenue,5000,USD,weekly,2026-01-05,,,,,
Office Rent,expense,2000,USD,monthly,2026-01-05,,5,,,
"""


@pytest.fixture
def tamio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Tamio:
    run = fresh_cli(tmp_path, monkeypatch, capsys, now=START, database="learns.db", account="Slow Ltd")
    (tmp_path / "books.csv").write_text(CSV)
    assert run("import", "obligations", "books.csv")[0] == 0
    assert run("balance", "set", "Operating", "10000", "USD")[0] == 0
    return run



def live(tamio: Tamio, weeks: int) -> datetime:
    """``weeks`` weeks of Slow Co paying each weekly invoice three weeks late, the rent on time, and
    the 6 AM job run by hand every Monday; returns the last Monday."""
    now = START
    for week in range(weeks):
        now = START + timedelta(weeks=week)
        assert tamio("jobs", "run", "morning", now=now)[0] == 0
        if week >= 3:
            due = (now - timedelta(weeks=3)).date()
            code, _, err = tamio("paid", "Slow Co", "5000", "--for", due.isoformat(), now=now + timedelta(hours=2))
            assert code == 0, err
        if now.day <= 7:
            rent = now.date().replace(day=5)
            if rent <= now.date():
                tamio("paid", "Office Rent", "2000", "--on", rent.isoformat(), "--for", rent.isoformat(), now=now + timedelta(hours=2))
    return now


def test_the_forecast_states_its_band_and_keeps_schedules_coming_without_a_server(tamio: Tamio) -> None:
    first = as_json(tamio("forecast", "--json"))
    assert first["interval"] == "0.80"
    assert all(Decimal(w["low"]) <= Decimal(w["closing_balance"]) <= Decimal(w["high"]) for w in first["weeks"])
    # Eight months later (Wed 2 Sep), nothing ran in between: the forecast generates the 26 weeks it
    # shows (nothing was ever paid, so each invoice on its due date): Slow Co's every Monday, the
    # rent on each 5th.
    later = START + timedelta(days=240)
    forecast = as_json(tamio("forecast", "--json", "--weeks", "26", now=later))
    assert forecast["as_of"] == "2026-09-02" and len(forecast["weeks"]) == 26
    assert all(Decimal(w["inflows"]) == Decimal("5000") for w in forecast["weeks"][1:])
    rents = [w["start"] for w in forecast["weeks"][1:] if Decimal(w["outflows"]) == Decimal("2000")]
    assert rents == ["2026-09-30", "2026-11-04", "2026-12-02", "2026-12-30", "2027-02-03"]  # the weeks of 5 Oct ... 5 Feb


def test_the_morning_job_by_hand_and_forecast_against_actual(tamio: Tamio) -> None:
    code, out, _ = tamio("forecast", "accuracy", now=START)
    assert code == 0 and out.startswith("No stored forecast has reached its week yet.")
    last = live(tamio, 20)
    code, out, err = tamio("jobs", "run", "morning", now=last + timedelta(days=1))
    assert code == 0 and "morning done: day 2026-05-19" in out and "forecasts_scored" in out, err
    stored = as_json(tamio("forecast", "accuracy", "--weeks", "26", "--json", now=last + timedelta(days=1)))
    assert stored["interval"] == "0.80" and stored["source"] == "snapshots"
    rows = {row["weeks_ahead"]: row for row in stored["horizons"]}
    assert [rows[h]["forecasts"] for h in (1, 4, 13)] == [19, 16, 7]
    assert Decimal(rows[4]["improvement"]) > Decimal("0.5")  # three weeks late, every week: the due date is wrong by 15,000
    # The same weeks replayed from the ledger (cut-offs 5 Jan to 11 May, scored to Sun 17 May).
    replayed = as_json(tamio("forecast", "backtest", "--from", "2026-01-05", "--to", "2026-05-17", "--json", now=last + timedelta(days=1)))
    assert replayed["source"] == "backtest" and (replayed["from"], replayed["to"]) == ("2026-01-05", "2026-05-17")
    assert {row["weeks_ahead"]: row["forecasts"] for row in replayed["horizons"]} == {1: 19, 4: 16, 13: 7}
    assert Decimal(replayed["horizons"][1]["improvement"]) > Decimal("0.5")
    code, out, _ = tamio("forecast", "backtest", "--from", "2026-01-05", "--to", "2026-05-17", now=last + timedelta(days=1))
    assert code == 0 and "Ahead" in out and "4 weeks" in out and "%" in out
    code, out, _ = tamio("client", "Slow Co", now=last)
    assert code == 0 and out.startswith("Slow Co: usually pays") and "(learned from 17 paid invoices)" in out, out


def test_clear_errors(tamio: Tamio) -> None:
    def one_line(result: tuple[int, str, str], *needles: str) -> None:
        status, _, text = result
        assert status != 0 and len(text.strip().splitlines()) == 1 and "Traceback" not in text, text
        for needle in needles:
            assert needle in text, (needle, text)

    one_line(tamio("forecast", "backtest", "--from", "2026-05-01", "--to", "2026-05-03"), "at least a week of history")
    one_line(tamio("forecast", "backtest", "--from", "May", "--to", "2026-05-03"), "I couldn't read 'May' as a date")
    one_line(tamio("forecast", "backtest", "--to", "2026-05-03"), "--from")
    one_line(tamio("forecast", "accuracy", "--weeks", "0"), "look back 1 to 104 weeks")
    one_line(tamio("jobs", "run", "breakfast"), "invalid choice")
    one_line(tamio("client", "Nobody"), "There is no client called `Nobody`", "Slow Co")


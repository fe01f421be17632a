"""The `tamio` command as a new user runs it: import a CSV, set balances, read the forecast."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Each command runs in its own process with the clock fixed before the December 2026 books below,
# so the tests mean the same whatever the real date is.
NOW = "2026-11-30T09:00:00+00:00"
ENTRY = "import sys; from datetime import datetime; from tamio.cli import main; now = datetime.fromisoformat(sys.argv.pop(1)); sys.exit(main(sys.argv[1:], now=now))"

CSV = """counterparty,kind,amount,currency,frequency,start_date,end_date,day,business_day,calendar
Acme Corp,revenue,"5,000.00",USD,monthly,2026-12-31,,31,,
Payroll,payroll,42000,USD,semimonthly,2026-12-15,,,preceding,US
Cloud Host,expense,1200,USD,monthly,2026-12-15,2027-06-15,15,following,US
VAT,tax,6100,USD,quarterly,2027-01-31,,-1,,
Big Client,revenue,900,USD,FREQ=WEEKLY;BYDAY=FR,2026-12-04,2027-02-26,,,
"""


@pytest.fixture
def tamio(tmp_path: Path):  # type: ignore[no-untyped-def]
    env = {**os.environ, "TAMIO_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "USE_OBLIGATION_FOR_FORECAST": "true"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", ENTRY, NOW, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)

    assert run("db", "upgrade").returncode == 0
    created = run("account", "create", "--name", "Acme Ltd", "--base-currency", "USD")
    assert created.returncode == 0, created.stderr
    return run


def test_import_is_all_or_nothing_and_idempotent(tamio, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.csv"
    bad.write_text(CSV + "Broken,revenue,12,00.5,USD,monthly,2026-12-01,,,,\n")
    result = tamio("import", "obligations", str(bad))
    assert result.returncode == 1 and "line 7" in result.stderr and "Nothing was imported" in result.stderr
    forecast = json.loads(tamio("forecast", "--json", "--as-of", "2026-12-07").stdout)
    assert all(w["inflows"] == "0.00" and w["outflows"] == "0.00" for w in forecast["weeks"])

    good = tmp_path / "good.csv"
    good.write_text(CSV)
    first = tamio("import", "obligations", str(good))
    assert first.returncode == 0 and "Imported 5 obligations" in first.stdout, first.stderr
    second = tamio("import", "obligations", str(good))
    assert second.returncode == 0 and "Imported 0 obligations" in second.stdout and "5 already there" in second.stdout


def test_forecast_json_shape_and_table(tamio, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "o.csv").write_text(CSV)
    assert tamio("import", "obligations", str(tmp_path / "o.csv")).returncode == 0
    assert tamio("balance", "set", "Operating", "45000", "USD").returncode == 0
    out = tamio("forecast", "--json", "--as-of", "2026-12-07", "--weeks", "13")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data) == {"base_currency", "as_of", "interval", "opening_balance", "weeks", "lowest_closing_balance", "lowest_week_start", "runway_weeks"}
    assert data["interval"] == "0.80"  # each week's low/high is an 80 % interval (issue 16)
    assert data["base_currency"] == "USD" and data["opening_balance"] == "45000.00" and len(data["weeks"]) == 13
    week = data["weeks"][0]
    assert set(week) == {"start", "end", "opening_balance", "inflows", "outflows", "net", "closing_balance", "confidence", "low", "high"}
    assert week["start"] == "2026-12-07" and week["end"] == "2026-12-13"
    assert data["weeks"][1]["outflows"] == "43200.00"  # payroll on Tue 15 Dec and Cloud Host
    table = tamio("forecast", "--as-of", "2026-12-07")
    assert table.returncode == 0 and "Cash forecast" in table.stdout and "$45,000.00" in table.stdout


def test_bad_input_is_one_clear_line(tamio) -> None:  # type: ignore[no-untyped-def]
    result = tamio("balance", "set", "Operating", "12,00.5", "USD")
    assert result.returncode == 1 and "12,00.5" in result.stderr and "1,200.50" in result.stderr
    result = tamio("balance", "set", "Operating", "100", "XYZ")
    assert result.returncode == 1 and "XYZ" in result.stderr
    result = tamio("forecast", "--weeks", "0")
    assert result.returncode == 2 and "out of range" in result.stderr


def test_output_piped_into_a_reader_that_stops_early_ends_quietly(tamio, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for day in (2, 3):
        assert tamio("rates", "add", "EUR", "USD", f"1.0{day}", "--date", f"2026-02-0{day}").returncode == 0
    env = {**os.environ, "TAMIO_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db"}
    for command, code in ((["rates", "list"], 1), (["forecast", "--as-of", "2026-12-07"], 1), (["--help"], 0)):
        read_end, write_end = os.pipe()
        os.close(read_end)  # like `| head -0`: whoever reads has gone before the first line
        try:
            done = subprocess.run([sys.executable, "-c", ENTRY, NOW, *command], cwd=tmp_path, env=env, stdout=write_end,
                                  stderr=subprocess.PIPE, text=True, timeout=120)
        finally:
            os.close(write_end)
        assert done.returncode == code and done.stderr == "", (command, done.stderr)

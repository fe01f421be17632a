"""The what-if contracts on the command line: ``tamio forecast --json --what-if ...`` (repeatable) and
``tamio scenario save|list|show|delete``, through the real entry point on a fresh SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from tests.service.cli_runner import Tamio, as_json, fresh_cli

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # a Monday
CSV = """counterparty,kind,amount,currency,frequency,start_date,end_date,day,business_day,calendar,flexibility
Acme Corp,revenue,5000,USD,monthly,2026-12-09,,9,,,
Cloud Host,expense,2500,USD,monthly,2026-12-10,,10,,,can_delay
"""
HIRE = 'expense "New hire" 8000 monthly from 2027-03-01'
LATE = 'late "Acme Corp" 30'


@pytest.fixture
def tamio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Tamio:
    run = fresh_cli(tmp_path, monkeypatch, capsys, now=NOW, database="one.db", account="Acme Ltd")
    (tmp_path / "books.csv").write_text(CSV)
    assert run("import", "obligations", "books.csv")[0] == 0
    assert run("balance", "set", "Operating", "20000", "USD")[0] == 0
    return run



def test_forecast_what_if_prints_the_scenario_beside_the_baseline(tamio: Tamio) -> None:
    plain = as_json(tamio("forecast", "--json"))
    shown = as_json(tamio("forecast", "--json", "--what-if", HIRE, "--what-if", LATE))
    assert shown["baseline_lowest_closing_balance"] == plain["lowest_closing_balance"]
    assert shown["baseline_runway_weeks"] == plain["runway_weeks"]
    for week, real in zip(shown["weeks"], plain["weeks"], strict=True):
        assert week["baseline_closing_balance"] == real["closing_balance"]
        assert Decimal(week["difference"]) == Decimal(week["closing_balance"]) - Decimal(real["closing_balance"])
    # Acme's 9 Dec invoice comes 30 days later: week 1 is 5,000 lower, and the hire costs 8,000 a month from March.
    assert Decimal(shown["weeks"][0]["difference"]) == Decimal("-5000")
    assert Decimal(shown["weeks"][-1]["difference"]) < Decimal("-8000")
    assert shown["changes"] == ["add expense New hire from 1 Mar 2027: $8,000.00 monthly on the 1st", "Acme Corp pays 30 days later"]
    assert as_json(tamio("forecast", "--json")) == plain  # nothing was written


def test_a_month_name_in_a_what_if_is_the_first_of_the_next_such_month(tamio: Tamio) -> None:
    # Issue 21's "from March": on 7 Dec 2026 it is 2027-03-01, the same forecast as the ISO date.
    spoken = as_json(tamio("forecast", "--json", "--what-if", 'expense "New hire" 8000 monthly from March'))
    assert spoken == as_json(tamio("forecast", "--json", "--what-if", HIRE))
    assert spoken["changes"] == ["add expense New hire from 1 Mar 2027: $8,000.00 monthly on the 1st"]
    code, out, err = tamio("forecast", "--json", "--what-if", 'expense "New hire" 8000 monthly from Marhc')
    assert code == 1 and out == "" and err.count("\n") == 1
    assert "I couldn't read 'Marhc' as a date; write it as YYYY-MM-DD, like 2026-12-01, or a month, like March or 15 March." in err


def test_forecast_what_if_as_a_table(tamio: Tamio) -> None:
    code, out, err = tamio("forecast", "--what-if", LATE)
    assert code == 0, err
    assert "Baseline" in out and "Difference" in out and "The lowest point goes from" in out and "runway goes from" in out
    # The scenario's table is not today's forecast: the changes come first and its title says "as if".
    first, _, title = out.splitlines()[:3]
    assert first == "What if: Acme Corp pays 30 days later"
    assert title.startswith("Cash forecast for ") and " as if · 13 weeks from " in title
    assert "Beside today's forecast:" in out


@pytest.mark.parametrize(("what_if", "said"), [
    ('late "Nobody" 3', "There is no client called `Nobody`."),
    ('expense "AWS" 12,00.5', "I couldn't read the amount `12,00.5`."),
    ('late "Acme Corp" soon', "`soon` is not a number of days."),
    ('draw "Operating" 100', "not a credit line"),
    ("teleport 5", "I don't know the what-if `teleport`."),
])
def test_bad_what_ifs_are_one_clear_line(tamio: Tamio, what_if: str, said: str) -> None:
    code, out, err = tamio("forecast", "--json", "--what-if", what_if)
    assert code == 1 and out == ""
    assert said in err and err.count("\n") == 1 and "Traceback" not in err


def test_save_list_show_delete(tamio: Tamio) -> None:
    code, out, err = tamio("scenario", "save", "Hire and Acme late", "--what-if", HIRE, "--what-if", LATE)
    assert code == 0, err
    assert "Saved scenario Hire and Acme late (2 changes)" in out
    listed = as_json(tamio("scenario", "list", "--json"))["scenarios"]
    assert [s["name"] for s in listed] == ["Hire and Acme late"] and len(listed[0]["changes"]) == 2
    shown = as_json(tamio("scenario", "show", "hire and acme late", "--json"))
    direct = as_json(tamio("forecast", "--json", "--what-if", HIRE, "--what-if", LATE))
    assert shown["name"] == "Hire and Acme late"
    assert {k: v for k, v in shown.items() if k != "name"} == direct
    code, out, _ = tamio("scenario", "show", "Hire and Acme late")
    assert code == 0 and "Scenario Hire and Acme late" in out
    assert tamio("scenario", "delete", "Hire and Acme late")[0] == 0
    code, _, err = tamio("scenario", "show", "Hire and Acme late")
    assert code == 1 and "There is no scenario called `Hire and Acme late`." in err
    code, out, _ = tamio("scenario", "list")
    assert code == 0 and "No saved scenarios" in out


def test_a_scenario_naming_an_unknown_client_is_not_saved(tamio: Tamio) -> None:
    code, _, err = tamio("scenario", "save", "Ghost", "--what-if", 'lose "Ghost Ltd"')
    assert code == 1 and "There is no client called `Ghost Ltd`." in err
    assert as_json(tamio("scenario", "list", "--json"))["scenarios"] == []

"""The `tamio` command starts at once: `--help` loads no area and no database library, and a chosen
command loads its own module and what it needs, nothing else (issue 20 item 4; bench/cli.py times it)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tamio.cli import COMMANDS, build_parser

ROOT = Path(__file__).resolve().parents[2]
# Runs the command in a fresh interpreter, then prints the modules it loaded (also when it exits).
PROBE = """import atexit, json, sys
atexit.register(lambda: sys.__stderr__.write("\\nMODULES " + json.dumps(sorted(sys.modules)) + "\\n"))
from tamio.cli import main
sys.exit(main(sys.argv[1:]))
"""
HEAVY = ("sqlalchemy", "aiosqlite", "asyncpg", "alembic", "pydantic", "pydantic_settings", "matplotlib", "babel", "jinja2", "aiohttp",
         "holidays", "tqdm")


def loaded(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    env = {**os.environ, "TAMIO_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db"}
    done = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    line = next(line for line in done.stderr.splitlines() if line.startswith("MODULES "))
    return done, set(json.loads(line.removeprefix("MODULES ")))


def _top_level(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:  # type: ignore[type-arg]
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def test_the_command_index_is_what_the_modules_register() -> None:
    full = _top_level(build_parser())
    assert [(a.dest, a.help) for a in full._choices_actions] == [(name, about) for name, (_, about) in COMMANDS.items()]
    for name, (module, _) in COMMANDS.items():
        handlers = {full.choices[name].get_default("handler"), full.choices[name].get_default("sync_handler")}
        nested = [a for a in full.choices[name]._actions if isinstance(a, argparse._SubParsersAction)]
        for inner in nested:
            handlers |= {p.get_default("handler") for p in inner.choices.values()} | {p.get_default("sync_handler") for p in inner.choices.values()}
        assert {h.__module__ for h in handlers if h is not None} == {f"tamio.cli.{module}"}, name


def test_a_chosen_command_parses_as_with_every_module_loaded() -> None:
    argv = ["--account", "acc_1", "import", "obligations", "--dry-run", "books.csv"]
    lazy, full = build_parser(argv[2]).parse_args(argv), build_parser().parse_args(argv)
    assert vars(lazy) == vars(full)
    assert lazy.file == "books.csv" and lazy.dry_run and lazy.account == "acc_1"


def test_help_loads_no_area_and_no_library(tmp_path: Path) -> None:
    done, modules = loaded(tmp_path, "--help")
    assert done.returncode == 0
    assert all(f"    {name}" in done.stdout for name in COMMANDS)  # every command, with its help
    assert "import data from a file" in done.stdout
    assert not {m for m in modules if m.split(".")[0] in HEAVY}
    assert {m for m in modules if m.startswith("tamio.")} <= {"tamio.cli", "tamio.errors"}


def test_a_command_loads_its_own_module_only(tmp_path: Path) -> None:
    done, modules = loaded(tmp_path, "forecast", "--weeks", "99")  # a usage mistake: nothing past the arguments
    assert done.returncode == 2 and "99 weeks is out of range" in done.stderr
    assert {m for m in modules if m.startswith("tamio.cli.")} == {"tamio.cli.forecast", "tamio.cli.context"}

    done, modules = loaded(tmp_path, "forecast")  # no tables yet: it reaches the database and says so
    assert done.returncode == 1 and "tamio db upgrade" in done.stderr
    assert {"sqlalchemy", "aiosqlite", "tamio.forecast.service"} <= modules
    assert not {m for m in modules if m.split(".")[0] in ("alembic", "matplotlib", "jinja2", "aiohttp", "asyncpg", "tqdm", "holidays")}


@pytest.mark.slow
def test_the_program_exits_quickly_with_its_output_and_status(tmp_path: Path) -> None:
    """``run`` leaves without taking the interpreter apart: what was printed still arrives, whole."""
    env = {**os.environ, "TAMIO_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db"}

    def tamio(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "tamio.cli", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)

    missing = tamio("forecast")
    assert missing.returncode == 1 and "run `tamio db upgrade` first" in missing.stderr
    assert tamio("db", "upgrade").returncode == 0
    for n in range(3):
        assert tamio("account", "create", "--name", f"Shop {n}", "--base-currency", "USD").returncode == 0
    listed = tamio("account", "list", "--json")
    assert listed.returncode == 0
    assert sorted(a["name"] for a in json.loads(listed.stdout)) == ["Shop 0", "Shop 1", "Shop 2"]

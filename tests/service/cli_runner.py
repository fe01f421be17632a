"""The real `tamio` entry point run in-process (``tamio.cli.main(argv, now=...)``) on a fresh SQLite
file in a temporary directory, as a new user would start: ``db upgrade``, then ``account create``.
The forecast and currency settings of the machine running the tests are cleared, so the defaults
are what is tested."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tamio.cli import main

Tamio = Callable[..., tuple[int, str, str]]
CLEARED = ("USE_OBLIGATION_FOR_FORECAST", "USE_OBLIGATION_SYSTEM", "TAMIO_BASE_CURRENCY", "TAMIO_TIMEZONE")


def fresh_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *, now: datetime,
              database: str = "cli.db", account: str = "Acme Ltd") -> Tamio:
    """``run(*argv, now=...)`` -> (exit code, stdout, stderr), on an upgraded database with one account."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TAMIO_DATABASE_URL", f"sqlite:///{tmp_path}/{database}")
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)

    def run(*args: str, now: datetime = now) -> tuple[int, str, str]:
        try:
            code = main(list(args), now=now)
        except SystemExit as exc:
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return code, out.out, out.err

    assert run("db", "upgrade")[0] == 0
    assert run("account", "create", "--name", account, "--base-currency", "USD")[0] == 0
    return run


def as_json(result: tuple[int, str, str]) -> dict[str, Any]:
    code, out, err = result
    assert code == 0, err
    found: dict[str, Any] = json.loads(out)
    return found

"""`tamio client NAME` says what Slack's `/tamio client` says, from the one core summary: how the client
pays, what it owes, and its kind, revenue share and payment risk, each saying what it comes from (the
risk of a client that never paid comes from its open invoices, not an average of payments)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.service.cli_runner import Tamio, fresh_cli

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # a Monday


@pytest.fixture
def tamio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Tamio:
    return fresh_cli(tmp_path, monkeypatch, capsys, now=NOW, database="story.db", account="Acme Ltd")


def test_a_client_that_never_paid_tells_one_story(tamio: Tamio) -> None:
    assert tamio("add", "client", "Late Payer Co", "invoice", "5000", "due", "2026-11-16", "ref", "INV-7")[0] == 0
    code, out, err = tamio("client", "Late Payer Co")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "Late Payer Co: no paid invoices yet: expected on the due date."
    assert lines[-1] == ("Kind: standard (not set) client · 100.0 % of what is expected in the next 12 months · "
                         "payment risk medium from its open invoice, 21 days overdue (no invoice paid in the last 12 months)")

"""`tamio actions list|show` follow a change another edge made a moment ago (Slack, the API), before the
server's loop came round: the command answers the account's waiting refresh before it reads, through the
same core function as Slack and the API (``tamio.scheduler.refresh.up_to_date``).

The old command read first (and drained only after printing), so the chase card of an invoice Slack
had just recorded as paid was still listed as waiting. The real entry point runs in-process on a SQLite
file; the payment is recorded by the core function `/tamio paid` calls, on the same file.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.service.cli_runner import Tamio, fresh_cli

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # a Monday


@pytest.fixture
def tamio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Tamio:
    return fresh_cli(tmp_path, monkeypatch, capsys, now=NOW, database="current.db", account="Acme Ltd")


async def _paid_in_slack(url: str) -> bool:
    """What `/tamio paid "Late Payer Co" 5000 for INV-1042` writes; whether a refresh now waits."""
    import tamio.models  # noqa: F401
    from tamio.accounts.models import Account
    from tamio.cli.context import CliContext
    from tamio.config import Settings
    from tamio.db import create_engine, make_session_factory
    from tamio.obligations.payments import record_payment
    from tamio.refresh.service import waiting

    engine = create_engine(url)
    try:
        sessions = make_session_factory(engine, CliContext(settings=Settings(database_url=url)).secret())
        async with sessions() as session, session.begin():
            account = (await session.execute(select(Account))).scalar_one()
            await record_payment(session, account=account, amount=Decimal("5000"), currency="USD", payment_date=NOW.date(),
                                 invoice="INV-1042", now=NOW)
        async with sessions() as session:
            return bool(await waiting(session, account_ids=[account.id]))
    finally:
        await engine.dispose()


def pending(tamio: Tamio) -> list[dict[str, object]]:
    code, out, err = tamio("actions", "list", "--json")
    assert code == 0, err
    found: list[dict[str, object]] = json.loads(out)
    return found


def test_actions_right_after_a_payment_made_elsewhere_show_the_cards_after_it(tamio: Tamio, tmp_path: Path) -> None:
    assert tamio("balance", "set", "Operating", "20000", "USD")[0] == 0
    assert tamio("add", "client", "Late Payer Co", "invoice", "5000", "due", "2026-11-20", "ref", "INV-1042",
                 "--email", "ap@latepayer.example")[0] == 0
    assert tamio("pipeline", "run")[0] == 0
    [chase] = pending(tamio)
    assert "Late Payer Co" in str(chase["title"])

    assert asyncio.run(_paid_in_slack(f"sqlite:///{tmp_path}/current.db"))
    assert pending(tamio) == []
    code, out, err = tamio("actions", "show", str(chase["id"]), "--json")
    assert code == 0 and json.loads(out)["status"] == "superseded", (out, err)

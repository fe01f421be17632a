"""``tamio actions``: list, show, approve (and carry out), skip, and the automation rules, end to end."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from tamio.accounts.models import Account
from tamio.cli import main
from tamio.db import Base, create_engine, make_session_factory
from tamio.obligations.models import ObligationAgreement, ObligationSchedule
from tests.conftest import secret_for_tests
from tests.service.books import Books
from tests.service.execution_factories import Mailbox, Team, email_option, make_action


async def _books(url: str, *, other_to: str | None = "ap@globex.test") -> dict[str, str]:
    import tamio.models  # noqa: F401  (registers every table)

    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    sessions = make_session_factory(engine, secret_for_tests())
    async with sessions() as session, session.begin():
        team = await Team.open(session)
        chase = await make_action(session, team.account, title="Chase Acme's $4,200", options=[email_option(to="ap@acme.test"), email_option(to="cfo@acme.test")])
        other = await make_action(session, team.account, title="Chase Globex", options=[email_option(to=other_to)])
        ids = {"chase": chase.id, "other": other.id, "maria": team.maria.slack_user_id or "", "account": team.account.id}
    await engine.dispose()
    return ids


async def _asked(url: str, action_id: str) -> None:
    """The action asked Cloud Host to move its 16 Dec payment to 30 Dec (what the delay executor leaves)."""
    engine = create_engine(url)
    sessions = make_session_factory(engine, secret_for_tests())
    async with sessions() as session, session.begin():
        account = (await session.execute(select(Account))).scalars().one()
        books = Books(session, account, date(2026, 12, 7))
        host = await books.expense("Cloud Host", "800", books.every("once", date(2026, 12, 16)))
        schedule = (await session.execute(select(ObligationSchedule).join(
            ObligationAgreement, ObligationAgreement.id == ObligationSchedule.obligation_id).where(
            ObligationAgreement.expense_bucket_id == host.id))).scalars().one()
        schedule.delay_requested_to, schedule.delay_requested_by = date(2026, 12, 30), action_id
    await engine.dispose()


def test_the_actions_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"
    ids = asyncio.run(_books(url))
    with Mailbox() as mailbox:
        for name, value in {"TAMIO_DATABASE_URL": url, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(mailbox.port), "SMTP_SENDER": "tamio@acme.test"}.items():
            monkeypatch.setenv(name, value)

        def tamio(*args: str) -> tuple[int, str, str]:
            code = main(list(args))
            out = capsys.readouterr()
            return code, out.out, out.err

        code, out, _ = tamio("actions", "list")
        assert code == 0 and ids["chase"] in out and "Chase Acme's $4,200" in out and "$4,200.00" in out

        code, out, err = tamio("actions", "approve", ids["chase"], "--option", "2", "--as", ids["maria"], "--body", "Hi, a gentle reminder.")
        assert code == 0, err
        assert "@maria approved option 2" in out and "Done: Chase with a firm email." in out and "emailed cfo@acme.test" in out
        [message] = mailbox.messages
        assert message["To"] == "cfo@acme.test" and str(message.get_payload()).strip() == "Hi, a gentle reminder."

        code, _, err = tamio("actions", "approve", ids["chase"], "--as", "li")
        assert code == 1 and err.startswith("tamio: @maria already approved this at ")
        code, _, err = tamio("actions", "skip", ids["other"], "--as", "vic")
        assert code == 1 and "Only approvers and admins can skip actions; you are a viewer." in err
        code, out, _ = tamio("actions", "skip", ids["other"], "--as", "li", "--reason", "paid by phone")
        assert code == 0 and out.strip() == "@li skipped this: paid by phone"

        code, out, _ = tamio("actions", "show", ids["chase"], "--json")
        shown = json.loads(out)
        assert (shown["status"], shown["decided_by"], shown["edited_body"]) == ("executed", "@maria", "Hi, a gentle reminder.")
        assert [h["event"] for h in shown["history"]] == ["approved", "executing", "email", "executed"]
        code, out, _ = tamio("actions", "show", ids["chase"])
        assert code == 0 and " *2. Chase with a firm email" in out and "Decided by @maria" in out

        code, _, err = tamio("actions", "rules", "set", "payroll", "--auto", "on", "--as", "ada")
        assert code == 1 and "Payroll actions always need an admin's approval; this rule is locked." in err
        code, out, err = tamio("actions", "rules", "set", "payment_batch", "--auto", "on", "--threshold", "5000", "--as", "ada")
        assert code == 0, err
        assert any(line.startswith("payment_batch") and "automatic" in line and "below $5,000.00" in line for line in out.splitlines())
        assert any(line.startswith("payroll") and "LOCKED" in line for line in out.splitlines())
        code, out, _ = tamio("actions", "resume")
        assert code == 0 and "Nothing is waiting" in out

        code, _, err = tamio("actions", "agreed", ids["chase"], "--as", "li")  # issue 19.6: a requested delay marked agreed
        assert code == 1 and "No delay of this action is waiting for the vendor's agreement." in err
        asyncio.run(_asked(url, ids["chase"]))
        code, _, err = tamio("actions", "agreed", ids["chase"], "--as", "vic")
        assert code == 1 and "Only approvers and admins can mark a delay agreed." in err
        code, out, err = tamio("actions", "agreed", ids["chase"], "--as", "li")
        assert code == 0 and out.strip() == "Moved $800.00 from 2026-12-16 to 2026-12-30.", err
    assert len(mailbox.messages) == 1


async def _failed(url: str, action_id: str) -> None:
    from sqlalchemy import update

    from tamio.preparation.models import ActionStatus, PreparedAction

    engine = create_engine(url)
    async with make_session_factory(engine, secret_for_tests())() as session, session.begin():
        await session.execute(update(PreparedAction).where(PreparedAction.id == action_id).values(
            status=ActionStatus.FAILED, last_error="550 mailbox unavailable"))
    await engine.dispose()


def test_a_failed_action_is_pointed_out_below_the_pending_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"
    ids = asyncio.run(_books(url, other_to=None))
    with Mailbox() as mailbox:
        for name, value in {"TAMIO_DATABASE_URL": url, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(mailbox.port)}.items():
            monkeypatch.setenv(name, value)

        def tamio(*args: str) -> tuple[int, str, str]:
            code = main(list(args))
            out = capsys.readouterr()
            return code, out.out, out.err

        # Its client has no address: said before approval, and refused (issue 19 item 5), never accepted and then failing.
        code, out, _ = tamio("actions", "show", ids["other"])
        assert code == 0 and "needs: " in out and "has no email address, so this message cannot be sent." in out
        code, out, err = tamio("actions", "approve", ids["other"], "--as", ids["maria"])
        assert code == 1 and "has no email address, so this message cannot be sent. Nothing was approved." in err, (out, err)
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1
        asyncio.run(_failed(url, ids["other"]))  # as a send the SMTP server refused for good leaves it
        code, out, _ = tamio("actions", "list")
        assert code == 0 and ids["chase"] in out and ids["other"] not in out
        assert out.splitlines()[-1] == "1 failed action needs attention: `tamio actions list --status failed`."
        code, out, _ = tamio("actions", "list", "--status", "failed")
        assert code == 0 and ids["other"] in out and "needs attention" not in out
    assert mailbox.messages == []

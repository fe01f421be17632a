"""A decision made anywhere updates the card everywhere (issue 15, item 2).

Every core flow (approve, skip, edit_draft, retry, expire, an automation rule's approval, and
execution's start, finish and failure) writes the card's ``card_update`` and App Home's
``home_refresh`` outbox rows in the transaction of the change, keyed by the action's version. No
edge adds them: the REST API, the CLI, the scheduler and automation get them as Slack does.
Before, only ``bot/actions/cards.py`` queued them, so an approval through the API or the CLI, an
expiry, or a retry resumed by the scheduler left the card in Slack as it was, and a crash between
execution and the bot's follow-up left it on "Carrying it out...".
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.cli import main
from tamio.data.models import CashAccount
from tamio.db import Base, create_engine, make_session_factory
from tamio.errors import Conflict
from tamio.execution import lifecycle
from tamio.execution.automation import maybe_auto_execute, update_rule
from tamio.execution.drafts import edit_draft
from tamio.execution.service import execute_action, resume_pending_executions
from tamio.execution.transitions import load_action
from tamio.outbox.models import OutboxMessage
from tamio.preparation.models import ActionStatus, PreparedAction
from tamio.scheduler.jobs import JobRun, full_pipeline
from tests.conftest import secret_for_tests
from tests.service.execution_factories import (
    NOW,
    Mailbox,
    Team,
    email_option,
    first_option,
    later,
    make_action,
    option,
    settings_for,
)


async def slack_rows(session: AsyncSession, action_id: str) -> dict[str, set[int]]:
    """The versions of the action for which a card update and a Home refresh are queued."""
    rows = (await session.execute(select(OutboxMessage.kind, OutboxMessage.idempotency_key, OutboxMessage.payload).where(
        OutboxMessage.kind.in_(("card_update", "home_refresh"))))).all()
    found: dict[str, set[int]] = {"card_update": set(), "home_refresh": set()}
    for kind, key, payload in rows:
        if payload.get("action_id") == action_id:
            found[kind].add(int(key.rsplit(":v", 1)[1]))
    return found


def shown(versions: dict[str, set[int]], version: int) -> bool:
    return version in versions["card_update"] and version in versions["home_refresh"]


async def test_approve_skip_and_edit_draft_queue_the_card_and_home_in_their_transaction(session: AsyncSession) -> None:
    team = await Team.open(session)
    chase = await make_action(session, team.account, options=[email_option(to="ap@acme.test")])
    other = await make_action(session, team.account, options=[email_option(to="ap@globex.test")])
    opt = await first_option(session, chase)

    await edit_draft(session, account=team.account, member=team.maria, action_id=chase.id, subject="INV-1", body="Please pay.", now=NOW)
    edited = (await load_action(session, account_id=team.account.id, action_id=chase.id)).version
    assert shown(await slack_rows(session, chase.id), edited)

    decision = await lifecycle.approve(session, account=team.account, member=team.maria, action_id=chase.id, option_id=opt.id, now=later(1), settings=settings_for())
    assert decision.outcome == "approved"
    approved = (await load_action(session, account_id=team.account.id, action_id=chase.id)).version
    assert shown(await slack_rows(session, chase.id), approved) and approved > edited

    await lifecycle.skip(session, account=team.account, member=team.li, action_id=other.id, now=later(2), reason="paid by phone")
    skipped = (await load_action(session, account_id=team.account.id, action_id=other.id)).version
    assert shown(await slack_rows(session, other.id), skipped)

    # A refused decision writes nothing: the second click on a decided card queues no update.
    before = await slack_rows(session, other.id)
    with pytest.raises(Conflict):
        await lifecycle.approve(session, account=team.account, member=team.maria, action_id=other.id, option_id=opt.id, now=later(3), settings=settings_for())
    assert await slack_rows(session, other.id) == before


async def test_the_first_of_two_approvals_updates_the_card_too(session: AsyncSession) -> None:
    team = await Team.open(session)
    big = await make_action(session, team.account, amount="25000", options=[email_option(amount="25000")])
    opt = await first_option(session, big)
    decision = await lifecycle.approve(session, account=team.account, member=team.maria, action_id=big.id, option_id=opt.id, now=NOW, settings=settings_for())
    assert decision.outcome == "awaiting_second_approval"
    assert shown(await slack_rows(session, big.id), (await load_action(session, account_id=team.account.id, action_id=big.id)).version)


async def test_an_expiry_by_the_scheduler_updates_the_card(session: AsyncSession) -> None:
    team = await Team.open(session)
    stale = await make_action(session, team.account, expires_at=NOW - timedelta(minutes=1))
    await session.commit()
    run = JobRun(job="pipeline", slot=NOW, now=NOW, settings=settings_for())
    outcome = await full_pipeline(session, team.account, run)
    assert outcome["expired"] == 1
    action = await load_action(session, account_id=team.account.id, action_id=stale.id)
    assert action.status == ActionStatus.EXPIRED and shown(await slack_rows(session, stale.id), action.version)


async def test_execution_finishes_and_fails_with_the_card_update_in_the_same_transaction(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session, session.begin():
        team = await Team.open(session)
        good = await make_action(session, team.account, options=[email_option(to="ap@acme.test")])
        bakery = await team.books.client("Jo's Bakery", "600", team.books.every("once", date(2026, 12, 1)), contact_email="jo@bakery.test")
        bad = await make_action(session, team.account, options=[email_option(to=None, counterparty_type="client", counterparty_id=bakery.id)])
        for action in (good, bad):
            opt = await first_option(session, action)
            await lifecycle.approve(session, account=team.account, member=team.maria, action_id=action.id, option_id=opt.id, now=NOW, settings=settings_for())
        bakery.contact_email = None  # nobody to send it to by the time it is carried out
        account_id = team.account.id
    with Mailbox() as mailbox:
        settings = settings_for(mailbox.port)
        # Carried out by the API, the CLI or the resume job alike: no Slack code runs here.
        assert (await execute_action(session_factory, account_id=account_id, action_id=good.id, now=later(1), settings=settings)).status == "executed"
        assert (await execute_action(session_factory, account_id=account_id, action_id=bad.id, now=later(1), settings=settings)).status == "failed"
    async with session_factory() as session:
        for action_id, status in ((good.id, ActionStatus.EXECUTED), (bad.id, ActionStatus.FAILED)):
            action = await load_action(session, account_id=account_id, action_id=action_id)
            versions = await slack_rows(session, action_id)
            assert action.status == status and shown(versions, action.version)
            assert len(versions["card_update"]) == 3  # approved, carrying it out, and how it ended


async def test_a_retry_resumed_by_the_scheduler_updates_the_card(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with session_factory() as session, session.begin():
        team = await Team.open(session)
        chase = await make_action(session, team.account, options=[email_option(to="ap@acme.test")])
        opt = await first_option(session, chase)
        await lifecycle.approve(session, account=team.account, member=team.maria, action_id=chase.id, option_id=opt.id, now=NOW, settings=settings_for())
        account_id = team.account.id
    mailbox = Mailbox()  # not started: the mail server is down, so the first attempt fails and is retried
    settings = settings_for(mailbox.port)
    first = await execute_action(session_factory, account_id=account_id, action_id=chase.id, now=NOW, settings=settings)
    assert first.status == "executing" and first.next_attempt_at is not None
    with mailbox:
        resumed = await resume_pending_executions(session_factory, later(5), settings=settings)
    assert [o.status for o in resumed] == ["executed"]
    async with session_factory() as session:
        action = await load_action(session, account_id=account_id, action_id=chase.id)
        assert shown(await slack_rows(session, chase.id), action.version)


async def test_an_automation_rule_updates_the_card_of_what_it_did(session: AsyncSession) -> None:
    team = await Team.open(session)
    await team.books.cash("Operating", "5000")
    await team.books.cash("Savings", "0", account_type="savings")
    cash = {c.name: c.id for c in (await session.execute(select(CashAccount).where(CashAccount.user_id == team.account.id))).scalars()}
    await update_rule(session, account=team.account, member=team.ada, action_type="excess_allocation", auto_execute=True, now=NOW)
    move = await make_action(session, team.account, "excess_cash_allocation", amount="100", options=[
        option("transfer", {"from_cash_account_id": cash["Operating"], "to_cash_account_id": cash["Savings"], "amount": "100"}, amount="100")])
    decision = await maybe_auto_execute(session, account=team.account, action=move, now=NOW, settings=settings_for())
    assert decision is not None and decision.status == "executed"
    assert shown(await slack_rows(session, move.id), (await load_action(session, account_id=team.account.id, action_id=move.id)).version)


def test_an_approval_through_the_cli_queues_the_card_update(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"

    async def books() -> tuple[str, str]:
        import tamio.models  # noqa: F401  (registers every table)

        engine = create_engine(url)
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        async with make_session_factory(engine, secret_for_tests())() as session, session.begin():
            team = await Team.open(session)
            chase = await make_action(session, team.account, options=[email_option(to="ap@acme.test")])
            ids = chase.id, team.maria.slack_user_id or ""
        await engine.dispose()
        return ids

    async def rows(action_id: str) -> tuple[ActionStatus, int, dict[str, set[int]]]:
        engine = create_engine(url)
        async with make_session_factory(engine, secret_for_tests())() as session:
            action = (await session.execute(select(PreparedAction).where(PreparedAction.id == action_id))).scalar_one()
            found = action.status, action.version, await slack_rows(session, action_id)
        await engine.dispose()
        return found

    action_id, maria = asyncio.run(books())
    with Mailbox() as mailbox:
        for name, value in {"TAMIO_DATABASE_URL": url, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(mailbox.port), "SMTP_SENDER": "tamio@acme.test"}.items():
            monkeypatch.setenv(name, value)
        assert main(["actions", "draft", action_id, "--subject", "Invoice 1042", "--body", "Hi Sam, please pay.", "--as", maria]) == 0
        assert "@maria saved an edited draft for option 1" in capsys.readouterr().out
        assert main(["actions", "approve", action_id, "--as", maria]) == 0, capsys.readouterr().err
        [sent] = mailbox.messages
        assert (sent["Subject"], str(sent.get_payload()).strip()) == ("Invoice 1042", "Hi Sam, please pay.")
    status, version, versions = asyncio.run(rows(action_id))
    assert status == ActionStatus.EXECUTED and shown(versions, version)
    assert len(versions["card_update"]) == 4  # the draft, approved, carrying it out, done

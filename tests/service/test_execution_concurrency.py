"""200 pending actions, 1,000 simultaneous approve and skip clicks: one decision each, every effect once.

Several members click at once (double clicks included); every click that approves runs the action
straight away, as the Slack app does, while a resume job sweeps at the same time. Half the
actions move $1.00 from Operating to Savings, half send an email to a real SMTP server on
loopback; a fifth need two approvers. A second process clicks half of them, on both databases.

The clicks also run as a worker process:

    python -m tests.service.test_execution_concurrency URL CLICKS.json SMTP_PORT
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.accounts.models import Account, Member, Role
from tamio.accounts.service import ensure_member
from tamio.audit.verify import verify_chain
from tamio.config import Settings
from tamio.data.models import CashAccount
from tamio.db import create_engine, make_session_factory
from tamio.errors import Conflict
from tamio.execution.lifecycle import approve, skip
from tamio.execution.models import ActionApproval, ExecutionRecord
from tamio.execution.service import execute_action, resume_pending_executions
from tamio.preparation.models import ActionOption, ActionStatus, PreparedAction
from tests.conftest import secret_for_tests
from tests.service.execution_factories import NOW, Mailbox, settings_for

ROOT = Path(__file__).resolve().parents[2]
ACTIONS, CLICKS_PER_ACTION, DUAL_EVERY = 200, 5, 5


# On SQLite one writer at a time holds the lock (BEGIN IMMEDIATE) and the others wait in its busy
# handler, which is not first come, first served: on a saturated machine a click can wait longer than
# the product's 15 s (and fail with "database is locked"). This test counts decisions and effects, not
# waits (speed is bench/'s), so its engines wait as long as it takes.
WRITER_PATIENCE_S = 600.0


def lanes(url: str) -> int:
    """Clicks in flight per process: on SQLite, whose writers queue anyway, more only lengthen the queue."""
    return 2 if url.startswith("sqlite") else 8


@dataclass
class Tally:
    decisions: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"decisions": dict(self.decisions), "refused": dict(self.refused), "errors": self.errors}


async def run_clicks(
    sessions: async_sessionmaker[AsyncSession], *, account_id: str, clicks: list[dict[str, str]], settings: Settings, concurrency: int
) -> Tally:
    """Each click is its own task with its own session; an approval that completes is executed at once.

    Meanwhile the executions sweep runs four times, after each fifth of the clicks has settled, so
    sweeps and executions of clicks still in flight overlap however fast or slow the machine is.
    """
    tally = Tally()
    gate = asyncio.Semaphore(concurrency)
    now = NOW
    settled = 0
    progress = asyncio.Condition()

    async def click(c: dict[str, str]) -> None:
        nonlocal settled
        try:
            await one_click(c)
        finally:
            async with progress:
                settled += 1
                progress.notify_all()

    async def one_click(c: dict[str, str]) -> None:
        async with gate:
            try:
                async with sessions() as session, session.begin():
                    account = await session.get(Account, account_id)
                    member = await session.get(Member, c["member_id"])
                    assert account is not None and member is not None
                    if c["kind"] == "approve":
                        decision = await approve(session, account=account, member=member, action_id=c["action_id"], option_id=c["option_id"], now=now, settings=settings)
                    else:
                        decision = await skip(session, account=account, member=member, action_id=c["action_id"], now=now)
                tally.decisions[decision.outcome] += 1
            except Conflict as exc:  # AlreadyDecided, or the same approver twice
                tally.refused[type(exc).__name__] += 1
                return
            except Exception as exc:  # counted and failed by the test
                tally.errors.append(f"click {c}: {exc!r}")
                return
        if decision.outcome == "approved":
            try:
                await execute_action(sessions, account_id=account_id, action_id=c["action_id"], now=now, settings=settings)
            except Exception as exc:
                tally.errors.append(f"execute {c['action_id']}: {exc!r}")

    async def settled_at_least(count: int) -> None:
        async with progress:
            await progress.wait_for(lambda: settled >= count)

    async def sweeps() -> None:
        for fifth in range(1, 5):
            await settled_at_least(fifth * len(clicks) // 5)
            try:
                await resume_pending_executions(sessions, now, settings=settings, account_id=account_id)
            except Exception as exc:
                tally.errors.append(f"sweep: {exc!r}")

    await asyncio.gather(sweeps(), *(click(c) for c in clicks))
    return tally


async def _setup(sessions: async_sessionmaker[AsyncSession]) -> tuple[str, list[dict[str, str]], dict[str, str]]:
    from tamio.opening import open_account

    rng = random.Random(20261207)
    async with sessions() as session, session.begin():
        account = await open_account(session, name="Busy Ltd", base_currency="USD", now=NOW)
        operating = CashAccount(user_id=account.id, name="Operating", currency="USD", balance=Decimal("1000"), base_currency_amount=Decimal("1000"))
        savings = CashAccount(user_id=account.id, name="Savings", currency="USD", balance=Decimal("0"), base_currency_amount=Decimal("0"), account_type="savings")  # type: ignore[arg-type]
        session.add_all([operating, savings])
        members = [
            await ensure_member(session, account_id=account.id, slack_user_id=f"U{n}", display_name=n, role=Role.ADMIN if n == "ada" else Role.APPROVER, now=NOW)
            for n in ("maria", "li", "ada", "bo", "cy")
        ]
        await session.flush()
        kinds: dict[str, str] = {}
        clicks: list[dict[str, str]] = []
        for n in range(ACTIONS):
            dual = n % DUAL_EVERY == 0
            by_email = n % 2 == 1
            action = PreparedAction(
                user_id=account.id, action_type="invoice_follow_up" if by_email else "excess_cash_allocation",  # type: ignore[arg-type]
                title=f"Action {n}", amount=Decimal("12000" if dual else "100"), currency="USD",
            )
            session.add(action)
            await session.flush()
            # Dual control measures the option's amount: a dual one's option is for $12,000 (the transfer still moves $1).
            at_stake = Decimal("12000" if dual else "1")
            if by_email:
                opt = ActionOption(action_id=action.id, rank=1, kind="send_email", title="Chase", recipient_email=f"ap{n}@client.test",
                                   draft_subject=f"Invoice {n}", draft_body="Please pay.", amount=at_stake, currency="USD")
            else:
                opt = ActionOption(action_id=action.id, rank=1, kind="transfer", title="Move $1", amount=at_stake, currency="USD",
                                   params={"from_cash_account_id": operating.id, "to_cash_account_id": savings.id, "amount": "1.00"})
            session.add(opt)
            await session.flush()
            kinds[action.id] = "email" if by_email else "transfer"
            # Two different approvers approve (so a dual-control action can complete), then three
            # more clicks: approvals or skips by anyone, some repeating an earlier click exactly.
            first, second = rng.sample(members, 2)
            mine = [("approve", first), ("approve", second)]
            while len(mine) < CLICKS_PER_ACTION:
                mine.append(rng.choice(mine) if rng.random() < 0.4 else (rng.choice(["approve", "skip", "approve"]), rng.choice(members)))
            rng.shuffle(mine)
            clicks += [{"action_id": action.id, "option_id": opt.id, "kind": k, "member_id": m.id} for k, m in mine]
        account_id = account.id
    # Interleave actions, but keep each action's clicks close together so they truly collide.
    groups = [clicks[i : i + CLICKS_PER_ACTION] for i in range(0, len(clicks), CLICKS_PER_ACTION)]
    rng.shuffle(groups)
    return account_id, [c for group in groups for c in group], kinds


@pytest.mark.slow
async def test_a_thousand_clicks_one_decision_each_and_every_effect_once(
    db_url: str, session_factory: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    account_id, clicks, kinds = await _setup(session_factory)
    patient = create_engine(db_url, pool_size=8, busy_timeout=WRITER_PATIENCE_S)
    try:
        await _clicks_settle_once_each(db_url, make_session_factory(patient, secret_for_tests()), account_id, clicks, kinds, tmp_path)
    finally:
        await patient.dispose()


async def _clicks_settle_once_each(db_url: str, session_factory: async_sessionmaker[AsyncSession], account_id: str,
                                   clicks: list[dict[str, str]], kinds: dict[str, str], tmp_path: Path) -> None:
    assert len(clicks) == ACTIONS * CLICKS_PER_ACTION == 1000
    started = time.perf_counter()
    with Mailbox() as mailbox:
        settings = settings_for(mailbox.port)
        # A second process clicks half of them at the same time (a second replica, or a CLI user).
        path = Path(tmp_path / "clicks.json")
        path.write_text(json.dumps(clicks[1::2]))
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.service.test_execution_concurrency", db_url, str(path), str(mailbox.port),
            cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        mine, theirs = await asyncio.gather(
            run_clicks(session_factory, account_id=account_id, clicks=clicks[0::2], settings=settings, concurrency=lanes(db_url)),
            worker.communicate(),
        )
        assert worker.returncode == 0, theirs[1].decode()[-3000:]
        other = json.loads(theirs[0].decode().strip().splitlines()[-1])
        await resume_pending_executions(session_factory, NOW, settings=settings)  # nothing should be left, but be sure
    elapsed = time.perf_counter() - started

    assert mine.errors == [] and other["errors"] == [], (mine.errors + other["errors"])[:5]
    decided = mine.decisions + Counter(other["decisions"])
    async with session_factory() as session:
        records = (await session.execute(select(ExecutionRecord.action_id, ExecutionRecord.event))).all()
        per_action = Counter(a for a, e in records if e in ("approved", "skipped"))
        executed = Counter(a for a, e in records if e == "executed")
        actions = {a.id: a for a in (await session.execute(select(PreparedAction).where(PreparedAction.user_id == account_id))).scalars()}
        cash = {c.name: c.balance for c in (await session.execute(select(CashAccount).where(CashAccount.user_id == account_id))).scalars()}
        approvals = Counter((await session.execute(select(ActionApproval.action_id))).scalars())
        audit_ok = (await verify_chain(session, account_id=account_id)).ok
        dual_waiting = int((await session.execute(select(func.count()).select_from(PreparedAction).where(
            PreparedAction.user_id == account_id, PreparedAction.status == ActionStatus.PENDING))).scalar_one())

    # Every action ends with exactly one decision, and every click was answered one way or another.
    assert set(per_action) == set(actions) and set(per_action.values()) == {1} and dual_waiting == 0
    assert decided["approved"] + decided["skipped"] == ACTIONS
    assert sum(decided.values()) + sum(mine.refused.values()) + sum(Counter(other["refused"]).values()) == 1000
    approved = {i for i, a in actions.items() if a.status != ActionStatus.SKIPPED}
    assert approved and len(approved) < ACTIONS  # both kinds of decision happened
    assert all(actions[i].status == ActionStatus.EXECUTED for i in approved)
    assert {i for i in executed} == approved and set(executed.values()) == {1}
    assert all(n <= 2 for n in approvals.values())
    # Every effect exactly once: one dollar per approved transfer, one email per approved email.
    moved = sum(1 for i in approved if kinds[i] == "transfer")
    assert (cash["Operating"], cash["Savings"]) == (Decimal(1000 - moved), Decimal(moved))
    emailed = sorted(f"ap{actions[i].title.split()[-1]}@client.test" for i in approved if kinds[i] == "email")
    assert sorted(str(m["To"]) for m in mailbox.messages) == emailed and len(set(mailbox.message_ids)) == len(emailed)
    assert audit_ok
    print(f"1,000 clicks settled in {elapsed:.1f}s")  # a figure, not a test: speed lives in bench/


async def _worker(url: str, clicks_file: str, smtp_port: int) -> None:
    clicks = json.loads(Path(clicks_file).read_text())
    engine = create_engine(url, pool_size=8, busy_timeout=WRITER_PATIENCE_S)
    sessions = make_session_factory(engine, secret_for_tests())
    async with sessions() as session:
        action = await session.get(PreparedAction, clicks[0]["action_id"])
        assert action is not None
        account_id = action.user_id
    tally = await run_clicks(sessions, account_id=account_id, clicks=clicks, settings=settings_for(smtp_port), concurrency=lanes(url))
    await engine.dispose()
    print(json.dumps(tally.to_json()))


if __name__ == "__main__":
    asyncio.run(_worker(sys.argv[1], sys.argv[2], int(sys.argv[3])))

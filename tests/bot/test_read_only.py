"""Read-only subcommands never queue behind a writer; who may change things is always checked afresh."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select, update

from tamio.accounts.models import Account, Member, Role
from tamio.data.models import CashAccount
from tests.bot.conftest import ADMIN, APPROVER, CHANNEL, VIEWER, BotHarness


def reply_text(reply: object) -> str:
    body = reply.json() or {}  # type: ignore[attr-defined]
    return str(body.get("text", "")) + " " + str(body.get("blocks") or "")


async def test_balance_answers_while_another_transaction_is_writing(bot: BotHarness) -> None:
    await bot.command(ADMIN, 'balance set "Operating" 45000 USD')
    await bot.command(ADMIN, "config set viewers_see_figures on")
    await bot.command(VIEWER, "help")  # the viewer's first request creates their member
    async with bot.sessions() as writer:
        account = (await writer.execute(select(Account))).scalar_one()
        writer.add(CashAccount(user_id=account.id, name="Savings", currency="USD", balance=Decimal("1")))
        await writer.flush()  # on SQLite this transaction now holds the write lock
        # A writing transaction would wait for it (busy_timeout) and end in an apology.
        reply = await bot.sender.slash_command(VIEWER, "balance", CHANNEL)
        await writer.rollback()
    assert reply.status == 200
    text = reply_text(reply)
    assert "Operating" in text and "$45,000.00" in text and "Savings" not in text


async def test_a_role_taken_away_elsewhere_counts_at_once_for_changes(bot: BotHarness) -> None:
    await bot.command(ADMIN, f"role <@{APPROVER}> approver")
    await bot.command(APPROVER, "balance")  # the approver's account and member are now remembered
    async with bot.sessions() as db, db.begin():  # as another replica would: this process is not told
        await db.execute(update(Member).where(Member.slack_user_id == APPROVER).values(role=Role.VIEWER))
    await bot.command(APPROVER, 'balance set "Operating" 45000 USD')
    shown = bot.ephemerals_for(APPROVER)[-1]
    assert "Only approvers and admins can set balances" in shown["text"] + str(shown.get("blocks") or "")
    async with bot.sessions() as db:
        assert (await db.execute(select(CashAccount))).first() is None


async def test_a_role_given_here_counts_at_once(bot: BotHarness) -> None:
    await bot.command(APPROVER, "balance")  # remembered as a viewer
    await bot.command(ADMIN, f"role <@{APPROVER}> approver")
    await bot.command(APPROVER, 'balance set "Operating" 45000 USD')
    async with bot.sessions() as db:
        cash = (await db.execute(select(CashAccount))).scalar_one()
        assert cash.balance == Decimal("45000")

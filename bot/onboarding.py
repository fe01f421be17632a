"""Getting started: a welcome DM to whoever installs Tamio, and an answer to what people write to it.

When a workspace's account is new, its installer (the OAuth installer; with one workspace, the
first Slack admin who uses Tamio) gets a DM, through the outbox in the transaction that makes the
account, that walks through the three things to do: choose the channel (``/tamio digest here``),
check the currency, time zone and number format, and add what the business holds, is owed and
owes (a button opens the Add form). Anything a person writes to Tamio in its Messages tab gets the
help back, since Tamio reads no free text.

    await queue_welcome(db, account=account, user_id="U123", now=now)
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from slack_bolt.async_app import AsyncApp
from sqlalchemy.ext.asyncio import AsyncSession

from bot.blocks.add_form import add_form
from bot.blocks.common import Block, actions, button, context, header, money, section, written_in
from bot.boundary import handler
from bot.commands.help import help_blocks
from bot.runtime import Scope
from tamio.accounts.models import Account
from tamio.accounts.permissions import Operation
from tamio.outbox.service import enqueue

ADD_FROM_WELCOME = "onboarding_add"


def welcome_blocks(account: Account) -> list[Block]:
    with written_in(account.locale):
        example = money(Decimal("1200.50"), account.base_currency)
    return [
        header("Welcome to Tamio"),
        section(f"I keep a 13-week cash forecast for *{account.name}* and tell you before cash runs short, with the "
                "work to fix it ready to approve. Three steps to start:"),
        section("*1. Choose a channel.* In the channel where alerts, action cards and the daily digest should go, "
                "run `/tamio digest here`. I join a public channel by myself; for a private one, `/invite @Tamio` first."),
        section(f"*2. Check how your books are kept.* Amounts in *{account.base_currency}*, written like {example}; "
                f"dates and the 6 AM digest in *{account.timezone}* time. Change them before adding anything: "
                "`/tamio config set base_currency EUR` · `/tamio config set timezone Europe/Paris` · "
                "`/tamio config set locale en_GB`."),
        section("*3. Add what you hold, are owed and owe.* `/tamio balance set \"Operating\" 45000`, then clients, "
                "vendors, payroll and taxes, one at a time in a form:"),
        actions(button("Add an obligation", ADD_FROM_WELCOME, "add", style="primary"), block_id="onboarding_actions"),
        context("Anytime: `/tamio help`, or write to me here."),
    ]


async def queue_welcome(db: AsyncSession, *, account: Account, user_id: str, now: datetime) -> bool:
    """The welcome DM, once per account and person, sent by the outbox after this transaction commits."""
    blocks = welcome_blocks(account)
    return await enqueue(db, account_id=account.id, kind="slack_post", channel=user_id,
                         payload={"text": f"Welcome to Tamio for {account.name}", "blocks": blocks},
                         idempotency_key=f"welcome:{account.id}:{user_id}", now=now)


def register(app: AsyncApp) -> None:
    @handler
    async def add_from_welcome(scope: Scope, client: Any) -> None:
        """The welcome's button: the Add form at once (read-only first: its trigger id lives 3 seconds)."""
        scope.read_only()
        await scope.require(Operation.MANAGE_DATA, "add what the business is owed or owes")
        view = add_form(kind=None, base_currency=scope.account.base_currency, today=scope.today, channel_id=None)
        await scope.commit()
        await client.views_open(trigger_id=scope.caller.trigger_id, view=view)

    @handler
    async def direct_message(scope: Scope, body: dict[str, Any]) -> None:
        """Plain words in Tamio's Messages tab: the help, in the same DM (after the ack)."""
        event = body.get("event") or {}
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id") or not event.get("user"):
            return
        channel = str(event.get("channel") or "")
        scope.read_only()

        async def answer(later: Scope) -> None:
            await later.commit()
            await later.client.chat_postMessage(channel=channel, text="Here is what I understand:",
                                                blocks=[section("I don't read messages, but here is everything I do:"),
                                                        *help_blocks()[1:]])

        scope.later(answer, name="dm-help")

    app.action(ADD_FROM_WELCOME)(add_from_welcome)
    app.event("message")(direct_message)

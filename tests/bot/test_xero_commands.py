"""``/tamio connect xero`` and ``/tamio sync`` over signed HTTP, against the Slack and Xero stand-ins.

The admin's consent link goes to the Xero stand-in, which sends the browser back to the app's own
callback route (served by the same aiohttp server as Slack); ``/tamio sync`` then pulls after the
ack and reports what changed. The Xero stand-in runs on the harness's fixed clock.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from slack_sandbox.standin import SlackStandIn
from tamio.audit.models import AuditLog
from tamio.data.models import Client, ExpenseBucket
from tamio.integrations.connections import RECONNECT_KIND
from tamio.integrations.crypto import TokenCipher
from tamio.integrations.models import IntegrationConnection
from tamio.outbox.models import OutboxMessage
from tests.bot.conftest import ADMIN, APPROVER, CHANNEL, NOW, VIEWER, BotHarness, start_bot
from tests.xero_standin import XeroStandIn

pytestmark = pytest.mark.backends("sqlite", "pg")
LINK = re.compile(r"<(http[^|>]+)\|Connect Xero to Tamio>")


@pytest.fixture
async def xero() -> AsyncIterator[XeroStandIn]:
    async with XeroStandIn(clock=NOW.timestamp) as stand_in:
        yield stand_in


@pytest.fixture
async def xbot(slack: SlackStandIn, session_factory: async_sessionmaker[AsyncSession], xero: XeroStandIn) -> AsyncIterator[BotHarness]:
    async for harness in start_bot(
        slack, session_factory, xero_client_id=xero.client_id, xero_client_secret=xero.client_secret,
        xero_api_base=xero.base_url, xero_identity_base=xero.base_url, xero_login_base=xero.base_url,
        secret_key=TokenCipher.generate_key(),
    ):
        await harness.command(ADMIN, f"role <@{APPROVER}> approver")
        yield harness


def said(bot: BotHarness, user: str) -> str:
    shown = bot.ephemerals_for(user)[-1]
    return shown["text"] + " " + str(shown.get("blocks") or "")


async def connection_of(bot: BotHarness) -> IntegrationConnection | None:
    async with bot.sessions() as db:
        return (await db.execute(select(IntegrationConnection))).scalars().first()


async def connect(bot: BotHarness, xero: XeroStandIn) -> str:
    """The admin's `/tamio connect xero`, then the browser: Xero's consent, back to Tamio's callback."""
    await bot.command(ADMIN, "connect xero")
    match = LINK.search(said(bot, ADMIN))
    assert match is not None, said(bot, ADMIN)
    link = match.group(1).replace("&amp;", "&")
    assert link.startswith(xero.base_url + "/identity/connect/authorize?")
    async with aiohttp.ClientSession() as browser:
        async with browser.get(link, allow_redirects=False) as consent:
            back = consent.headers["Location"]
        assert back.startswith(bot.url + "integrations/xero/callback?")
        async with browser.get(back) as page:
            text = await page.text()
            assert page.status == 200, text
    return text


async def test_an_admin_connects_xero_from_slack_and_others_are_told_to_ask_one(xbot: BotHarness, xero: XeroStandIn) -> None:
    for user in (VIEWER, APPROVER):
        await xbot.command(user, "connect xero")
        shown = said(xbot, user)
        assert ":warning: Only admins can connect Xero" in shown and "ask an admin to run `/tamio connect xero`" in shown
        assert xbot.ephemerals_for(user)[-1]["channel"] == CHANNEL
    assert not [c for c in xero.calls if c.path.startswith("/identity")]

    page = await connect(xbot, xero)
    assert "Xero is connected" in page and "Demo Company (US)" in page
    connection = await connection_of(xbot)
    assert connection is not None and (connection.status, connection.tenant_name) == ("active", "Demo Company (US)")
    assert "at-" not in (connection.access_token_encrypted or "")  # encrypted at rest

    await xbot.command(ADMIN, "connect xero")
    assert "Xero is already connected (Demo Company (US)); this link connects it again" in said(xbot, ADMIN)
    assert "works for 15 minutes" in said(xbot, ADMIN)


async def test_connect_says_which_settings_the_server_lacks(bot: BotHarness) -> None:
    await bot.command(ADMIN, "connect xero")
    shown = said(bot, ADMIN)
    assert ":warning: Xero is not set up on this Tamio server: it needs XERO_CLIENT_ID and XERO_CLIENT_SECRET." in shown
    assert "/integrations/xero/callback" in shown  # the redirect URI to register with Xero
    await bot.command(ADMIN, "connect quickbooks")
    assert "I can't connect `quickbooks`" in said(bot, ADMIN) and "Example: `/tamio connect xero`" in said(bot, ADMIN)


async def test_sync_pulls_after_the_ack_and_reports_what_changed(xbot: BotHarness, xero: XeroStandIn) -> None:
    await connect(xbot, xero)
    today = NOW.date()
    harbour = xero.add_contact(name="Harbour Cafe", email="ap@harbour.test", is_customer=True)
    xero.add_contact(name="Mill Street Deli", is_customer=True)
    flour = xero.add_contact(name="Northern Flour", is_supplier=True)
    invoice = xero.add_invoice(contact_id=harbour, total="1200.00", issue_date=today - timedelta(days=5),
                               due_date=today + timedelta(days=25), number="INV-0101")
    xero.add_invoice(contact_id=flour, total="850.50", issue_date=today - timedelta(days=2),
                     due_date=today + timedelta(days=12), kind="ACCPAY")
    xero.add_payment(invoice_id=invoice, amount="500.00", paid_on=today - timedelta(days=1))

    await xbot.command(VIEWER, "sync")
    assert "Only approvers and admins can sync with Xero" in said(xbot, VIEWER)
    assert not [c for c in xero.calls if c.path.startswith("/api.xro")]

    reply = await xbot.command(APPROVER, "sync")
    assert reply.status == 200 and "Syncing with Xero (Demo Company (US))" in reply.body  # the ack, at once
    report = said(xbot, APPROVER)
    assert ":white_check_mark: Synced with Xero (Demo Company (US)):" in report
    assert "*Contacts*: 2 clients created, 1 suppliers created" in report
    assert "*Invoices and bills*: 1 bills created, 1 invoices created" in report
    assert "*Payments*: 1 payments recorded" in report
    async with xbot.sessions() as db:
        clients = {c.name: c for c in (await db.execute(select(Client))).scalars()}
        suppliers = [b.name for b in (await db.execute(select(ExpenseBucket))).scalars()]
    assert set(clients) == {"Harbour Cafe", "Mill Street Deli"} and suppliers == ["Northern Flour"]
    assert (clients["Harbour Cafe"].source, clients["Harbour Cafe"].locked_fields) == ("xero", ["name"])

    await xbot.command(ADMIN, "sync xero")
    assert "Synced with Xero (Demo Company (US)): nothing changed since the last sync." in said(xbot, ADMIN)


async def test_sync_without_a_connection_says_to_connect_first(xbot: BotHarness, xero: XeroStandIn) -> None:
    await xbot.command(APPROVER, "sync")
    shown = said(xbot, APPROVER)
    assert ":warning: Xero is not connected yet." in shown and "Run `/tamio connect xero` first" in shown
    assert xero.calls == []


async def test_sync_of_a_connection_needing_reconnection_says_so(xbot: BotHarness, xero: XeroStandIn) -> None:
    await connect(xbot, xero)
    async with xbot.sessions() as db, db.begin():
        await db.execute(update(IntegrationConnection).values(status="needs_reconnect"))
    calls = len(xero.calls)
    await xbot.command(APPROVER, "sync")
    shown = said(xbot, APPROVER)
    assert "Xero needs reconnecting" in shown and "An admin reconnects it with `/tamio connect xero`" in shown
    assert len(xero.calls) == calls
    await xbot.command(ADMIN, "connect xero")
    assert "Xero stopped accepting Tamio's access; this link reconnects it." in said(xbot, ADMIN)


async def test_xero_refusing_the_tokens_mid_sync_is_told_to_the_caller_and_once_to_the_channel(
    xbot: BotHarness, xero: XeroStandIn,
) -> None:
    await xbot.command(ADMIN, "digest here")
    await connect(xbot, xero)
    xero._access.clear()  # the access token is refused...
    xero._refresh.clear()  # ...and so is the refresh token: the organisation let Tamio go
    await xbot.command(APPROVER, "sync")
    assert ":warning: Xero no longer accepts Tamio's access to this organisation." in said(xbot, APPROVER)
    assert "An admin reconnects it with `/tamio connect xero`" in said(xbot, APPROVER)
    connection = await connection_of(xbot)
    assert connection is not None and connection.status == "needs_reconnect"
    posted = [m for m in xbot.slack.messages(CHANNEL) if "stopped accepting Tamio's access" in m["text"]]
    assert len(posted) == 1 and "Reconnect with `/tamio connect xero`" in posted[0]["text"]

    await xbot.command(APPROVER, "sync")  # told again to the caller, not to the channel
    assert "needs reconnecting" in said(xbot, APPROVER)
    assert len([m for m in xbot.slack.messages(CHANNEL) if "stopped accepting" in m["text"]]) == 1
    async with xbot.sessions() as db:
        rows = (await db.execute(select(OutboxMessage.status).where(OutboxMessage.kind == RECONNECT_KIND))).scalars().all()
    assert rows == ["delivered"]


async def test_renaming_a_name_xero_owns_is_refused_in_slack(xbot: BotHarness, xero: XeroStandIn) -> None:
    await connect(xbot, xero)
    xero.add_contact(name="Harbour Cafe", is_customer=True)
    await xbot.command(ADMIN, "sync")
    await xbot.command(ADMIN, 'add client "Corner Shop" 300 monthly')
    async with xbot.sessions() as db:
        audits = (await db.execute(select(func.count()).select_from(AuditLog))).scalar_one()

    await xbot.command(APPROVER, 'rename client "harbour cafe" "Harbour Coffee"')
    shown = said(xbot, APPROVER)
    assert ":warning: `name` of Harbour Cafe comes from Xero, which owns it; change it there and sync." in shown
    await xbot.command(APPROVER, 'add client "HARBOUR CAFE" 250 monthly on 1')  # an amount, not a new name
    assert "Added another amount to *Harbour Cafe*" in said(xbot, APPROVER)
    await xbot.command(APPROVER, 'rename client "Corner Shop" "Corner Shop Ltd"')  # Tamio's own: renamed
    assert "Renamed the client *Corner Shop* to *Corner Shop Ltd*" in said(xbot, APPROVER)
    async with xbot.sessions() as db:
        names = sorted(c.name for c in (await db.execute(select(Client))).scalars())
        renames = (await db.execute(select(AuditLog).where(AuditLog.action == "update"))).scalars().all()
        assert (await db.execute(select(func.count()).select_from(AuditLog))).scalar_one() > audits
    assert names == ["Corner Shop Ltd", "Harbour Cafe"]
    assert [a.changes["changes"]["name"]["new"] for a in renames if "name" in a.changes.get("changes", {})] == ["Corner Shop Ltd"]

    await xbot.command(VIEWER, 'rename client "Corner Shop Ltd" "X"')
    assert "Only approvers and admins can rename clients and expenses" in said(xbot, VIEWER)
    await xbot.command(APPROVER, 'rename client "Nobody" "X"')
    assert "There is no client called `Nobody`" in said(xbot, APPROVER)

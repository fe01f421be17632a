"""``/tamio connect xero`` and ``/tamio sync``: link the account to Xero and pull what changed now.

``connect`` (admins) answers with Xero's consent link, sealed for this account and valid for 15
minutes; Xero sends the admin back to ``$TAMIO_PUBLIC_URL/integrations/xero/callback``
(``tamio.integrations.xero.routes``), which stores the connection. ``sync`` (approvers and admins)
checks the connection before the ack, answers at once, and runs ``SyncService`` after the ack in its
own transactions; the caller then hears what changed. A failure after the ack (Xero refused the
tokens, another sync is running) reaches the caller through the runtime's error reporter.

    /tamio connect xero
    /tamio sync
"""

from __future__ import annotations

from collections import defaultdict

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.common import Block, context, escape, section
from bot.boundary import Reply, tell
from bot.commands import parse
from bot.runtime import Scope
from tamio.accounts.permissions import Operation
from tamio.errors import NotFound, ValidationError
from tamio.integrations.connections import ACTIVE, NEEDS_RECONNECT, display_name, get_connection
from tamio.integrations.crypto import TokenCipher
from tamio.integrations.xero.routes import STATE_TTL_SECONDS, connect_url, require_settings
from tamio.integrations.xero.sync import SyncReport, SyncService, build_adapter

# How a sync's counts ("clients created": 2) are grouped in the report.
GROUPS = (("Contacts", ("clients", "suppliers")), ("Invoices and bills", ("invoices", "bills")), ("Payments", ("payments",)))


async def connect_integration(scope: Scope, command: parse.ConnectIntegration, client: AsyncWebClient) -> Reply:
    name = display_name(command.integration)
    await scope.require(Operation.CONNECT_INTEGRATIONS, f"connect {name}; ask an admin to run `/tamio connect {command.integration}`")
    url = connect_url(scope.settings, account_id=scope.account.id, now=scope.now)
    connection = await get_connection(scope.db, account_id=scope.account.id, integration_type=command.integration)
    state = ""
    if connection is not None and connection.status == ACTIVE and connection.tenant_id:
        state = f"{name} is already connected ({escape(connection.tenant_name or 'an organisation')}); this link connects it again. "
    elif connection is not None and connection.status == NEEDS_RECONNECT:
        state = f"{name} stopped accepting Tamio's access; this link reconnects it. "
    minutes = STATE_TTL_SECONDS // 60
    text = (
        f":link: {state}<{escape(url)}|Connect {name} to Tamio>: sign in to {name}, pick your organisation and allow access. "
        f"The link works for {minutes} minutes and only for this workspace."
    )
    blocks: list[Block] = [
        section(text),
        context("Then run `/tamio sync` to pull contacts, invoices and payments (Tamio also syncs every night)."),
    ]
    return Reply(f"Connect {name} to Tamio (the link works for {minutes} minutes): {url}", blocks)


async def sync_integration(scope: Scope, command: parse.SyncIntegration, client: AsyncWebClient) -> Reply:
    name = display_name(command.integration)
    await scope.require(Operation.RUN_CHECKS, f"sync with {name}")
    connection = await get_connection(scope.db, account_id=scope.account.id, integration_type=command.integration)
    if connection is None or connection.status not in (ACTIVE, NEEDS_RECONNECT):
        raise NotFound(f"{name} is not connected yet.",
                       hint=f"Run `/tamio connect {command.integration}` first (an admin), then `/tamio sync`.")
    if connection.status == NEEDS_RECONNECT:
        raise ValidationError(f"{name} needs reconnecting: it stopped accepting Tamio's access, so syncing has paused.",
                              hint=f"An admin reconnects it with `/tamio connect {command.integration}`; then run `/tamio sync`.")
    if not connection.tenant_id:
        raise ValidationError(f"No {name} organisation is chosen yet.",
                              hint=f"An admin runs `/tamio connect {command.integration}` again and picks one.")
    require_settings(scope.settings)
    organisation = connection.tenant_name or name
    account_id = scope.account.id

    async def work(later: Scope) -> None:
        await later.commit()  # the sync keeps its own transactions; none stays open across calls to Xero
        runtime = later.runtime
        async with aiohttp.ClientSession() as http:
            service = SyncService(
                runtime.sessions, account_id=account_id, settings=later.settings,
                adapter=build_adapter(http, later.settings, now=runtime.clock),
                cipher=TokenCipher.from_settings(later.settings), clock=runtime.clock,
            )
            report = await service.sync()
        text = sync_report(report, organisation=organisation, integration=name)
        await tell(later.caller, later.client, text, blocks=[section(text)])

    scope.later(work, name=f"sync-{command.integration}")
    text = f":arrows_counterclockwise: Syncing with {name} ({escape(organisation)})… I'll tell you what changed."
    return Reply(text, [section(text)])


def sync_report(report: SyncReport, *, organisation: str, integration: str = "Xero") -> str:
    """What a sync changed, grouped: contacts, invoices and bills, payments."""
    grouped: dict[str, list[str]] = defaultdict(list)
    for key, count in sorted(report.counts.items()):
        if not count:
            continue
        stream = key.split(" ", 1)[0]
        group = next((label for label, streams in GROUPS if stream in streams), "Other")
        grouped[group].append(f"{count} {key}")
    if grouped:
        lines = [f"• *{label}*: {', '.join(grouped[label])}" for label, _ in (*GROUPS, ("Other", ())) if grouped.get(label)]
        text = f":white_check_mark: Synced with {integration} ({escape(organisation)}):\n" + "\n".join(lines)
    else:
        text = f":white_check_mark: Synced with {integration} ({escape(organisation)}): nothing changed since the last sync."
    if not report.complete:
        wait = f"{report.retry_after or 60:.0f}"
        text += (f"\n:hourglass: {integration} asked Tamio to slow down, so this sync stopped part-way. "
                 f"Run `/tamio sync` again in {wait} seconds or more; it carries on where this one stopped.")
    if report.errors:
        shown = "; ".join(escape(e) for e in report.errors[:5])
        more = f" (and {len(report.errors) - 5} more)" if len(report.errors) > 5 else ""
        text += f"\n:warning: {len(report.errors)} record{'s' if len(report.errors) != 1 else ''} could not be applied: {shown}{more}"
    return text[:2900]

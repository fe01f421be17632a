"""``/tamio``: one slash command, read by ``parse`` and routed to one small function per subcommand.

Each subcommand function takes the request's scope and the parsed command and returns what to
answer (``bot.boundary.Reply``); the boundary commits, acks and turns errors into ephemeral
messages. Slow subcommands (forecast, run, sync) answer at once and finish in ``Scope.later``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.boundary import Answer, handler
from bot.commands import data, forecast, integrations, parse, queue, settings, tokens
from bot.commands.help import help_reply
from bot.runtime import Scope

Route = Callable[[Scope, Any, AsyncWebClient], Awaitable[Answer]]


async def _help(scope: Scope, command: Any, client: AsyncWebClient) -> Answer:
    return help_reply()


ROUTES: dict[type, Route] = {
    parse.ShowHelp: _help,
    parse.ShowForecast: forecast.show_forecast,
    parse.ShowAccuracy: forecast.show_accuracy,
    parse.ShowClient: data.show_client,
    parse.OpenAddForm: data.open_add_form,
    parse.AddObligation: data.add_from_command,
    parse.ListBalances: data.list_balances,
    parse.SetBalance: data.set_cash_balance,
    parse.RecordPaid: data.record_paid,
    parse.ShowAlerts: queue.show_alerts,
    parse.ShowActions: queue.show_actions,
    parse.RunPipeline: queue.run_now,
    parse.ShowConfig: settings.show_config,
    parse.SetConfig: settings.set_config,
    parse.DigestHere: settings.digest_here,
    parse.SetRole: settings.set_member_role,
    parse.RenameCounterparty: data.rename_counterparty,
    parse.SetContact: data.set_contact,
    parse.ConnectIntegration: integrations.connect_integration,
    parse.SyncIntegration: integrations.sync_integration,
    parse.CreateToken: tokens.create_api_token,
    parse.ListTokens: tokens.list_api_tokens,
    parse.RevokeToken: tokens.revoke_api_token,
    parse.SetRate: data.set_rate,
}


# Subcommands whose listener only reads: their transaction never queues behind a writer (and
# cannot write; anything slow or writing runs in ``Scope.later``, in a scope of its own).
READ_ONLY: frozenset[type] = frozenset({
    parse.ShowHelp, parse.ShowForecast, parse.ShowAccuracy, parse.ShowClient, parse.ListBalances, parse.ShowAlerts,
    parse.ShowActions, parse.RunPipeline,
})


@handler
async def tamio_command(scope: Scope, body: dict[str, Any], client: AsyncWebClient) -> Answer:
    command = parse.parse(str(body.get("text") or ""), today=scope.today, base_currency=scope.account.base_currency)
    if type(command) in READ_ONLY:
        scope.read_only()
    route = ROUTES[type(command)]
    return await route(scope, command, client)


def register(app: AsyncApp) -> None:
    app.command("/tamio")(tamio_command)

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

from bot.blocks.common import context, section
from bot.boundary import Answer, Reply, handler
from bot.commands import data, forecast, integrations, parse, profile, queue, settings, tokens, whatif
from bot.commands.help import help_reply
from bot.queries import count_open_alerts, count_pending
from bot.runtime import Scope
from tamio.accounts.models import Role
from tamio.accounts.privacy import FIGURES_FOR_VIEWERS_HINT, attention_line, may_see_figures
from tamio.accounts.service import get_user_configuration

Route = Callable[[Scope, Any, AsyncWebClient], Awaitable[Answer]]


async def _help(scope: Scope, command: Any, client: AsyncWebClient) -> Answer:
    return help_reply()


ROUTES: dict[type, Route] = {
    parse.ShowHelp: _help,
    parse.ShowForecast: forecast.show_forecast,
    parse.ShowWhatIf: whatif.show_what_if,
    parse.ShowAccuracy: forecast.show_accuracy,
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
    parse.ShowRules: settings.show_rules,
    parse.SetRule: settings.set_rule,
    parse.ShowClient: profile.show_client,
    parse.SetClientRelationship: profile.set_client_relationship,
    parse.SetVendorTerms: profile.set_vendor,
    parse.ShowDetection: profile.show_detection,
    parse.SetDetection: profile.set_detection,
}


# Subcommands whose listener only reads: their transaction never queues behind a writer (and
# cannot write; anything slow or writing runs in ``Scope.later``, in a scope of its own).
READ_ONLY: frozenset[type] = frozenset({
    parse.ShowHelp, parse.ShowForecast, parse.ShowWhatIf, parse.ShowAccuracy, parse.ShowClient, parse.ListBalances, parse.ShowAlerts,
    parse.ShowActions, parse.RunPipeline, parse.ShowRules, parse.ShowDetection,
    parse.OpenAddForm,  # a modal opens before any write could wait for the lock: its trigger id lives 3 s
})


# Subcommands that show the business's figures: a viewer sees them only where the account allows it.
FIGURES: frozenset[type] = frozenset({
    parse.ShowForecast, parse.ShowWhatIf, parse.ListBalances, parse.ShowAlerts, parse.ShowActions, parse.RunPipeline, parse.ShowConfig,
    parse.ShowDetection,
})


async def figures_hidden(scope: Scope) -> Reply | None:
    """For a viewer the account hides figures from: only whether something needs attention."""
    if scope.member is not None and scope.member.role != Role.VIEWER:
        return None
    config = await get_user_configuration(scope.db, account_id=scope.account.id)
    role = scope.member.role if scope.member is not None else None
    if may_see_figures(role, viewers_see_figures=config.viewers_see_figures):
        return None
    await scope.current_figures()  # whether something needs attention follows the changes already made
    alerts = sum((await count_open_alerts(scope.db, account_id=scope.account.id)).values())
    line = attention_line(open_alerts=alerts, pending_actions=await count_pending(scope.db, account_id=scope.account.id))
    return Reply(line, [section(line), context(FIGURES_FOR_VIEWERS_HINT)])


@handler
async def tamio_command(scope: Scope, body: dict[str, Any], client: AsyncWebClient) -> Answer:
    command = parse.parse(str(body.get("text") or ""), today=scope.today, base_currency=scope.account.base_currency)
    if type(command) in READ_ONLY:
        scope.read_only()
    if type(command) in FIGURES:
        hidden = await figures_hidden(scope)
        if hidden is not None:
            return hidden
    route = ROUTES[type(command)]
    return await route(scope, command, client)


def register(app: AsyncApp) -> None:
    app.command("/tamio")(tamio_command)

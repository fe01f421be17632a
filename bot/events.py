"""The workspace removing Tamio: ``app_uninstalled``, and ``tokens_revoked`` for the bot's token.

Both pause the account (``tamio.accounts.installation``): the scheduler, automation and the outbox
stop for it, and its data is kept for the retention period (``TAMIO_UNINSTALL_RETENTION_DAYS``).
With several workspaces the stored installation (the token) is deleted too; a user token revoked
alone only removes that user's installation. Installing Tamio again resumes the account (the OAuth
install in ``bot.oauth``; with one workspace, its next request). These listeners are registered in
both modes, so Slack never gets a 404 for the events it sends.

Retried events are dropped before any listener runs (``bot.workspace``); App Home is ``bot.home``.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.boundary import handler
from bot.runtime import Scope
from tamio.accounts.installation import deactivate_account

log = logging.getLogger("tamio.bot")


def register(app: AsyncApp) -> None:
    store = app.installation_store

    @handler
    async def app_uninstalled(scope: Scope, body: dict[str, Any]) -> None:
        await scope.fresh()
        if await deactivate_account(scope.db, account=scope.account, reason="app_uninstalled", now=scope.now):
            log.info("workspace %s removed Tamio: account %s paused", scope.caller.team_id, scope.account.id)
        scope.changed_workspace()
        if store is not None:
            team, enterprise = scope.caller.team_id, scope.caller.enterprise_id
            scope.after_commit(lambda: store.async_delete_all(enterprise_id=enterprise, team_id=team))

    @handler
    async def tokens_revoked(scope: Scope, body: dict[str, Any]) -> None:
        tokens = (body.get("event") or {}).get("tokens") or {}
        team, enterprise = scope.caller.team_id, scope.caller.enterprise_id
        if tokens.get("bot"):
            await scope.fresh()
            await deactivate_account(scope.db, account=scope.account, reason="tokens_revoked", now=scope.now)
            scope.changed_workspace()
            if store is not None:
                scope.after_commit(lambda: store.async_delete_bot(enterprise_id=enterprise, team_id=team))
        if store is not None:
            for user in tokens.get("oauth") or []:
                scope.after_commit(lambda user=user: store.async_delete_installation(
                    enterprise_id=enterprise, team_id=team, user_id=user))

    app.event("app_uninstalled")(app_uninstalled)
    app.event("tokens_revoked")(tokens_revoked)

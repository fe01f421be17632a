"""Events besides App Home: uninstalls and revoked tokens remove the stored installation.

Retried events are dropped before any listener runs (``bot.workspace``); App Home is ``bot.home``.
"""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp


def register(app: AsyncApp) -> None:
    if app.installation_store is not None:
        app.enable_token_revocation_listeners()

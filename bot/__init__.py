"""The Slack adapter: ``create_app(settings, session_factory, client=None)`` builds the Bolt app.

Imports point one way: ``bot`` uses ``tamio``, never the reverse. ``bot.server.build_web_app``
wraps the app in the aiohttp server ``tamio serve`` runs.

    from bot import create_app
    app = create_app(settings, sessions)
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_web_app", "create_app"]


def __getattr__(name: str) -> Any:  # start-up cost: imported on first use, `import bot.blocks` needs no Bolt app
    if name == "create_app":
        from bot.app import create_app

        return create_app
    if name == "build_web_app":
        from bot.server import build_web_app

        return build_web_app
    raise AttributeError(name)

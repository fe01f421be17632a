"""Tamio's REST API, mounted at ``/api/v1`` on the same aiohttp server as the Slack app.

Why a sub-application: its error middleware (problem JSON) and its settings stay inside
``/api/v1`` and never touch Slack's routes. Every route is declared once in a ``Router`` (see
``registry``) with its role and pydantic models; the same declarations serve requests and the
OpenAPI 3.1 document at ``GET /api/v1/openapi.json``.

    app = web.Application()                     # or the Slack app's aiohttp application
    tamio.api.install(app, settings, session_factory)
    web.run_app(app, host="127.0.0.1", port=3000)

Security: a bearer token (``tamio token create --member ID``) acts as one member of one account,
with that member's role: viewers read; approvers also decide on actions, run the pipeline and
change clients, expenses, payments and balances; admins also change the configuration and the
exchange rates. Any id of another account is 404.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.api.openapi import PREFIX, build_document
from tamio.api.problems import problem_middleware
from tamio.api.registry import CLOCK, RATE_FEED, SESSIONS, SETTINGS, Route, endpoint
from tamio.api.routes import (
    automation,
    config,
    counterparties,
    delays,
    detection,
    money,
    obligations,
    pipeline,
    scenarios,
)
from tamio.config import Settings
from tamio.currency.feed import RateFeed
from tamio.db import utcnow

OPENAPI_KEY = web.AppKey("tamio_openapi", str)


def all_routes() -> list[Route]:
    """Every API route, in the order the OpenAPI document lists them."""
    modules = (pipeline, delays, automation, detection, config, counterparties, obligations, money, scenarios)
    return [route for module in modules for route in module.router.routes]


def openapi_document() -> dict[str, Any]:
    return build_document(all_routes())


async def _serve_openapi(request: web.Request) -> web.Response:
    return web.Response(text=request.app[OPENAPI_KEY], content_type="application/json")


def create_api(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession], *, clock: Callable[[], datetime] = utcnow
) -> web.Application:
    """The ``/api/v1`` sub-application on its own (``install`` mounts it); ``clock`` is read once per request."""
    api = web.Application(middlewares=[problem_middleware])
    api[CLOCK] = clock
    api[SETTINGS] = settings
    api[SESSIONS] = session_factory
    api[RATE_FEED] = RateFeed(settings.ecb_feed_url)
    routes = all_routes()
    for route in routes:
        api.router.add_route(route.method, route.path, endpoint(route), name=route.operation_id)
    api[OPENAPI_KEY] = json.dumps(build_document(routes))
    api.router.add_get("/openapi.json", _serve_openapi, name="openapi")
    return api


def install(
    app: web.Application, settings: Settings, session_factory: async_sessionmaker[AsyncSession], *,
    clock: Callable[[], datetime] = utcnow,
) -> web.Application:
    """Mount the API at ``/api/v1`` on ``app`` (before it starts); returns the sub-application."""
    api = create_api(settings, session_factory, clock=clock)
    app.add_subapp(PREFIX, api)
    return api


__all__ = ["all_routes", "create_api", "install", "openapi_document"]

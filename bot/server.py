"""The aiohttp application ``tamio serve`` runs: Slack, health, charts, and whatever other issues add.

Routes: ``POST /slack/events`` (every command, interaction and event; ``bot.gate`` checks the
signature, the body and replays before Bolt sees it), ``GET /slack/install`` and ``/slack/oauth_redirect`` (Bolt's OAuth flow when
SLACK_CLIENT_ID/SECRET are set; otherwise a page saying the app serves one workspace),
``GET /healthz``, ``GET /charts/<token>.png`` (App Home's chart), Xero's OAuth callback
(``/integrations/xero/callback``, where ``/tamio connect xero``'s link comes back) and the REST API
(``tamio.api``, at ``/api/v1``). At start-up the outbox delivery worker starts, then the scheduler
(``bot.scheduling``), unless ``run_delivery=False`` (bot tests that deliver by hand): then neither
runs. At clean-up the scheduler stops, then the worker, and the after-ack tasks are drained.

More installers (``install(app, settings, session_factory)``) can be passed in; they can reach the
Bolt app and the runtime through the ``BOLT_APP`` and ``RUNTIME`` keys, and ``BACKGROUND`` says
whether this server runs background work.

    web_app = build_web_app(settings, sessions)            # then web.run_app(web_app, port=3000)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import scheduling
from bot.app import TamioApp, create_app
from bot.charts import warm_up
from bot.delivery import DeliveryWorker
from bot.forecasting import draw, load_forecast
from bot.gate import SlackGate
from bot.runtime import Runtime
from tamio import api
from tamio.accounts.models import Account
from tamio.config import Settings
from tamio.db import read_only
from tamio.errors import PermissionDenied
from tamio.integrations.xero import routes as xero_routes
from tamio.process import settle_heap

log = logging.getLogger("tamio.serve")

BOLT_APP = web.AppKey("bolt_app", TamioApp)
RUNTIME = web.AppKey("runtime", Runtime)
WORKER = web.AppKey("delivery_worker", DeliveryWorker)
BACKGROUND = web.AppKey("background", bool)  # whether this server runs background work (delivery, scheduler)
Installer = Callable[[web.Application, Settings, async_sessionmaker[AsyncSession]], Any]
EVENTS_PATH = "/slack/events"
DELIVERY_STOP_TIMEOUT_S = 10.0  # how long stopping waits for the delivery batch in flight


def build_web_app(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    client: AsyncWebClient | None = None,
    *,
    app: TamioApp | None = None,
    installers: Sequence[Installer] | None = None,
    run_delivery: bool = True,
) -> web.Application:
    bolt = app or create_app(settings, session_factory, client)
    web_app = web.Application()
    web_app.router.add_post(EVENTS_PATH, SlackGate(bolt, settings.slack_signing_secret).handle)
    if bolt.oauth_flow is not None:  # Bolt's own install and redirect pages
        oauth_pages = bolt.server(path=EVENTS_PATH)
        web_app.router.add_get(bolt.oauth_flow.install_path, oauth_pages.handle_get_requests)
        web_app.router.add_get(bolt.oauth_flow.redirect_uri_path, oauth_pages.handle_get_requests)
    web_app[BOLT_APP] = bolt
    web_app[RUNTIME] = bolt.runtime
    web_app.router.add_get("/healthz", _healthz)
    web_app.router.add_get("/charts/{token}", _chart)
    xero_routes.install(web_app, settings, session_factory, clock=bolt.runtime.clock)
    if bolt.oauth_flow is None:
        web_app.router.add_get("/slack/install", _single_workspace)
        web_app.router.add_get("/slack/oauth_redirect", _single_workspace)
    worker = DeliveryWorker(bolt.runtime, bolt.client, bolt.bot_tokens, bolt.charts)
    web_app[WORKER] = worker
    web_app[BACKGROUND] = run_delivery
    if run_delivery:
        web_app.cleanup_ctx.append(_delivery(worker))
    web_app.on_startup.append(_warm_up)
    web_app.on_shutdown.append(_drain)
    api.install(web_app, settings, session_factory, clock=bolt.runtime.clock)
    if run_delivery:  # after the worker's context: the scheduler rings its doorbell, and stops first
        web_app.cleanup_ctx.append(scheduling.scheduler_context(bolt.runtime, settings, session_factory))
    for install in installers or ():
        install(web_app, settings, session_factory)
    return web_app


async def _healthz(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    try:
        async with runtime.sessions() as db:
            await db.execute(text("SELECT 1"))
    except Exception as exc:
        log.warning("health check: database unavailable: %r", exc)
        return web.json_response({"ok": False, "database": "unavailable"}, status=503)
    return web.json_response({"ok": True, "database": "ok"})


async def _chart(request: web.Request) -> web.Response:
    bolt, runtime = request.app[BOLT_APP], request.app[RUNTIME]
    now = runtime.clock()
    try:
        wanted = bolt.charts.verify(request.match_info["token"], now=now)
    except PermissionDenied as exc:
        return web.Response(status=404, text=exc.message)
    async with runtime.sessions() as db:
        read_only(db)  # a GET: the chart is drawn from what is stored
        account = await db.get(Account, wanted.account_id)
        if account is None:
            return web.Response(status=404, text="no such account")
        today = now.astimezone(ZoneInfo(account.timezone)).date()
        forecast = await load_forecast(db, account=account, settings=runtime.settings, today=today, weeks=wanted.weeks,
                                       as_of=wanted.as_of)
    png = await draw(forecast)
    return web.Response(body=png, content_type="image/png", headers={"Cache-Control": "private, max-age=300"})


async def _single_workspace(request: web.Request) -> web.Response:
    return web.Response(
        status=404, content_type="text/plain",
        text="This Tamio serves one Slack workspace (SLACK_BOT_TOKEN). To install it in several workspaces, "
             "set SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and TAMIO_SECRET_KEY.",
    )


def _delivery(worker: DeliveryWorker) -> Callable[[web.Application], Any]:
    async def context(app: web.Application) -> Any:
        stop = asyncio.Event()
        task = asyncio.ensure_future(worker.run_forever(stop))
        yield
        stop.set()
        try:
            await asyncio.wait_for(task, timeout=DELIVERY_STOP_TIMEOUT_S)
        except TimeoutError:
            # Slack (or the database) is slow to answer the batch in flight: stop anyway. Its rows stay
            # in the outbox, leased, and the next start delivers them once the lease runs out.
            log.warning("stopped the delivery worker in the middle of a batch after %s s; "
                        "what it was sending stays in the outbox for the next start", DELIVERY_STOP_TIMEOUT_S)

    return context


async def _warm_up(app: web.Application) -> None:
    await asyncio.to_thread(warm_up)
    global _frozen
    if not _frozen:  # once per process (a test run starts many apps)
        # What start-up loaded (modules, matplotlib, mappers) lives as long as the process: keep it
        # out of the collector's reach, or each full collection walks all of it while requests
        # wait (pauses of 200 ms and more under bench/ack_latency.py before this).
        settle_heap()
        _frozen = True


_frozen = False


async def _drain(app: web.Application) -> None:
    runtime = app[RUNTIME]
    try:
        await runtime.drain(timeout=10)
    except TimeoutError:
        log.warning("stopping with after-ack work still running; cancelling it")
        await runtime.cancel_all()

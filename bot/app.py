"""``create_app(settings, session_factory, client=None) -> AsyncApp``: the Slack app, built per call.

No module-level app: the entry point (``tamio serve``, a test, the sandbox) builds one with its
settings, its database and, optionally, its Web API client (tests point it at the local Slack
stand-in). Bolt runs with ``process_before_response=True`` so each response leaves as soon as
the listener returns (Bolt's other mode polls for ``ack()`` every 10 ms); listeners ack within a few
milliseconds and hand slow work to ``Scope.later``. Each feature module has ``register(app)``.

    app = create_app(Settings(), make_session_factory(create_engine(url)))
    web_app = bot.server.build_web_app(settings, sessions, app=app)
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import boundary, events, home, oauth, onboarding, shortcuts, workspace
from bot.actions import cards as card_actions
from bot.actions import duplicates as duplicate_actions
from bot.actions import forecast as forecast_actions
from bot.charts import ChartLinks
from bot.commands import register as register_commands
from bot.commands import whatif
from bot.runtime import Clock, Runtime, Scope
from bot.views import add as add_view
from bot.views import draft as draft_view
from bot.views import settings as settings_view
from bot.views import terms as terms_view
from tamio.config import Settings
from tamio.db import utcnow

log = logging.getLogger("tamio.bot")


class TamioApp(AsyncApp):
    """An AsyncApp that answers Slack within its 3 seconds whatever the request waits for, and closes
    each request's database scope, whatever the listeners did.

    A request not answered by ``Runtime.ack_deadline_s`` (waiting for SQLite's write lock, or for a
    pool connection while others wait for it) is answered "Working on it…" (``boundary.working_on_it``)
    and goes on; its listener then sends its answer through the response URL (``bot.boundary``).
    """

    runtime: Runtime
    charts: ChartLinks
    bot_tokens: oauth.BotTokens

    async def async_dispatch(self, req: AsyncBoltRequest) -> BoltResponse:
        work = asyncio.ensure_future(self._dispatch(req))
        while True:
            try:
                return await asyncio.wait_for(asyncio.shield(work), timeout=self.runtime.ack_deadline_s)
            except TimeoutError:
                if req.context.get(boundary.ACKED):
                    continue  # the listener has answered; only its clean-up is left: wait for the response
                req.context[boundary.ANSWERED_EARLY] = True
                self.runtime.spawn(_finish(work), name="answered-early")
                body, content_type = boundary.working_on_it(req.body)
                return BoltResponse(status=200, body=body, headers={"content-type": [content_type]})

    def _handle_unmatched_requests(self, req: AsyncBoltRequest, resp: BoltResponse) -> BoltResponse:
        """Bolt's "Unhandled request" warning (with a listener to add for ``/tamio``), except for a request
        the app answered itself at its deadline: its listener ran and answered through the response URL,
        so it never acked (under a long write, every slow command logged the warning and its suggestion)."""
        if req.context.get(boundary.ANSWERED_EARLY):
            return resp
        return super()._handle_unmatched_requests(req, resp)

    async def _dispatch(self, req: AsyncBoltRequest) -> BoltResponse:
        try:
            return await super().async_dispatch(req)
        finally:
            scope = req.context.get("scope")
            if isinstance(scope, Scope):
                await scope.close()


async def _finish(work: asyncio.Future[BoltResponse]) -> None:
    await work


def build_client(settings: Settings, client: AsyncWebClient | None = None) -> AsyncWebClient:
    """The Web API client: Slack's (or the stand-in's) base URL, retrying 429s after Retry-After."""
    if client is None:
        client = AsyncWebClient(
            token=None if oauth.multi_workspace(settings) else settings.slack_bot_token,
            base_url=settings.slack_api_url,
        )
    if not any(isinstance(h, AsyncRateLimitErrorRetryHandler) for h in client.retry_handlers):
        client.retry_handlers.append(
            AsyncRateLimitErrorRetryHandler(max_retry_count=2, interval_calculator=BackoffRetryIntervalCalculator(backoff_factor=0.5))
        )
    return client


def create_app(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    client: AsyncWebClient | None = None,
    *,
    clock: Clock | None = None,
) -> TamioApp:
    client = build_client(settings, client)
    options: dict[str, Any] = {}
    if oauth.multi_workspace(settings):
        oauth_settings, authorize = oauth.build_oauth(settings, session_factory, client, clock or utcnow)
        options.update(oauth_settings=oauth_settings, authorize=authorize)
        rotator = AsyncTokenRotator(client_id=settings.slack_client_id or "", client_secret=settings.slack_client_secret or "",
                                    client=AsyncWebClient(base_url=settings.slack_api_url))
        tokens: oauth.BotTokens = oauth.InstalledTokens(oauth_settings.installation_store, rotator)
    elif client.token:
        tokens = oauth.SingleWorkspaceToken(client.token)
    else:
        raise ValueError(
            "Slack needs credentials: set SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID and "
            "SLACK_CLIENT_SECRET (install in several workspaces)."
        )
    bolt_log = logging.getLogger("tamio.bolt")
    # Bolt takes SLACK_BOT_TOKEN from the environment when no token is passed, and then warns that the
    # client (which already carries the token from the settings, or none when installed in several
    # workspaces) wins over it. Nothing is wrong: keep that one start-up line out of the log.
    bolt_log.addFilter(_token_skipped)
    try:
        app = TamioApp(
            name="tamio",
            client=client,
            signing_secret=settings.slack_signing_secret or "",
            process_before_response=True,
            logger=bolt_log,
            **options,
        )
    finally:
        bolt_log.removeFilter(_token_skipped)
    app.runtime = Runtime(settings, session_factory, clock, resolve=workspace.resolve, report_error=boundary.report_error)
    app.charts = ChartLinks(settings)
    app.bot_tokens = tokens
    app.use(workspace.build_middleware(app.runtime))
    register_features(app)

    @app.error
    async def last_resort(error: Exception, body: dict[str, Any]) -> None:
        log.error("unhandled Slack request error: %r (type %s)", error, body.get("type") or body.get("command"))

    return app


def _token_skipped(record: logging.LogRecord) -> bool:
    return record.getMessage() != warning_client_prioritized_and_token_skipped()


def register_features(app: TamioApp) -> None:
    # Bolt tries listeners in registration order: the most frequent requests first.
    register_commands(app)
    for module in (card_actions, forecast_actions, whatif, duplicate_actions, home, add_view, draft_view, settings_view, terms_view,
                   shortcuts, onboarding, events):
        module.register(app)

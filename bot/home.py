"""App Home: published when someone opens the tab, and again after every decision (outbox ``home_refresh``).

Reading the account takes one short transaction; the view is published after it ends.

    await publish_home(runtime, client, account_id=account.id, slack_user_id="U123", charts=app.charts)
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.common import LOCALE
from bot.blocks.home import attention_view, home_view
from bot.boundary import handler
from bot.charts import ChartLinks
from bot.forecasting import load_forecast
from bot.problems import lost_channels, problem_text
from bot.queries import count_pending, load_cards, open_alerts, pending_action_ids
from bot.runtime import Runtime, Scope
from tamio.accounts.models import Account, Role
from tamio.accounts.privacy import FIGURES_FOR_VIEWERS_HINT, attention_line, may_see_figures
from tamio.accounts.service import get_member, get_user_configuration
from tamio.config import Settings
from tamio.errors import NotFound

LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}
HOME_WEEKS = 13
PROBLEMS_SHOWN_FOR = timedelta(days=7)
OUTSIDER_HOME = "Use `/tamio help` in a channel to get started."  # a channel that lost messages is shown this long unless one gets through


def chart_reachable(settings: Settings) -> bool:
    """Slack fetches image URLs itself: the real Slack cannot reach a loopback address."""
    host = urlparse(settings.public_url).hostname or ""
    return not (host in LOOPBACK and "slack.com" in settings.slack_api_url)


async def render_home(runtime: Runtime, *, account_id: str, slack_user_id: str, charts: ChartLinks) -> dict[str, Any]:
    async with runtime.sessions() as db:
        now = runtime.clock()
        account = await db.get(Account, account_id)
        if account is None:
            raise NotFound("This workspace's Tamio account no longer exists.")
        today = now.astimezone(ZoneInfo(account.timezone)).date()
        LOCALE.set(account.locale)
        member = await get_member(db, account_id=account.id, slack_user_id=slack_user_id)
        config = await get_user_configuration(db, account_id=account.id)
        if not may_see_figures(member.role if member else None, viewers_see_figures=config.viewers_see_figures):
            alerts_open = len(await open_alerts(db, account_id=account.id))
            waiting = await count_pending(db, account_id=account.id)
            await db.commit()
            return attention_view(account=account, line=attention_line(open_alerts=alerts_open, pending_actions=waiting),
                                  hint=FIGURES_FOR_VIEWERS_HINT if member else OUTSIDER_HOME, today=today)
        forecast = await load_forecast(db, account=account, settings=runtime.settings, today=today, now=now, weeks=HOME_WEEKS)
        alerts = await open_alerts(db, account_id=account.id)
        pending = await count_pending(db, account_id=account.id)
        cards = await load_cards(db, account_id=account.id, action_ids=await pending_action_ids(db, account_id=account.id, limit=12))
        lost = await lost_channels(db, account_id=account.id, since=now - PROBLEMS_SHOWN_FOR)
        await db.commit()
        url = charts.url(account_id=account.id, as_of=today, weeks=HOME_WEEKS, now=now) if chart_reachable(runtime.settings) else None
        return home_view(
            account=account, forecast=forecast, chart_url=url, alerts=alerts, cards=cards, pending_total=pending,
            safety_mode=config.safety_mode.value, is_admin=member is not None and member.role == Role.ADMIN, today=today,
            notices=[problem_text(p.channel, p.error, p.lost) for p in lost if p.channel == account.digest_channel_id],
        )


async def publish_home(runtime: Runtime, client: AsyncWebClient, *, account_id: str, slack_user_id: str, charts: ChartLinks) -> None:
    view = await render_home(runtime, account_id=account_id, slack_user_id=slack_user_id, charts=charts)
    await client.views_publish(user_id=slack_user_id, view=view)


def register(app: AsyncApp) -> None:
    charts: ChartLinks = app.charts  # type: ignore[attr-defined]

    @handler
    async def home_opened(scope: Scope, body: dict[str, Any]) -> None:
        event = body.get("event") or {}
        user_id = event.get("user")
        if event.get("tab") != "home" or not user_id:
            return

        async def work(later: Scope) -> None:
            await later.commit()
            await publish_home(later.runtime, later.client, account_id=later.account.id, slack_user_id=str(user_id), charts=charts)

        scope.later(work, name="publish-home")

    app.event("app_home_opened")(home_opened)

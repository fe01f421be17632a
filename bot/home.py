"""App Home: published when someone opens the tab, and again after every decision (outbox ``home_refresh``).

Reading the account takes one short transaction; the view is published after it ends. After a
change, the account's Home is read and rendered once and published to every member
(``publish_homes``); only an admin's Settings button differs between members, and a viewer sees
figures only where the account allows it (otherwise only whether something needs attention). A
channel that lost messages for good is said at the top. Amounts and dates: the account's locale.

    await publish_home(runtime, client, account_id=account.id, slack_user_id="U123", charts=app.charts)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from bot.blocks.common import escape, written_in
from bot.blocks.home import attention_view, home_view
from bot.boundary import handler
from bot.charts import ChartLinks
from bot.forecasting import load_forecast
from bot.problems import lost_channels, problem_text
from bot.queries import (
    CardData,
    count_open_alerts,
    count_pending,
    load_cards,
    open_alerts,
    pending_action_ids,
)
from bot.runtime import Runtime, Scope
from tamio.accounts.models import Account, Member, Role
from tamio.accounts.permissions import Operation, allows
from tamio.accounts.privacy import FIGURES_FOR_VIEWERS_HINT, attention_line, may_see_figures
from tamio.accounts.service import get_user_configuration
from tamio.config import Settings
from tamio.detection.models import DetectionAlert
from tamio.errors import NotFound
from tamio.execution.readiness import with_email_needs
from tamio.forecast.engine import Forecast
from tamio.scenarios.engine import ScenarioResult
from tamio.scenarios.service import saved_effects
from tamio.scenarios.views import effect_line

LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}
HOME_WEEKS = 13
PROBLEMS_SHOWN_FOR = timedelta(days=7)  # a channel that lost messages is shown this long unless one gets through
OUTSIDER_HOME = "Use `/tamio help` in a channel to get started."


def chart_reachable(settings: Settings) -> bool:
    """Slack fetches image URLs itself: the real Slack cannot reach a loopback address."""
    host = urlparse(settings.public_url).hostname or ""
    return not (host in LOOPBACK and "slack.com" in settings.slack_api_url)


@dataclass(frozen=True)
class HomeData:
    """What App Home shows of an account: the same for every member but for the admin's Settings button."""

    account: Account
    forecast: Forecast | None
    chart_url: str | None
    alerts: list[DetectionAlert]
    cards: list[CardData]
    pending_total: int
    safety_mode: str
    today: date
    roles: dict[str, Role]  # Slack user id -> role, for the members with a Slack user
    viewers_see_figures: bool = False
    notices: list[str] = field(default_factory=list)
    scenarios: list[str] = field(default_factory=list)  # each saved scenario with its effect today
    alert_counts: dict[str, int] = field(default_factory=dict)  # open alerts by severity; ``alerts`` holds the first of each

    def view_for(self, slack_user_id: str) -> dict[str, Any]:
        role = self.roles.get(slack_user_id)
        with written_in(self.account.locale):
            if not may_see_figures(role, viewers_see_figures=self.viewers_see_figures):
                line = attention_line(open_alerts=max(sum(self.alert_counts.values()), len(self.alerts)), pending_actions=self.pending_total)
                return attention_view(account=self.account, line=line, today=self.today,
                                      hint=FIGURES_FOR_VIEWERS_HINT if role is not None else OUTSIDER_HOME)
            return home_view(
                account=self.account, forecast=self.forecast, chart_url=self.chart_url, alerts=self.alerts, cards=self.cards,
                alert_counts=self.alert_counts, pending_total=self.pending_total, safety_mode=self.safety_mode, is_admin=allows(role, Operation.CHANGE_SETTINGS),
                today=self.today, notices=self.notices, manages_data=allows(role, Operation.MANAGE_DATA),
                scenarios=self.scenarios,
            )


async def load_home(runtime: Runtime, *, account_id: str, charts: ChartLinks) -> HomeData:
    """The account's Home, read once (one short transaction) for however many members see it."""
    async with runtime.sessions() as db:
        now = runtime.clock()
        account = await db.get(Account, account_id)
        if account is None:
            raise NotFound("This workspace's Tamio account no longer exists.")
        today = now.astimezone(ZoneInfo(account.timezone)).date()
        roles = {str(user): role for user, role in (await db.execute(select(Member.slack_user_id, Member.role).where(
            Member.user_id == account.id, Member.slack_user_id.is_not(None)))).all()}
        config = await get_user_configuration(db, account_id=account.id)
        forecast = await load_forecast(db, account=account, settings=runtime.settings, today=today, weeks=HOME_WEEKS)
        alerts = await open_alerts(db, account_id=account.id)
        alert_counts = await count_open_alerts(db, account_id=account.id)
        pending = await count_pending(db, account_id=account.id)
        cards = await with_email_needs(
            db, await load_cards(db, account_id=account.id, action_ids=await pending_action_ids(db, account_id=account.id, limit=12)),
            account=account, settings=runtime.settings, now=now)
        lost = await lost_channels(db, account_id=account.id, since=now - PROBLEMS_SHOWN_FOR)
        effects = await saved_effects(db, account=account, settings=runtime.settings, today=today, now=now)
        await db.commit()
    url = charts.url(account_id=account.id, as_of=today, weeks=HOME_WEEKS, now=now) if chart_reachable(runtime.settings) else None
    notices = [problem_text(p.channel, p.error, p.lost) for p in lost if p.channel == account.digest_channel_id]
    scenarios = [f"*{escape(saved.name)}*: {effect_line(got) if isinstance(got, ScenarioResult) else ':warning: ' + escape(got.message)}"
                 for saved, got in effects]
    return HomeData(account, forecast, url, alerts, cards, pending, config.safety_mode.value, today, roles,
                    viewers_see_figures=config.viewers_see_figures, notices=notices, scenarios=scenarios,
                    alert_counts=alert_counts)


async def render_home(runtime: Runtime, *, account_id: str, slack_user_id: str, charts: ChartLinks) -> dict[str, Any]:
    return (await load_home(runtime, account_id=account_id, charts=charts)).view_for(slack_user_id)


async def publish_home(runtime: Runtime, client: AsyncWebClient, *, account_id: str, slack_user_id: str, charts: ChartLinks) -> None:
    view = await render_home(runtime, account_id=account_id, slack_user_id=slack_user_id, charts=charts)
    await client.views_publish(user_id=slack_user_id, view=view)


async def publish_homes(runtime: Runtime, client: AsyncWebClient, *, account_id: str, charts: ChartLinks) -> int:
    """Every member's Home after a change to the account: rendered once, published to each member."""
    home = await load_home(runtime, account_id=account_id, charts=charts)
    for user in home.roles:
        await client.views_publish(user_id=user, view=home.view_for(user))
    return len(home.roles)


def register(app: AsyncApp) -> None:
    charts: ChartLinks = app.charts  # type: ignore[attr-defined]

    @handler
    async def home_opened(scope: Scope, body: dict[str, Any]) -> None:
        event = body.get("event") or {}
        user_id = event.get("user")
        if event.get("tab") != "home" or not user_id:
            return

        async def work(later: Scope) -> None:
            await later.current_figures()  # commits first; the Home shows the changes already made
            await publish_home(later.runtime, later.client, account_id=later.account.id, slack_user_id=str(user_id), charts=charts)

        scope.later(work, name="publish-home")

    app.event("app_home_opened")(home_opened)

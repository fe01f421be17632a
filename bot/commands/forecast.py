"""``/tamio forecast [weeks]``: the forecast, visible to the caller, with its chart and a Share button.

The command acks at once; the forecast is computed, drawn and uploaded after the ack. The chart
goes to the caller's DM with Tamio (so only they see it, through files_upload_v2) and the forecast
message, with the chart inside it, comes back to them in the channel through the response URL.
"""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.common import code_sections, escape, image, section
from bot.blocks.forecast import fallback_text, forecast_blocks
from bot.boundary import Reply, tell
from bot.commands import parse
from bot.forecasting import draw, load_forecast, open_dm, upload_chart
from bot.runtime import Scope
from tamio.forecast.snapshots import forecast_accuracy
from tamio.forecast.views import accuracy_lines, describe_accuracy


def home_link(scope: Scope) -> str | None:
    if not scope.caller.app_id:
        return None
    # Slack's documented redirect into the app (its Home); a button's url must be http(s).
    return f"https://slack.com/app_redirect?app={scope.caller.app_id}&team={scope.caller.team_id}"


async def send_forecast(scope: Scope, weeks: int) -> None:
    forecast = await load_forecast(scope.db, account=scope.account, settings=scope.settings, today=scope.today, now=scope.now, weeks=weeks)
    await scope.commit()
    title = f"Cash forecast · {weeks} weeks from {forecast.as_of:%a} {forecast.as_of.day} {forecast.as_of:%b}"
    png = await draw(forecast, title=title)
    chart = None
    if scope.caller.user_id:
        dm = await open_dm(scope.client, scope.caller.user_id)
        file_id = await upload_chart(scope.client, channel=dm, png=png, title=title,
                                     comment="Your cash forecast chart (from `/tamio forecast`).")
        if file_id:
            chart = image(alt=f"Closing balance per week for {weeks} weeks, with the likely range and the buffer", file_id=file_id, title=title)
    blocks = forecast_blocks(forecast, title=title, image=chart, share_value=f"{weeks}:{forecast.as_of.isoformat()}",
                             home_url=home_link(scope))
    await tell(scope.caller, scope.client, fallback_text(forecast), blocks=blocks)


async def show_forecast(scope: Scope, command: parse.ShowForecast, client: AsyncWebClient) -> None:
    weeks = command.weeks

    async def work(later: Scope) -> None:
        await send_forecast(later, weeks)

    scope.later(work, name="forecast")


async def show_accuracy(scope: Scope, command: parse.ShowAccuracy, client: AsyncWebClient) -> Reply:
    """``/tamio forecast accuracy [weeks]``: past forecasts against what happened, beside the due-date
    baseline, 1, 4 and 13 weeks ahead, and how often the band held (the 6 AM job stores the forecasts)."""
    found = await forecast_accuracy(scope.db, account=scope.account, today=scope.today, weeks=command.weeks)
    about = escape(describe_accuracy(found)).replace("`tamio jobs run morning`", "`tamio jobs run morning` on the server")
    return Reply(describe_accuracy(found), [section(about), *code_sections([escape(line) for line in accuracy_lines(found)])])

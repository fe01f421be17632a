"""``/tamio forecast [weeks]``: the forecast, visible to the caller, with its chart and a Share button.

The command acks at once; the forecast is computed, drawn and uploaded after the ack. The chart
goes to the caller's DM with Tamio as a file message (so only they see it, through
files_upload_v2), and the forecast message comes back to them where they asked, through the
response URL (``bot.replies``: it works in channels Tamio is not in and in DMs). The chart is shown
inside the message only once Slack has processed the upload; otherwise the message says where it
is. The message itself always arrives: if Slack refuses it with the chart, it goes without.
"""

from __future__ import annotations

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.common import code_sections, day_label, escape, image, section
from bot.blocks.forecast import fallback_text, forecast_blocks, share_value
from bot.boundary import Reply
from bot.commands import parse
from bot.forecasting import ChartRefused, chart_ready, draw, forecast_now, open_dm, upload_chart
from bot.replies import reply
from bot.runtime import Scope
from tamio.data.service import stale_cash_rates
from tamio.forecast.snapshots import forecast_accuracy
from tamio.forecast.views import accuracy_lines, describe_accuracy

CHART_IN_DM = "The chart is in your DM with Tamio."


def home_link(scope: Scope) -> str | None:
    if not scope.caller.app_id:
        return None
    # Slack's documented redirect into the app (its Home); a button's url must be http(s).
    return f"https://slack.com/app_redirect?app={scope.caller.app_id}&team={scope.caller.team_id}"


async def chart_in_dm(scope: Scope, png: bytes, *, title: str, weeks: int) -> tuple[str | None, dict[str, object] | None]:
    """Upload the chart to the caller's DM: (its file id, an image block once Slack has processed it)."""
    if not scope.caller.user_id:
        return None, None
    try:
        dm = await open_dm(scope.client, scope.caller.user_id)
        file_id = await upload_chart(scope.client, channel=dm, png=png, title=title,
                                     comment="Your cash forecast chart (from `/tamio forecast`).")
    except (ChartRefused, SlackApiError):
        return None, None
    if not await chart_ready(scope.client, file_id):
        return file_id, None
    alt = f"Closing balance per week for {weeks} weeks, with the likely range and the buffer"
    return file_id, image(alt=alt, file_id=file_id)


async def send_forecast(scope: Scope, weeks: int) -> None:
    stale = await stale_cash_rates(scope.db, account_id=scope.account.id, base_currency=scope.account.base_currency, today=scope.today)
    forecast = await forecast_now(scope, weeks=weeks)  # commits the listener's transaction first
    title = f"Cash forecast · {weeks} weeks from {day_label(forecast.as_of)}"
    png = await draw(forecast, title="")  # titled once: by the message's header
    file_id, chart = await chart_in_dm(scope, png, title=title, weeks=weeks)
    value = share_value(weeks, forecast.as_of, file_id if chart else None)
    note = CHART_IN_DM if file_id and chart is None else None
    blocks = forecast_blocks(forecast, title=title, image=chart, share_value=value, home_url=home_link(scope), note=note,
                             stale_rates=stale)
    if await reply(scope.caller, scope.client, fallback_text(forecast), blocks=blocks) or chart is None:
        return
    # Refused with the chart inside (Slack may still say it is processing): the message goes without it.
    value = share_value(weeks, forecast.as_of)
    blocks = forecast_blocks(forecast, title=title, share_value=value, home_url=home_link(scope), note=CHART_IN_DM, stale_rates=stale)
    await reply(scope.caller, scope.client, fallback_text(forecast), blocks=blocks)


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

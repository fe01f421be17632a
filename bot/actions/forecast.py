"""The forecast message's buttons: Share in channel, and Open App Home (a link; Slack still sends a click).

Share recomputes the forecast the caller saw (same first day and length, from the button's value)
for the account of the verified request and posts it in the channel, with the chart as a file
message in its thread. Both need Tamio in the channel: it joins a public one; elsewhere (a private
channel it is not in, a DM, a group DM) it tells the person why it can't and what to do. The
caller's copy is an ephemeral message, which Slack leaves out of the click's payload, so it is
rebuilt (with the chart the button names) and replaced through the response URL, marked as shared.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot.blocks.common import day_label, image, user
from bot.blocks.forecast import OPEN_HOME_ACTION, SHARE_ACTION, fallback_text, forecast_blocks
from bot.boundary import handler
from bot.channels import make_postable
from bot.forecasting import ChartRefused, draw, forecast_now, upload_chart
from bot.replies import reply, send_to_response_url
from bot.runtime import Scope
from tamio.errors import ValidationError

log = logging.getLogger("tamio.bot")


def read_share_value(value: str) -> tuple[int, date, str | None]:
    weeks_text, _, rest = value.partition(":")
    day_text, _, file_id = rest.partition(":")
    try:
        weeks, as_of = int(weeks_text), date.fromisoformat(day_text)
    except ValueError as exc:
        raise ValidationError("That Share button is out of date; run `/tamio forecast` again.") from exc
    if not 1 <= weeks <= 52:
        raise ValidationError("That Share button is out of date; run `/tamio forecast` again.")
    return weeks, as_of, file_id or None


async def share(scope: Scope, weeks: int, as_of: date, chart_file_id: str | None) -> None:
    forecast = await forecast_now(scope, weeks=weeks, as_of=as_of)
    channel = scope.caller.channel_id
    if not channel:
        return
    access = await make_postable(scope.client, channel, channel_name=scope.caller.channel_name)
    if not access.postable:
        await reply(scope.caller, scope.client, access.explain("share the forecast"))
        return
    title = f"Cash forecast · {weeks} weeks from {day_label(as_of)}"
    blocks = forecast_blocks(forecast, title=title, note=f"Shared by {user(scope.caller.user_id)}")
    try:
        posted = await scope.client.chat_postMessage(channel=channel, text=fallback_text(forecast), blocks=blocks)
    except SlackApiError as exc:
        log.warning("sharing the forecast in %s: %s", channel, exc.response.get("error"))
        await reply(scope.caller, scope.client, f":warning: Slack wouldn't take the forecast in <#{channel}> "
                                                f"({exc.response.get('error')}). Nothing was shared.")
        return
    png = await draw(forecast, title="")  # titled once: by the message's header
    try:
        await upload_chart(scope.client, channel=channel, png=png, title=title, thread_ts=str(posted["ts"]))
    except ChartRefused as exc:
        await reply(scope.caller, scope.client, f":warning: The forecast is in <#{channel}>, but Slack refused its chart ({exc.error}).")
    if scope.caller.response_url:
        chart = image(alt=f"Closing balance per week for {weeks} weeks", file_id=chart_file_id) if chart_file_id else None
        mine = forecast_blocks(forecast, title=title, image=chart, note=f":white_check_mark: Shared in <#{channel}>.")
        problem = await send_to_response_url(scope.caller.response_url, text=fallback_text(forecast), blocks=mine,
                                             replace_original=True)
        if problem is not None:
            log.info("could not mark the forecast as shared for %s: %s", scope.caller.user_id, problem)


@handler
async def share_forecast(scope: Scope, body: dict[str, Any]) -> None:
    action = (body.get("actions") or [{}])[0]
    weeks, as_of, chart_file_id = read_share_value(str(action.get("value") or ""))

    async def work(later: Scope) -> None:
        await share(later, weeks, as_of, chart_file_id)

    scope.later(work, name="share-forecast")


@handler
async def open_home_clicked() -> None:
    """The button is a link to App Home; Slack still sends the click, which needs an ack."""


def register(app: AsyncApp) -> None:
    app.action(SHARE_ACTION)(share_forecast)
    app.action(OPEN_HOME_ACTION)(open_home_clicked)
    app.runtime.ack_only_actions.add(OPEN_HOME_ACTION)  # type: ignore[attr-defined]

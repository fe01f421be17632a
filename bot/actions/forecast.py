"""The forecast message's buttons: Share in channel, and Open App Home (a link; Slack still sends a click).

Share recomputes the forecast the caller saw (same first day and length, from the button's value)
for the account of the verified request, posts it in the channel, adds the chart in its thread,
and marks the caller's copy as shared.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.blocks.common import context, user
from bot.blocks.forecast import OPEN_HOME_ACTION, SHARE_ACTION, fallback_text, forecast_blocks
from bot.boundary import handler
from bot.forecasting import draw, load_forecast, upload_chart
from bot.runtime import Scope
from tamio.errors import ValidationError


def read_share_value(value: str) -> tuple[int, date]:
    weeks_text, _, day_text = value.partition(":")
    try:
        weeks, as_of = int(weeks_text), date.fromisoformat(day_text)
    except ValueError as exc:
        raise ValidationError("That Share button is out of date; run `/tamio forecast` again.") from exc
    if not 1 <= weeks <= 52:
        raise ValidationError("That Share button is out of date; run `/tamio forecast` again.")
    return weeks, as_of


async def share(scope: Scope, weeks: int, as_of: date, original: list[dict[str, Any]]) -> None:
    forecast = await load_forecast(scope.db, account=scope.account, settings=scope.settings, today=scope.today,
                                   now=scope.now, weeks=weeks, as_of=as_of)
    await scope.commit()
    channel = scope.caller.channel_id
    if not channel:
        return
    title = f"Cash forecast · {weeks} weeks from {as_of:%a} {as_of.day} {as_of:%b}"
    blocks = forecast_blocks(forecast, title=title, note=f"Shared by {user(scope.caller.user_id)}")
    posted = await scope.client.chat_postMessage(channel=channel, text=fallback_text(forecast), blocks=blocks)
    png = await draw(forecast, title=title)
    await upload_chart(scope.client, channel=channel, png=png, title=title, thread_ts=str(posted["ts"]))
    if scope.caller.response_url and original:
        kept = [b for b in original if b.get("type") != "actions"]
        kept.append(context(f":white_check_mark: Shared in <#{channel}>."))
        await AsyncWebhookClient(scope.caller.response_url).send(text=fallback_text(forecast), blocks=kept[:50], replace_original=True)


@handler
async def share_forecast(scope: Scope, body: dict[str, Any]) -> None:
    action = (body.get("actions") or [{}])[0]
    weeks, as_of = read_share_value(str(action.get("value") or ""))
    original = list((body.get("message") or {}).get("blocks") or [])

    async def work(later: Scope) -> None:
        await share(later, weeks, as_of, original)

    scope.later(work, name="share-forecast")


@handler
async def open_home_clicked() -> None:
    """The button is a link to App Home; Slack still sends the click, which needs an ack."""


def register(app: AsyncApp) -> None:
    app.action(SHARE_ACTION)(share_forecast)
    app.action(OPEN_HOME_ACTION)(open_home_clicked)
    app.runtime.ack_only_actions.add(OPEN_HOME_ACTION)  # type: ignore[attr-defined]

"""Computing, drawing and uploading the forecast for Slack (the command, Share, App Home, the chart URL).

Drawing runs in a worker thread (one at a time: matplotlib's font machinery is not meant for
concurrent use), so the event loop keeps acking other requests while a chart renders.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import date, datetime

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession

from bot.charts import render_forecast_png
from tamio.accounts.models import Account
from tamio.config import Settings
from tamio.forecast.engine import Forecast
from tamio.forecast.service import calculate_forecast

log = logging.getLogger("tamio.bot")
_draw_lock = threading.Lock()
CHART_FILENAME = "cash-forecast.png"


async def load_forecast(
    db: AsyncSession, *, account: Account, settings: Settings, today: date, now: datetime, weeks: int, as_of: date | None = None
) -> Forecast:
    """The forecast from ``as_of`` (today by default); the core generates schedules far enough first."""
    return await calculate_forecast(db, account.id, as_of=as_of or today, weeks=weeks, settings=settings, today=today, now=now)


def _draw(forecast: Forecast, title: str) -> bytes:
    with _draw_lock:
        return render_forecast_png(forecast, title=title)


async def draw(forecast: Forecast, *, title: str = "") -> bytes:
    return await asyncio.to_thread(_draw, forecast, title)


async def upload_chart(
    client: AsyncWebClient, *, channel: str, png: bytes, title: str, comment: str | None = None, thread_ts: str | None = None
) -> str | None:
    """Upload the chart with files_upload_v2; its file id, or None when Slack refused it."""
    try:
        response = await client.files_upload_v2(
            channel=channel, file=png, filename=CHART_FILENAME, title=title, initial_comment=comment, thread_ts=thread_ts,
        )
    except SlackApiError as exc:
        log.warning("could not upload the forecast chart to %s: %s", channel, exc.response.get("error"))
        return None
    file = response.get("file") or {}
    return str(file.get("id")) if file.get("id") else None


async def open_dm(client: AsyncWebClient, user_id: str) -> str:
    response = await client.conversations_open(users=user_id)
    return str(response["channel"]["id"])

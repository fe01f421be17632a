"""Computing, drawing and uploading the forecast for Slack (the command, Share, App Home, the chart URL).

Drawing runs in a worker thread (one at a time: matplotlib's font machinery is not meant for
concurrent use), so the event loop keeps acking other requests while a chart renders.

An uploaded chart is a file message where it was shared; Slack then processes it asynchronously,
and an image block naming it before that is refused (``invalid slack file``). So a message shows
the chart inside only once ``files.info`` says it is ready (``chart_ready``: a few polls, a few
seconds at most); otherwise the message goes without it and the chart stays the file message it is.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import date

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession

from bot.charts import render_forecast_png
from bot.runtime import Scope
from tamio.accounts.models import Account
from tamio.config import Settings
from tamio.forecast.engine import Forecast
from tamio.forecast.service import calculate_forecast, forecast_for_account

log = logging.getLogger("tamio.bot")
_draw_lock = threading.Lock()
CHART_FILENAME = "cash-forecast.png"
READY_POLLS = 5  # files.info looks before a message goes without its chart (about 4 s in all)


async def load_forecast(
    db: AsyncSession, *, account: Account, settings: Settings, today: date, weeks: int, as_of: date | None = None
) -> Forecast:
    """The forecast from ``as_of`` (today by default) as stored: a read (App Home, the chart link)."""
    return await calculate_forecast(db, account.id, as_of=as_of or today, weeks=weeks, settings=settings)


async def forecast_now(scope: Scope, *, weeks: int, as_of: date | None = None) -> Forecast:
    """What ``/tamio forecast`` and Share show: the listener's transaction ends first (it holds nothing
    the forecast needs), then the core extends the schedules in a transaction of its own if they fall
    short, and computes."""
    await scope.commit()
    return await forecast_for_account(scope.runtime.sessions, scope.account.id, today=scope.today, now=scope.now,
                                      settings=scope.settings, weeks=weeks, as_of=as_of)


def _draw(forecast: Forecast, title: str | None, baseline: Forecast | None = None) -> bytes:
    with _draw_lock:
        return render_forecast_png(forecast, title=title, baseline=baseline)


async def draw(forecast: Forecast, *, title: str | None = None, baseline: Forecast | None = None) -> bytes:
    """The chart as PNG; ``title=""`` when the message around it already says what it is."""
    return await asyncio.to_thread(_draw, forecast, title, baseline)


class ChartRefused(Exception):
    """Slack would not take the chart where it was to go (``error`` is what it said)."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


async def upload_chart(
    client: AsyncWebClient, *, channel: str, png: bytes, title: str, comment: str | None = None, thread_ts: str | None = None
) -> str:
    """Share the chart as a file message with files_upload_v2 (Tamio must be in ``channel``); its file id."""
    try:
        response = await client.files_upload_v2(
            channel=channel, file=png, filename=CHART_FILENAME, title=title, initial_comment=comment, thread_ts=thread_ts,
        )
    except SlackApiError as exc:
        error = str(exc.response.get("error") or "unknown_error")
        log.warning("could not upload the forecast chart to %s: %s", channel, error)
        raise ChartRefused(error) from exc
    file = response.get("file") or {}
    if not file.get("id"):
        raise ChartRefused("no_file_id")
    return str(file["id"])


async def chart_ready(client: AsyncWebClient, file_id: str, *, polls: int = READY_POLLS, first_pause_s: float = 0.25) -> bool:
    """Whether Slack has processed the file (``files.info`` shows its mimetype), asking at most ``polls`` times."""
    pause = first_pause_s
    for attempt in range(polls):
        try:
            info = await client.files_info(file=file_id)
        except SlackApiError as exc:
            log.warning("files.info for the chart %s: %s; the message goes without it", file_id, exc.response.get("error"))
            return False
        if (info.get("file") or {}).get("mimetype"):
            return True
        if attempt + 1 < polls:
            await asyncio.sleep(pause)
            pause = min(pause * 2, 2.0)
    log.info("the chart %s was still being processed after %d looks; the message goes without it", file_id, polls)
    return False


async def open_dm(client: AsyncWebClient, user_id: str) -> str:
    response = await client.conversations_open(users=user_id)
    return str(response["channel"]["id"])

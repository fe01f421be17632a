"""The forecast chart: a PNG of the closing balance per week, its low/high band and the buffer.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no global state, so it is safe
in a worker thread: the event loop keeps acking while a chart renders). Amounts become floats
only here, to place pixels.

App Home shows the chart through a URL that ``tamio serve`` answers (``GET /charts/<token>.png``);
the token is signed (HMAC-SHA256) and says which account, which first day and how many weeks, so
the route needs no state and works on every replica:

    links = ChartLinks(settings)
    url = links.url(account_id=account.id, as_of=today, weeks=13, now=now)
    account_id, as_of, weeks = links.verify(token, now=now)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.blocks.common import day_label
from tamio.config import Settings
from tamio.errors import PermissionDenied
from tamio.forecast.engine import Forecast
from tamio.money import format_money
from tamio.server_secret import GENERATE_HINT, SecretKeyInvalid, ServerSecret

os.environ.setdefault("MPLBACKEND", "Agg")

LINK_LIFETIME = timedelta(days=7)
COLOURS = {"baseline": "#616061", "line": "#1264A3", "band": "#1264A3", "buffer": "#E01E5A", "low": "#E01E5A", "grid": "#DDDDDD"}


def render_forecast_png(forecast: Forecast, *, title: str | None = None, baseline: Forecast | None = None) -> bytes:
    """The forecast's chart; with ``baseline`` (a what-if), the real forecast's line and lowest point beside it.
    ``title=""`` draws none (the message around it already says what it is)."""
    # matplotlib is slow to import (seconds on a loaded machine): loaded by the first chart or warm_up, not at start-up
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    cur = forecast.base_currency
    days = [week.start for week in forecast.weeks]
    starts = [float(day.toordinal()) for day in days]  # x positions; the labels say the dates
    closing = [float(week.closing_balance) for week in forecast.weeks]
    low = [float(week.low) for week in forecast.weeks]
    high = [float(week.high) for week in forecast.weeks]

    figure = Figure(figsize=(8.0, 3.6), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.fill_between(starts, low, high, color=COLOURS["band"], alpha=0.15, linewidth=0, label="likely range")
    axes.plot(starts, closing, color=COLOURS["line"], marker="o", markersize=3.5, linewidth=2, label="closing balance")
    if baseline is not None:
        axes.plot(starts, [float(w.closing_balance) for w in baseline.weeks], color=COLOURS["baseline"], linestyle="--",
                  marker="o", markersize=2.5, linewidth=1.4, label="today's forecast")
        low_point = baseline.week_of(baseline.lowest_week_start)
        if low_point is not None:
            axes.annotate(
                f"lowest today {format_money(low_point.closing_balance, cur, with_cents=False)}",
                (float(low_point.start.toordinal()), float(low_point.closing_balance)),
                textcoords="offset points", xytext=(0, 8), ha="center", fontsize=8, color=COLOURS["baseline"],
            )
    if forecast.buffer:
        axes.axhline(float(forecast.buffer), color=COLOURS["buffer"], linestyle="--", linewidth=1.2, label="buffer")
    lowest = forecast.week_of(forecast.lowest_week_start)
    if lowest is not None:
        axes.annotate(
            f"lowest {format_money(lowest.closing_balance, cur, with_cents=False)}",
            (float(lowest.start.toordinal()), float(lowest.closing_balance)),
            textcoords="offset points", xytext=(0, -14), ha="center", fontsize=8, color=COLOURS["low"],
        )
    axes.axhline(0, color="#888888", linewidth=0.8)
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _pos: _short_money(value, cur)))
    step = max(1, len(days) // 7)
    axes.set_xticks(starts[::step])
    axes.set_xticklabels([f"{d.day} {d:%b}" for d in days[::step]], fontsize=8)
    axes.tick_params(axis="y", labelsize=8)
    axes.grid(axis="y", color=COLOURS["grid"], linewidth=0.6)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.legend(loc="upper right", fontsize=7, frameon=False)
    # None: the chart stands alone (App Home) and says what it is; "": the message around it does.
    title = f"Cash forecast · {len(days)} weeks from {day_label(forecast.as_of)}" if title is None else title
    if title:
        axes.set_title(title, fontsize=10, loc="left")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _short_money(value: float, currency: str) -> str:
    size = abs(value)
    for limit, suffix in ((1e9, "bn"), (1e6, "m"), (1e3, "k")):
        if size >= limit:
            return f"{value / limit:,.1f}{suffix}".replace(".0" + suffix, suffix)
    return f"{value:,.0f}"


def warm_up() -> None:
    """Import matplotlib and build its font cache once, off the request path."""
    from matplotlib.figure import Figure

    Figure()


@dataclass(frozen=True)
class ChartRequest:
    account_id: str
    as_of: date
    weeks: int


class ChartLinks:
    """Signed, expiring chart URLs, keyed by the server secret (TAMIO_SECRET_KEY) and nothing else:
    a key derived from a constant or a Slack setting that Socket Mode leaves unset could be forged."""

    def __init__(self, settings: Settings) -> None:
        secret = ServerSecret.from_value(settings.secret_key)
        if secret is None:
            raise SecretKeyInvalid(f"Chart links are signed with TAMIO_SECRET_KEY, which is not set; {GENERATE_HINT}.")
        self._keys = secret.keys_for("chart-links")  # the newest signs; older ones still open links they signed
        self._base = settings.public_url.rstrip("/")

    def token(self, *, account_id: str, as_of: date, weeks: int, now: datetime) -> str:
        payload = {"a": account_id, "d": as_of.isoformat(), "w": weeks, "x": int((now + LINK_LIFETIME).timestamp()),
                   "v": int(now.timestamp())}
        body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")
        return f"{body}.{self._sign(body, self._keys[0])}"

    def url(self, *, account_id: str, as_of: date, weeks: int, now: datetime) -> str:
        return f"{self._base}/charts/{self.token(account_id=account_id, as_of=as_of, weeks=weeks, now=now)}.png"

    def verify(self, token: str, *, now: datetime) -> ChartRequest:
        body, _, signature = token.removesuffix(".png").partition(".")
        if not body or not any(hmac.compare_digest(signature.encode(), self._sign(body, key).encode()) for key in self._keys):
            raise PermissionDenied("This chart link is not valid.")
        try:
            payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            request = ChartRequest(str(payload["a"]), date.fromisoformat(payload["d"]), int(payload["w"]))
            expires = int(payload["x"])
        except (ValueError, KeyError, TypeError) as exc:
            raise PermissionDenied("This chart link is not valid.") from exc
        if now.timestamp() > expires:
            raise PermissionDenied("This chart link has expired; open App Home again for a fresh one.")
        return request

    @staticmethod
    def _sign(body: str, key: bytes) -> str:
        digest = hmac.new(key, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:18]).decode()

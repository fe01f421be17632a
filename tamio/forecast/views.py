"""Plain-text views of a forecast (the CLI table; Slack builds its own blocks)."""

from __future__ import annotations

from tamio.forecast.engine import Forecast
from tamio.money import format_money


def describe_runway(forecast: Forecast) -> str:
    if forecast.runway_weeks is None:
        return "cash does not fall below the buffer"
    months = forecast.runway_months
    return f"{forecast.runway_weeks} weeks ({months} months)"


def render_table(forecast: Forecast, *, account_name: str = "") -> str:
    cur = forecast.base_currency
    lines = [
        f"Cash forecast{' for ' + account_name if account_name else ''} · {len(forecast.weeks)} week{'' if len(forecast.weeks) == 1 else 's'} from {forecast.as_of:%a %d %b %Y}",
        f"Today {format_money(forecast.opening_balance, cur)} · Lowest {format_money(forecast.lowest_closing_balance, cur)} "
        f"in the week of {forecast.lowest_week_start:%d %b} · Runway: {describe_runway(forecast)}",
        "",
        f"{'Week':<8}{'In':>16}{'Out':>16}{'Close':>18}{'Low':>18}{'High':>18}  Conf",
    ]
    for week in forecast.weeks:
        lines.append(
            f"{week.start:%d %b}  {format_money(week.inflows, cur):>16}{format_money(-week.outflows, cur):>16}"
            f"{format_money(week.closing_balance, cur):>18}{format_money(week.low, cur):>18}{format_money(week.high, cur):>18}  {week.confidence}"
        )
    return "\n".join(lines)

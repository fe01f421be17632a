"""Plain-text views of a forecast and of its accuracy (the CLI tables; Slack builds its own blocks)."""

from __future__ import annotations

from typing import Any

from tamio.dates import day_text
from tamio.forecast import runway
from tamio.forecast.band import INTERVAL
from tamio.forecast.engine import Forecast
from tamio.forecast.snapshots import Accuracy
from tamio.money import format_money, to_decimal_string


def describe_runway(forecast: Forecast) -> str:
    return runway.describe_runway(forecast.runway_weeks)


def render_table(forecast: Forecast, *, account_name: str = "", as_if: bool = False) -> str:
    """``as_if``: the forecast of a what-if, so its title says it is not today's."""
    cur = forecast.base_currency
    lines = [
        f"Cash forecast{' for ' + account_name if account_name else ''}{' as if' if as_if else ''} · {len(forecast.weeks)} week{'' if len(forecast.weeks) == 1 else 's'} from {day_text(forecast.as_of, year=True)}",
        f"Today {format_money(forecast.opening_balance, cur)} · Lowest {format_money(forecast.lowest_closing_balance, cur)} "
        f"in the week of {day_text(forecast.lowest_week_start)} · Runway: {describe_runway(forecast)}",
        "",
        f"{'Week':<10}{'In':>16}{'Out':>16}{'Close':>18}{'Low':>18}{'High':>18}  Conf",
    ]
    for week in forecast.weeks:
        lines.append(
            f"{day_text(week.start):<10}{format_money(week.inflows, cur):>16}{format_money(-week.outflows, cur):>16}"
            f"{format_money(week.closing_balance, cur):>18}{format_money(week.low, cur):>18}{format_money(week.high, cur):>18}  {week.confidence}"
        )
    return "\n".join(lines)


def accuracy_json(accuracy: Accuracy) -> dict[str, Any]:
    """``--json`` of ``tamio forecast accuracy`` and ``backtest`` (amounts as decimal strings)."""
    cur = accuracy.base_currency
    return {
        "interval": format(INTERVAL, "f"),
        "source": accuracy.source,
        "base_currency": cur,
        "from": accuracy.first.isoformat() if accuracy.first else None,
        "to": accuracy.last.isoformat() if accuracy.last else None,
        "horizons": [
            {
                "weeks_ahead": row.weeks_ahead,
                "forecasts": row.forecasts,
                "mean_absolute_error": to_decimal_string(row.error, cur) if row.forecasts else None,
                "baseline_mean_absolute_error": to_decimal_string(row.baseline_error, cur) if row.forecasts else None,
                "improvement": None if row.improvement is None else format(row.improvement, "f"),
                "coverage": None if row.coverage is None else format(row.coverage, "f"),
            }
            for row in accuracy.rows
        ],
    }


def accuracy_lines(accuracy: Accuracy) -> list[str]:
    """The table of forecast against actual, one line per horizon (the CLI prints it, Slack quotes it)."""
    cur = accuracy.base_currency
    lines = [f"{'Ahead':<10}{'Forecasts':>10}{'Error':>16}{'Due-date baseline':>20}{'Better by':>11}{'Band held':>11}"]
    for row in accuracy.rows:
        ahead = f"{row.weeks_ahead} week{'' if row.weeks_ahead == 1 else 's'}"
        if not row.forecasts:
            lines.append(f"{ahead:<10}{0:>10}{'-':>16}{'-':>20}{'-':>11}{'-':>11}")
            continue
        better = "-" if row.improvement is None else f"{row.improvement * 100:.0f} %"
        held = "-" if row.coverage is None else f"{row.coverage * 100:.0f} %"
        lines.append(
            f"{ahead:<10}{row.forecasts:>10}{format_money(row.error, cur):>16}{format_money(row.baseline_error, cur):>20}{better:>11}{held:>11}"
        )
    return lines


def describe_accuracy(accuracy: Accuracy) -> str:
    """What the table covers, in a sentence."""
    if accuracy.first is None or accuracy.last is None:
        if accuracy.source == "backtest":
            return "No forecast could be scored: the ledger has no week of history between those dates."
        return ("No stored forecast has reached its week yet. The 6 AM job stores one a day (`tamio jobs run morning` runs it "
                "by hand); `tamio forecast backtest --from DATE --to DATE` scores the history you have now.")
    how = "stored forecasts" if accuracy.source == "snapshots" else "forecasts replayed from the ledger, each with only what was known then"
    return (f"Forecast against actual: {how}, made from {day_text(accuracy.first, year=True)}, scored to {day_text(accuracy.last, year=True)}. "
            f"Error is the mean absolute error of the closing balance; the baseline expects every invoice on its due date; "
            f"the band is an {INTERVAL * 100:.0f} % interval.")


def render_accuracy(accuracy: Accuracy) -> str:
    return "\n".join([describe_accuracy(accuracy), "", *accuracy_lines(accuracy)])

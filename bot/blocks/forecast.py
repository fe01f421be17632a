"""The forecast as Block Kit: the headline numbers, the chart, a compact weekly table, confidence.

The table is monospaced in a code block. Thirteen weeks take about 700 characters; 52 weeks of
billion-sized amounts still fit, split across as few sections as Slack's 3,000-character limit
allows. Amounts are whole units without the symbol (the header says the currency).

    blocks = forecast_blocks(forecast, title="Cash forecast", image=image(alt=..., file_id="F1"),
                             share_value="13|2026-12-07")
"""

from __future__ import annotations

from datetime import date

from bot.blocks.common import (
    Block,
    actions,
    button,
    code_sections,
    context,
    cut,
    day_label,
    escape,
    header,
    money,
    section,
    whole,
)
from tamio.forecast.engine import Forecast
from tamio.forecast.views import describe_runway

SHARE_ACTION = "forecast_share"
OPEN_HOME_ACTION = "forecast_open_home"
CONFIDENCE_SHORT = {"high": "high", "medium": "med", "low": "low"}


def share_value(weeks: int, as_of: date, chart_file_id: str | None = None) -> str:
    """The Share button's value: what to recompute, and the caller's chart (to show in their copy again)."""
    return f"{weeks}:{as_of.isoformat()}" + (f":{chart_file_id}" if chart_file_id else "")


def runway_text(forecast: Forecast) -> str:
    return describe_runway(forecast)


def headline(forecast: Forecast) -> str:
    cur = forecast.base_currency
    return (
        f"Today *{money(forecast.opening_balance, cur)}* · "
        f"Lowest *{money(forecast.lowest_closing_balance, cur)}* in the week of {day_label(forecast.lowest_week_start)} · "
        f"Runway *{runway_text(forecast)}*"
    )


def consequence(forecast: Forecast) -> str | None:
    """Lead with what matters: the first week below the buffer (or below zero)."""
    cur = forecast.base_currency
    for week in forecast.weeks:
        if week.closing_balance < 0:
            return f":rotating_light: Cash runs out in the week of {day_label(week.start)} ({money(week.closing_balance, cur)})."
        if forecast.buffer and week.closing_balance < forecast.buffer:
            return (
                f":warning: Cash falls below your {money(forecast.buffer, cur)} buffer in the week of "
                f"{day_label(week.start)} ({money(week.closing_balance, cur)})."
            )
    return None


def table_lines(forecast: Forecast) -> list[str]:
    rows = [(f"{w.start.day} {w.start:%b}", whole(w.inflows), whole(-w.outflows) if w.outflows else "0", whole(w.closing_balance),
             CONFIDENCE_SHORT.get(w.confidence, w.confidence)) for w in forecast.weeks]
    widths = [max(len(r[i]) for r in rows) for i in range(1, 4)]
    widths = [max(widths[0], 2), max(widths[1], 3), max(widths[2], 5)]
    head = f"{'Week':<6}  {'In':>{widths[0]}}  {'Out':>{widths[1]}}  {'Close':>{widths[2]}}  Conf"
    lines = [head]
    for start, inflow, outflow, close, conf in rows:
        lines.append(f"{start:<6}  {inflow:>{widths[0]}}  {outflow:>{widths[1]}}  {close:>{widths[2]}}  {conf}")
    return lines


def confidence_text(forecast: Forecast) -> str:
    labels = [w.confidence for w in forecast.weeks]
    usual = max(set(labels), key=labels.count)
    if labels.count(usual) == len(labels):
        return f"Confidence: {usual} throughout."
    odd = [w for w in forecast.weeks if w.confidence != usual]
    named = ", ".join(f"{w.confidence} in the week of {day_label(w.start)}" for w in odd[:3])
    more = f" and {len(odd) - 3} more weeks" if len(odd) > 3 else ""
    return f"Confidence: mostly {usual}; {named}{more}."


def forecast_blocks(
    forecast: Forecast,
    *,
    title: str | None = None,
    image: Block | None = None,
    share_value: str | None = None,
    home_url: str | None = None,
    note: str | None = None,
    stale_rates: str = "",
) -> list[Block]:
    """The forecast message; with ``share_value`` it carries the Share and Open App Home buttons. ``stale_rates``
    (``tamio.data.service.stale_cash_rates``) is named on the cash figure those rates converted."""
    blocks: list[Block] = [
        header(title or f"Cash forecast · {len(forecast.weeks)} weeks from {day_label(forecast.as_of)}"),
        section(headline(forecast)),
    ]
    if stale_rates:
        cash = money(forecast.opening_balance, forecast.base_currency)
        blocks.append(context(cut(f":warning: Cash today ({cash}) converts {escape(stale_rates)}.", 1000)))
    warning = consequence(forecast)
    if warning:
        blocks.append(section(warning))
    if image is not None:
        blocks.append(image)
    blocks.extend(code_sections(table_lines(forecast)))
    buffer_note = f"Buffer {money(forecast.buffer, forecast.base_currency)}" if forecast.buffer else "No buffer set"
    blocks.append(context(f"{confidence_text(forecast)} Amounts in {forecast.base_currency}. {buffer_note}.", note or ""))
    if share_value is not None:
        elements = [button("Share in channel", SHARE_ACTION, share_value, style="primary")]
        if home_url:
            elements.append({**button("Open App Home", OPEN_HOME_ACTION, "home"), "url": home_url})
        blocks.append(actions(*elements, block_id="forecast_actions"))
    return blocks


def fallback_text(forecast: Forecast) -> str:
    cur = forecast.base_currency
    return (
        f"Cash forecast: today {money(forecast.opening_balance, cur)}, lowest {money(forecast.lowest_closing_balance, cur)} "
        f"in the week of {day_label(forecast.lowest_week_start)}, runway {describe_runway(forecast)}."
    )

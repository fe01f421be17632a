"""Words for a scenario's result, the same in Slack and on the command line."""

from __future__ import annotations

from tamio.dates import day_text
from tamio.forecast.views import describe_runway
from tamio.money import format_money
from tamio.scenarios.engine import ScenarioResult


def what_changes(result: ScenarioResult) -> str:
    """How the lowest point and the runway move, in one sentence."""
    cur, base, new = result.forecast.base_currency, result.baseline, result.forecast
    change = new.lowest_closing_balance - base.lowest_closing_balance
    moved = "unchanged" if change == 0 else f"{'up' if change > 0 else 'down'} {format_money(abs(change), cur)}"
    return (f"The lowest point goes from {format_money(base.lowest_closing_balance, cur)} (week of {day_text(base.lowest_week_start)}) "
            f"to {format_money(new.lowest_closing_balance, cur)} (week of {day_text(new.lowest_week_start)}), {moved}; "
            f"runway goes from {describe_runway(base)} to {describe_runway(new)}.")


def effect_line(result: ScenarioResult) -> str:
    """A saved scenario's effect today, short: the lowest point and the runway, then and now."""
    cur, base, new = result.forecast.base_currency, result.baseline, result.forecast
    return (f"lowest {format_money(base.lowest_closing_balance, cur)} → "
            f"{format_money(new.lowest_closing_balance, cur)}; runway {describe_runway(base)} → {describe_runway(new)}")

"""``tamio forecast [--weeks N] [--as-of YYYY-MM-DD] [--json]``."""

from __future__ import annotations

import argparse
import json
from datetime import date
from typing import Any

from tamio.cli.context import CliContext
from tamio.forecast.service import forecast_for_account
from tamio.forecast.views import render_table


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date; write it like 2026-12-07") from exc


def _weeks(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of weeks; use 1 to 52") from exc
    if not 1 <= value <= 52:
        raise argparse.ArgumentTypeError(f"{value} weeks is out of range; use 1 to 52")
    return value


def register(sub: Any) -> None:
    parser = sub.add_parser("forecast", help="the weekly cash forecast")
    parser.add_argument("--weeks", type=_weeks, default=13)
    parser.add_argument("--as-of", type=_date, default=None, help="first day of week 1 (default: today)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=_forecast)


async def _forecast(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.transaction() as session:
        account = await ctx.account(session)
    forecast = await forecast_for_account(
        ctx.sessions, account.id, today=ctx.today(account), now=ctx.now, settings=ctx.settings, weeks=args.weeks, as_of=args.as_of
    )
    if args.json:
        print(json.dumps(forecast.to_json()))
    else:
        print(render_table(forecast, account_name=account.name))
    return 0

"""``tamio forecast [--weeks N] [--as-of YYYY-MM-DD] [--json] [--what-if CHANGE ...]``."""

from __future__ import annotations

import argparse
import json
from datetime import date
from typing import Any

from tamio.cli.context import CliContext
from tamio.cli.scenarios import WHAT_IF_HELP, print_what_if
from tamio.forecast.service import calculate_forecast
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
    parser.add_argument("--what-if", dest="what_if", action="append", metavar="CHANGE", help=WHAT_IF_HELP)
    parser.set_defaults(handler=_forecast)


async def _forecast(args: argparse.Namespace, ctx: CliContext) -> int:
    if args.what_if:
        return await print_what_if(args, ctx, as_of=args.as_of, weeks=args.weeks)
    async with ctx.transaction() as session:
        account = await ctx.account(session)
        today = ctx.today(account)
        as_of = args.as_of or today
        forecast = await calculate_forecast(
            session, account.id, as_of=as_of, weeks=args.weeks, settings=ctx.settings, today=today, now=ctx.now
        )
    if args.json:
        print(json.dumps(forecast.to_json()))
    else:
        print(render_table(forecast, account_name=account.name))
    return 0

"""``tamio forecast [--weeks N] [--as-of YYYY-MM-DD] [--json] [--what-if CHANGE ...]``, and how right it has been.

    tamio forecast                                   the 13 weeks from today (schedules generated as far as it shows)
    tamio forecast accuracy [--weeks N] [--json]     stored forecasts against what happened, beside the due-date baseline
    tamio forecast backtest --from DATE --to DATE [--json]
                                                     the same table from the ledger replayed at weekly cut-offs

``--json`` of the forecast states its band (``"interval": "0.80"``: each week's low/high is an 80 %
interval). ``accuracy`` reads the snapshots the 6 AM job stores (``tamio jobs run morning``);
``backtest`` needs only the history recorded (payments with their dates).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from tamio.cli.context import CliContext, date_argument
from tamio.data.service import stale_cash_rates
from tamio.forecast.service import forecast_for_account
from tamio.forecast.snapshots import forecast_accuracy, run_backtest
from tamio.forecast.views import accuracy_json, render_accuracy, render_table
from tamio.money import format_money


def _weeks(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of weeks; use 1 to 52") from exc
    if not 1 <= value <= 52:
        raise argparse.ArgumentTypeError(f"{value} weeks is out of range; use 1 to 52")
    return value


def _lookback(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of weeks; use 1 to 104") from exc
    if not 1 <= value <= 104:
        raise argparse.ArgumentTypeError(f"{value} weeks is out of range; look back 1 to 104 weeks")
    return value


def register(sub: Any) -> None:
    parser = sub.add_parser("forecast", help="the weekly cash forecast, and how right it has been")
    parser.add_argument("--weeks", type=_weeks, default=13)
    parser.add_argument("--as-of", type=date_argument, default=None, help="first day of week 1 (default: today)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--what-if", dest="what_if", action="append", metavar="CHANGE",
                        help='a hypothetical change (repeatable): late "Acme Corp" 30, expense "New hire" 8000 monthly from 2027-03-01, ...')
    parser.set_defaults(handler=_forecast)
    more = parser.add_subparsers(dest="forecast_command", metavar="accuracy|backtest")
    accuracy = more.add_parser("accuracy", help="past forecasts against what happened, 1, 4 and 13 weeks ahead")
    accuracy.add_argument("--weeks", dest="lookback", type=_lookback, default=13,
                          help="score the weeks that ended in the last N weeks (default 13)")
    accuracy.add_argument("--json", action="store_true", help="print one JSON object")
    accuracy.set_defaults(handler=_accuracy)
    replay = more.add_parser("backtest", help="replay the recorded history at weekly cut-offs and score it the same way")
    replay.add_argument("--from", dest="start", type=date_argument, required=True, help="the first cut-off, e.g. 2026-01-05")
    replay.add_argument("--to", dest="end", type=date_argument, required=True, help="the last day scored, e.g. 2026-12-31")
    replay.add_argument("--json", action="store_true", help="print one JSON object")
    replay.set_defaults(handler=_backtest)


async def _forecast(args: argparse.Namespace, ctx: CliContext) -> int:
    if args.what_if:
        # Loaded only for a what-if, so that `tamio forecast` starts fast.
        from tamio.cli.scenarios import print_what_if

        return await print_what_if(args, ctx, as_of=args.as_of, weeks=args.weeks)
    async with ctx.transaction() as session:
        account = await ctx.account(session)
        stale = await stale_cash_rates(session, account_id=account.id, base_currency=account.base_currency, today=ctx.today(account))
    forecast = await forecast_for_account(
        ctx.sessions, account.id, today=ctx.today(account), now=ctx.now, settings=ctx.settings, weeks=args.weeks, as_of=args.as_of
    )
    if args.json:
        print(json.dumps(forecast.to_json()))
    else:
        print(render_table(forecast, account_name=account.name))
        if stale:  # named on the figure it changed: the opening cash every week's balance starts from
            print(f"Opening cash {format_money(forecast.opening_balance, forecast.base_currency)} converts {stale}.")
    return 0


async def _accuracy(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.transaction() as session:
        account = await ctx.account(session)
        found = await forecast_accuracy(session, account=account, today=ctx.today(account), weeks=args.lookback)
    print(json.dumps(accuracy_json(found)) if args.json else render_accuracy(found))
    return 0


async def _backtest(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.transaction() as session:
        account = await ctx.account(session)
        found = await run_backtest(session, account=account, start=args.start, end=args.end, today=ctx.today(account))
    print(json.dumps(accuracy_json(found)) if args.json else render_accuracy(found))
    return 0

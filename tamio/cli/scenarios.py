"""``tamio forecast --what-if '...'`` and ``tamio scenario save|list|show|delete``.

    tamio forecast --json --what-if 'expense "New hire" 8000 monthly from 2027-03-01' --what-if 'late "Acme Corp" 30'
    tamio scenario save "Hire and Acme late" --what-if 'late "Acme Corp" 30'
    tamio scenario show "Hire and Acme late" --json
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from typing import Any

from tamio.accounts.models import Account
from tamio.cli.context import CliContext
from tamio.dates import day_text
from tamio.forecast.views import render_table
from tamio.money import format_money
from tamio.scenarios.changes import Scenario
from tamio.scenarios.engine import ScenarioResult
from tamio.scenarios.inline import parse_changes
from tamio.scenarios.service import (
    delete_scenario,
    get_scenario,
    list_scenarios,
    save_scenario,
    scenario_of,
    what_if,
)
from tamio.scenarios.views import what_changes

WHAT_IF_HELP = "a hypothetical change (repeatable): `late \"Acme Corp\" 30`, `expense \"New hire\" 8000 monthly from 2027-03-01`, ..."


def register(sub: Any) -> None:
    parser = sub.add_parser("scenario", help="what-if scenarios: save, list, show, delete")
    inner = parser.add_subparsers(dest="scenario_command", metavar="ACTION")
    inner.required = True
    save = inner.add_parser("save", help="save a named scenario of changes")
    save.add_argument("name")
    save.add_argument("--what-if", dest="what_if", action="append", required=True, metavar="CHANGE", help=WHAT_IF_HELP)
    save.set_defaults(handler=_save)
    listed = inner.add_parser("list", help="the saved scenarios")
    listed.add_argument("--json", action="store_true", help="print one JSON object")
    listed.set_defaults(handler=_list)
    show = inner.add_parser("show", help="a saved scenario evaluated on today's data")
    show.add_argument("name")
    show.add_argument("--json", action="store_true", help="print one JSON object")
    show.set_defaults(handler=_show)
    delete = inner.add_parser("delete", help="delete a saved scenario")
    delete.add_argument("name")
    delete.set_defaults(handler=_delete)


def render_result(result: ScenarioResult, *, account_name: str) -> str:
    """The changes, the scenario's forecast table, then the weekly difference and one line on what changes."""
    cur = result.forecast.base_currency
    # The changes come first and the table says "as if": without them, the scenario's table reads as today's forecast.
    lines = ["What if: " + "; ".join(result.changes), "", render_table(result.forecast, account_name=account_name, as_if=True), "",
             "Beside today's forecast:"]
    lines.append(f"{'Week':<10}{'Baseline':>18}{'Scenario':>18}{'Difference':>18}")
    for week, base, difference in zip(result.forecast.weeks, result.baseline.weeks, result.differences, strict=True):
        lines.append(f"{day_text(week.start):<10}{format_money(base.closing_balance, cur):>18}{format_money(week.closing_balance, cur):>18}"
                     f"{format_money(difference, cur):>18}")
    lines += ["", what_changes(result)]
    return "\n".join(lines)


async def print_what_if(args: argparse.Namespace, ctx: CliContext, *, as_of: date | None, weeks: int) -> int:
    """``tamio forecast --what-if ...``: the forecast with the changes, beside the real one."""
    async with ctx.transaction() as session:
        account = await ctx.account(session)
        today = ctx.today(account)
        scenario = Scenario(changes=parse_changes(args.what_if, today=today, base_currency=account.base_currency))
        result = await what_if(session, account=account, scenario=scenario, settings=ctx.settings, today=today, now=ctx.now,
                               as_of=as_of, weeks=weeks)
    _print(result, account, as_json=args.json)
    return 0


def _print(result: ScenarioResult, account: Account, *, as_json: bool, name: str | None = None) -> None:
    if as_json:
        shown = result.to_json()
        if name is not None:
            shown = {"name": name, **shown}
        print(json.dumps(shown))
    else:
        print((f"Scenario {name}\n" if name else "") + render_result(result, account_name=account.name))


async def _save(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.transaction() as session:
        account = await ctx.account(session)
        today = ctx.today(account)
        scenario = Scenario(changes=parse_changes(args.what_if, today=today, base_currency=account.base_currency))
        # Evaluated before saving, so a name that does not resolve is refused now, not on every show.
        await what_if(session, account=account, scenario=scenario, settings=ctx.settings, today=today, now=ctx.now)
        saved = await save_scenario(session, account=account, name=args.name, scenario=scenario, actor="cli", now=ctx.now)
        print(f"Saved scenario {saved.name} ({len(scenario.changes)} change{'' if len(scenario.changes) == 1 else 's'}).")
    return 0


async def _list(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.transaction() as session:
        account = await ctx.account(session)
        saved = await list_scenarios(session, account_id=account.id)
        rows = [(s, scenario_of(s.changes)) for s in saved]
    if args.json:
        print(json.dumps({"scenarios": [
            {"id": s.id, "name": s.name, "changes": [c.describe(account.base_currency) for c in sc.changes],
             "created_by": s.created_by, "updated_at": s.updated_at.isoformat()}
            for s, sc in rows
        ]}))
    elif not rows:
        print("No saved scenarios. Save one with `tamio scenario save NAME --what-if '...'`.")
    else:
        for s, sc in rows:
            print(f"{s.name}: " + "; ".join(c.describe(account.base_currency) for c in sc.changes))
    return 0


async def _show(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.transaction() as session:
        account = await ctx.account(session)
        saved = await get_scenario(session, account_id=account.id, name=args.name)
        today = ctx.today(account)
        result = await what_if(session, account=account, scenario=scenario_of(saved.changes), settings=ctx.settings, today=today,
                               now=ctx.now)
    _print(result, account, as_json=args.json, name=saved.name)
    return 0


async def _delete(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.transaction() as session:
        account = await ctx.account(session)
        saved = await get_scenario(session, account_id=account.id, name=args.name)
        await delete_scenario(session, account=account, scenario=saved, actor="cli", now=ctx.now)
        print(f"Deleted scenario {saved.name}.")
    return 0

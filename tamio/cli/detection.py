"""``tamio detection [RULE on|off|threshold N|threshold none] --as MEMBER``: the detection rules from the command line.

The same words as ``/tamio detection`` (``tamio.detection.rule_settings.read_rule_words``) and the
same core function, with its permission check (admins) and audit, as Slack and
``PATCH /api/v1/config/detection/{type}``.

    tamio detection
    tamio detection late_payment threshold 10 --as maria
    tamio detection unexpected_expense off --as U024BE7LH
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from tamio.cli.actions import _member
from tamio.cli.context import CliContext
from tamio.detection.rule_settings import list_detection_rules, read_rule_words, update_detection_rule
from tamio.money import format_money


def register(sub: Any) -> None:
    parser = sub.add_parser("detection", help="detection rules: list them, switch one off or change its threshold (admins)")
    parser.add_argument("words", nargs="*", metavar="RULE on|off|threshold N|threshold none",
                        help="e.g. `late_payment threshold 10`; nothing lists the rules")
    parser.add_argument("--as", dest="member", default=None, help="who changes it: a Slack user id, member id or name (an admin)")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=_detection)


async def _detection(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.transaction() as session:
        account = await ctx.account(session)
        found = read_rule_words(list(args.words))
        if found is not None:
            kind, changes = found
            member = await _member(session, account, args.member)
            await update_detection_rule(session, account=account, member=member, detection_type=kind.value, changes=changes, now=ctx.now)
        views = await list_detection_rules(session, account_id=account.id)
    if args.json:
        print(json.dumps({"rules": [{"detection_type": v.detection_type.value, "enabled": v.enabled,
                                     "threshold": None if v.threshold is None else format(v.threshold, "f"),
                                     "threshold_in_effect": format(v.in_effect, "f"), "unit": v.unit} for v in views]}, indent=2))
        return 0
    for view in views:
        print(f"{view.detection_type.value:<24} {view.describe(lambda v: format_money(v, account.base_currency))}")
    return 0

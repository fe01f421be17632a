"""``tamio member add --name NAME --role ROLE [--slack-user U123] [--email E]``, ``tamio member list [--json]``.

Who decides is part of every record, so the command line needs members too: ``tamio actions
approve ... --as NAME`` and ``tamio token create --member ID`` name one. In Slack, people become
members when they first use Tamio; an admin changes roles with ``/tamio role``.

    tamio member add --name ada --role admin --slack-user U024BE7LH
    tamio token create --member mem_...
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from tamio.accounts.models import Role
from tamio.accounts.service import add_member, list_members
from tamio.cli.context import CliContext


def register(sub: Any) -> None:
    member = sub.add_parser("member", help="people in the account and their roles (viewer, approver, admin)")
    mem_sub = member.add_subparsers(dest="member_command", metavar="ACTION")
    mem_sub.required = True
    add = mem_sub.add_parser("add", help="add a member: tamio member add --name ada --role admin")
    add.add_argument("--name", required=True, help="the name to use with --as, e.g. ada")
    add.add_argument("--role", choices=[r.value for r in Role], default=Role.VIEWER.value, help="default: viewer")
    add.add_argument("--slack-user", default=None, help="their Slack user id, e.g. U024BE7LH")
    add.add_argument("--email", default=None)
    add.set_defaults(handler=_add)
    listing = mem_sub.add_parser("list", help="list members")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_list)


async def _add(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.transaction() as session:
        account = await ctx.account(session)
        member = await add_member(
            session, account_id=account.id, display_name=args.name, role=Role(args.role), slack_user_id=args.slack_user, email=args.email,
            now=ctx.now,
        )
    print(f"Added member {member.id} ({member.display_name}, {member.role.value}).")
    return 0


async def _list(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.transaction() as session:
        account = await ctx.account(session)
        members = await list_members(session, account_id=account.id)
    rows = [
        {"id": m.id, "display_name": m.display_name, "role": m.role.value, "slack_user_id": m.slack_user_id, "email": m.email}
        for m in members
    ]
    if args.json:
        print(json.dumps(rows))
    elif not rows:
        print("No members yet. Add one with `tamio member add --name ada --role admin`.")
    else:
        for row in rows:
            print(f"{row['id']}  {row['display_name'] or '-':<20} {row['role']:<9} {row['slack_user_id'] or '-'}")
    return 0

"""``tamio token create --member ID [--name N]``, ``tamio token list [--json]``, ``tamio token revoke ID``.

The operator at the command line stands in for an admin: the secret is printed once and never
again (only its SHA-256 is stored). In Slack, admins use ``/tamio token``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from tamio.accounts.models import Account, Member
from tamio.accounts.tokens import create_token, list_tokens, revoke_token
from tamio.cli.context import CliContext
from tamio.errors import NotFound


def register(sub: Any) -> None:
    token = sub.add_parser("token", help="REST API tokens")
    token_sub = token.add_subparsers(dest="token_command", metavar="ACTION")
    token_sub.required = True
    create = token_sub.add_parser("create", help="create a token for a member (printed once)")
    create.add_argument("--member", required=True, help="the member id the token acts as (with that member's role)")
    create.add_argument("--name", default="", help="what the token is for, e.g. 'reporting'")
    create.set_defaults(handler=_create)
    listing = token_sub.add_parser("list", help="list tokens (never their secrets)")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_list)
    revoke = token_sub.add_parser("revoke", help="revoke a token now")
    revoke.add_argument("token_id")
    revoke.set_defaults(handler=_revoke)


async def _create(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.transaction() as session:
        member = None if ctx.account_id else await session.get(Member, args.member)
        # A member belongs to one account, so naming the member names the account.
        account = await session.get(Account, member.user_id) if member is not None else None
        account = account or await ctx.account(session)
        try:
            issued = await create_token(session, account=account, actor=None, member_id=args.member, name=args.name, now=ctx.now)
        except NotFound as exc:
            raise NotFound(
                f"There is no member `{args.member}` in this account.",
                hint="See their ids with `tamio member list`, or add one with `tamio member add --name ada --role admin`.",
            ) from exc
        member = await session.get(Member, issued.token.member_id)
        role = member.role.value if member else "?"
    print(f"Created token {issued.token.id} for member {issued.token.member_id} ({role}).")
    print("Copy it now; it will not be shown again:")
    print(issued.secret)
    return 0


async def _list(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.transaction() as session:
        account = await ctx.account(session)
        tokens = await list_tokens(session, account_id=account.id)
    rows = [
        {
            "id": t.id,
            "member_id": t.member_id,
            "name": t.name,
            "prefix": t.prefix,
            "created_at": t.created_at.isoformat(),
            "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
            "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
        }
        for t in tokens
    ]
    if args.json:
        print(json.dumps(rows))
    elif not rows:
        print("No API tokens yet. Create one with `tamio token create --member MEMBER_ID`.")
    else:
        for row in rows:
            state = f"revoked {row['revoked_at']}" if row["revoked_at"] else f"last used {row['last_used_at'] or 'never'}"
            print(f"{row['id']}  {row['prefix']}…  member {row['member_id']}  {row['name'] or '-'}  {state}")
    return 0


async def _revoke(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.transaction() as session:
        account = await ctx.account(session)
        token = await revoke_token(session, account=account, actor=None, token_id=args.token_id, now=ctx.now)
    print(f"Revoked token {token.id} ({token.prefix}…).")
    return 0

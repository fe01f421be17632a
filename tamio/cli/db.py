"""``tamio db upgrade|downgrade|check|backfill-schedules``: the database named by TAMIO_DATABASE_URL.

``backfill-schedules`` gives every account (or the one of ``--account``) what the schedules path
of the forecast reads: an agreement for each billing line without one, and schedules through the
rolling horizon (``tamio.obligations.backfill``). The forecast does the same on first use; this
does it ahead of time, for example right after switching USE_OBLIGATION_FOR_FORECAST on.
"""

from __future__ import annotations

import argparse
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import make_url

from tamio import migrate
from tamio.accounts.models import Account
from tamio.cli.context import CliContext
from tamio.dates import day_text
from tamio.obligations.backfill import backfill_schedules, lock_account


def register(sub: Any) -> None:
    parser = sub.add_parser("db", help="migrate the database")
    db_sub = parser.add_subparsers(dest="db_command", metavar="ACTION")
    db_sub.required = True
    up = db_sub.add_parser("upgrade", help="migrate to the newest schema")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(sync_handler=_upgrade)
    down = db_sub.add_parser("downgrade", help="migrate back (default: to an empty database)")
    down.add_argument("revision", nargs="?", default="base")
    down.set_defaults(sync_handler=_downgrade)
    check = db_sub.add_parser("check", help="fail when models and migrations disagree")
    check.set_defaults(sync_handler=_check)
    backfill = db_sub.add_parser(
        "backfill-schedules", help="give every billing line its obligation and every obligation its schedules (the forecast's schedules path)"
    )
    backfill.set_defaults(handler=_backfill_schedules)


def _upgrade(args: argparse.Namespace, ctx: CliContext) -> int:
    migrate.upgrade(ctx.settings.database_url, args.revision)
    # "at head" is Alembic's word; a new user reads "up to date" (a named revision is said as given).
    state = "up to date (the latest schema)" if args.revision == "head" else f"at revision {args.revision}"
    print(f"Database is {state}: {_shown(ctx.settings.database_url)}")
    return 0


def _shown(url: str) -> str:
    """The database URL without its password, for printing."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparseable URL fails later with its own message; print nothing secret
        return "(the database named by TAMIO_DATABASE_URL)"


def _downgrade(args: argparse.Namespace, ctx: CliContext) -> int:
    migrate.downgrade(ctx.settings.database_url, args.revision)
    print(f"Database downgraded to {args.revision}.")
    return 0


def _check(args: argparse.Namespace, ctx: CliContext) -> int:
    migrate.check(ctx.settings.database_url)
    print("Models and migrations agree.")
    return 0


async def _backfill_schedules(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.transaction() as session:
        if ctx.account_id is not None:
            ids = [(await ctx.account(session)).id]
        else:
            ids = list((await session.execute(select(Account.id).order_by(Account.created_at, Account.id))).scalars())
    if not ids:
        print("There are no accounts yet; nothing to backfill.")
        return 0
    for account_id in ids:  # one transaction per account: a large one does not hold the others back
        async with ctx.transaction() as session:
            account = await lock_account(session, account_id)
            assert account is not None
            result = await backfill_schedules(session, account=account, settings=ctx.settings, today=ctx.today(account), now=ctx.now)
        lines = f"{result.agreements_created} billing line{'' if result.agreements_created == 1 else 's'} given an obligation"
        print(f"{account.name}: {lines}, {result.schedules_changed} schedules added or brought up to date; "
              f"schedules run through {day_text(result.through, year=True)}.")
    return 0

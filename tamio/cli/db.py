"""``tamio db upgrade|downgrade|check``: migrate the database named by TAMIO_DATABASE_URL."""

from __future__ import annotations

import argparse
from typing import Any

from tamio import migrate
from tamio.cli.context import CliContext


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


def _upgrade(args: argparse.Namespace, ctx: CliContext) -> int:
    migrate.upgrade(ctx.settings.database_url, args.revision)
    print(f"Database is at {args.revision}: {_shown(ctx.settings.database_url)}")
    return 0


def _shown(url: str) -> str:
    """The database URL without its password, for printing."""
    from sqlalchemy.engine import make_url

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

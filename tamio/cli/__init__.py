"""The ``tamio`` command. An edge: it reads the settings and the clock once per command.

Each area registers its subcommands (``register(subparsers)``) and sets ``handler`` to an
``async def handler(args, ctx) -> int``. One error boundary: a ``TamioError`` is a line on stderr
and exit status 1; anything else gets a correlation id and exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import uuid
from collections.abc import Sequence

from tamio.cli.context import CliContext
from tamio.config import Settings
from tamio.errors import TamioError

log = logging.getLogger("tamio.cli")


def build_parser() -> argparse.ArgumentParser:
    from tamio.cli import accounts, data, db, plugins

    parser = argparse.ArgumentParser(prog="tamio", description="Tamio, the cash-flow assistant that lives in Slack.")
    parser.add_argument("--account", help="the account id (default: the only account)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in (db, accounts, data, *plugins.modules()):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings()
    except Exception as exc:  # pydantic explains which variable is wrong
        print(f"tamio: the settings are not valid: {exc}", file=sys.stderr)
        return 1
    ctx = CliContext(settings=settings, account_id=args.account)
    try:
        if getattr(args, "sync_handler", None):
            return int(args.sync_handler(args, ctx))
        return int(asyncio.run(_run(args, ctx)))
    except TamioError as exc:
        print(f"tamio: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception:
        correlation = uuid.uuid4().hex[:12]
        log.exception("unexpected error (correlation id %s)", correlation)
        print(f"tamio: something went wrong on our side (correlation id {correlation}); nothing was saved.", file=sys.stderr)
        return 2


async def _run(args: argparse.Namespace, ctx: CliContext) -> int:
    try:
        return int(await args.handler(args, ctx))
    finally:
        await ctx.close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

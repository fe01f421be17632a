"""The ``tamio`` command. An edge: it reads the settings and the clock once per command.

Each area registers its subcommands (``register(subparsers)``) and sets ``handler`` to an
``async def handler(args, ctx) -> int``. One error boundary: a ``TamioError`` is a line on stderr
and exit status 1; anything else gets a correlation id and exit status 2.

The command starts at once: ``COMMANDS`` names every command with its help, so ``tamio --help``
imports no area, and a chosen command imports its own module only (the database, the settings and
the models load after the arguments are read). Imports kept inside functions for that are marked
"start-up cost".
"""

from __future__ import annotations

import argparse
import atexit
import gc
import importlib
import io
import logging
import os
import re
import socket
import sys
import threading
import traceback
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn

from tamio.errors import BUSY_DATABASE, MissingExchangeRate, TamioError, database_busy

if TYPE_CHECKING:
    from tamio.cli.context import CliContext

log = logging.getLogger("tamio.cli")


class Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line on stderr (what was wrong, and where to read more)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


# Every command, the module under tamio/cli that registers it, and its help, in `tamio --help`'s
# order (tests/service/test_cli_startup.py checks them against what the modules register).
COMMANDS: dict[str, tuple[str, str]] = {
    "db": ("db", "migrate the database"),
    "account": ("accounts", "create and list business accounts"),
    "audit": ("accounts", "check the audit trail"),
    "balance": ("data", "cash accounts and their balances"),
    "rates": ("data", "exchange rates"),
    "contact": ("data", 'set whom follow-up emails go to: tamio contact "Acme Corp" ap@acme.example [--name "Jane Doe"]'),
    "add": ("adding", "add what the business is owed or owes, in /tamio add's words: tamio add 'client \"Acme\" invoice 5000 due 2026-11-20'"),
    "import": ("obligations", "import data from a file"),
    "paid": ("payments", 'record a payment: tamio paid "Acme Corp" 5000 [USD] [--on 2026-12-01] [--for INV-1042]'),
    "client": ("clients", 'one client at a glance: how it pays and what it owes (tamio client "Acme Corp")'),
    "forecast": ("forecast", "the weekly cash forecast, and how right it has been"),
    "scenario": ("scenarios", "what-if scenarios: save, list, show, delete"),
    "pipeline": ("pipeline", "run detection and preparation"),
    "jobs": ("jobs", "run a scheduled job by hand"),
    "actions": ("actions", "prepared actions: list, show, approve, skip, retry"),
    "detection": ("detection", "detection rules: list them, switch one off or change its threshold (admins)"),
    "history": ("history", "a client's or vendor's chases, delays and payments: who decided, when, what was sent"),
    "outbox": ("outbox", "messages queued for Slack and email; retry dead ones"),
    "member": ("members", "people in the account and their roles (viewer, approver, admin)"),
    "token": ("tokens", "REST API tokens"),
    "connect": ("integrations", "connect an accounting integration: tamio connect xero"),
    "sync": ("integrations", "sync with an accounting integration: tamio sync xero [--full]"),
    "integrations": ("integrations", "integration connections"),
    "serve": ("serve", "run the Slack app (HTTP, or Socket Mode)"),
    "sandbox": ("sandbox", "run Tamio in a local Slack sandbox in the browser (what `make run` starts)"),
}


def build_parser(command: str | None = None, *, named_only: bool = False) -> argparse.ArgumentParser:
    """The command line. Every module registers its commands; with ``command``, only that command's
    module does, and the others are named with their help but not imported. ``named_only``: no
    module is imported (enough to tell which command was chosen, or to print ``tamio --help``)."""
    parser = Parser(prog="tamio", description="Tamio, the cash-flow assistant that lives in Slack.")
    parser.add_argument("--account", help="the account id (default: the only account)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    chosen = COMMANDS[command][0] if command in COMMANDS else None
    registered: set[str] = set()
    for name, (module, about) in COMMANDS.items():
        if named_only or (command is not None and module != chosen):
            sub.add_parser(name, help=about, add_help=not named_only)
        elif module not in registered:
            registered.add(module)
            importlib.import_module(f"tamio.cli.{module}").register(sub)  # start-up cost: the chosen command's only
    _accept_account_anywhere(sub)
    return parser


def chosen_command(argv: Sequence[str] | None) -> str:
    """The command ``argv`` names, read without importing any; ``--help`` and usage mistakes end here."""
    args, _ = build_parser(named_only=True).parse_known_args(argv)
    return str(args.command)


def _accept_account_anywhere(sub: Any) -> None:
    """``tamio forecast --account ID`` means the same as ``tamio --account ID forecast``."""
    for command in sub.choices.values():
        nested = [a for a in command._actions if isinstance(a, argparse._SubParsersAction)]
        for inner in nested:
            _accept_account_anywhere(inner)
        runs_itself = command.get_default("handler") is not None or command.get_default("sync_handler") is not None
        if (runs_itself or not nested) and not any("--account" in a.option_strings for a in command._actions):
            command.add_argument("--account", default=argparse.SUPPRESS, help="the account id (default: the only account)")


def main(argv: Sequence[str] | None = None, *, now: datetime | None = None, settle: bool = False) -> int:
    """Run one command; ``now`` (an aware datetime) stands in for the clock, as tests inject it.
    ``settle``: the process is the ``tamio`` program (``run``), which freezes what start-up made
    (``tamio.process.settle_heap``) once the command's modules are imported; not a test calling
    ``main`` again and again, whose heap would keep every test's garbage.

    Output piped into a reader that stops early (``tamio rates list | head -1``) ends the command
    quietly, as Python's documentation advises for SIGPIPE: no traceback, exit status 1.
    """
    try:
        code = _main(argv, now=now, settle=settle)
        sys.stdout.flush()  # inside the try: a closed pipe is found here, not at interpreter exit
        return code
    except BrokenPipeError:
        _silence_stdout()
        return 1


def run() -> NoReturn:
    """The ``tamio`` program: ``main``, then out without taking the interpreter apart. Freeing every
    loaded module's objects one by one costs a tenth of a second, as much as a forecast; the exit
    functions still run (logging's flush among them) and the output is flushed. A command that
    leaves a thread running (none does today) exits the ordinary way, which waits for it."""
    code = main(settle=True)
    if any(not thread.daemon for thread in threading.enumerate() if thread is not threading.main_thread()):
        sys.exit(code)
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # the reader went away after all: as ``main`` ends then
        _silence_stdout()
        code = 1
    os._exit(code)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's last flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass  # not a real file (a test's capture): nothing is flushed at exit


def _main(argv: Sequence[str] | None, *, now: datetime | None, settle: bool = False) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    gc.disable()  # importing makes hundreds of thousands of objects that all live on: no collection finds garbage
    try:
        parser = build_parser(chosen_command(argv))
        args = parser.parse_args(argv)
        import asyncio  # start-up cost: after --help and usage mistakes

        from tamio.cli.context import CliContext  # start-up cost
        from tamio.config import Settings  # start-up cost
        from tamio.db import utcnow  # start-up cost
    finally:
        gc.enable()
    if settle:
        from tamio.process import settle_heap  # start-up cost: only once a command runs

        settle_heap(collect=False)
    try:
        settings = Settings()
    except Exception as exc:  # pydantic explains which variable is wrong
        print(f"tamio: the settings are not valid: {_settings_problem(exc)}", file=sys.stderr)
        return 1
    ctx = CliContext(settings=settings, account_id=args.account, now=now or utcnow())
    try:
        if getattr(args, "sync_handler", None):
            return int(args.sync_handler(args, ctx))
        return int(asyncio.run(_run(args, ctx)))
    except TamioError as exc:
        print(f"tamio: {cli_wording(_for_the_command_line(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        problem = database_problem(exc, settings.database_url)
        if problem is None and isinstance(exc, BrokenPipeError):
            raise  # our output's reader went away: ``main`` ends quietly
        if problem is not None:
            print(f"tamio: {problem}", file=sys.stderr)
            return 1
        correlation = uuid.uuid4().hex[:12]
        log.exception("unexpected error (correlation id %s)", correlation)
        print(f"tamio: something went wrong on our side (correlation id {correlation}); nothing was saved.", file=sys.stderr)
        return 2


# Slack commands that the domain's messages name, and the same thing on the command line.
CLI_FORMS: dict[str, str] = {
    "/tamio connect xero": "tamio connect xero",
    "/tamio sync": "tamio sync xero",
    "/tamio sync xero": "tamio sync xero",
}
_SLACK_COMMAND = re.compile(r"`(/tamio[^`]*)`( in Slack)?")


def _for_the_command_line(exc: TamioError) -> str:
    """The error's words, with how to add a missing exchange rate here rather than in Slack."""
    if isinstance(exc, MissingExchangeRate) and exc.currencies is not None:
        base, quote = exc.currencies
        return (f"{exc.message} Add one with `tamio rates add {base} {quote} RATE` (the server's feed; with --account, "
                "that account's own), or import the ECB's with `tamio rates import FILE`.")
    return str(exc)


def cli_wording(text: str) -> str:
    """A message for the command line: a Slack command it names becomes the ``tamio`` command that
    does the same, and one with no command-line form is said to be in Slack."""

    def reword(match: re.Match[str]) -> str:
        command = match.group(1)
        if command in CLI_FORMS:
            return f"`{CLI_FORMS[command]}`"
        return f"`{command}` in Slack"

    return _SLACK_COMMAND.sub(reword, text)


def _settings_problem(exc: Exception) -> str:
    """pydantic's report on one line: each variable, what was wrong with it, and the value given."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc).replace("\n", " ")
    parts = []
    for error in errors():
        name = ".".join(str(part) for part in error.get("loc", ())) or "a setting"
        parts.append(f"{name}: {error.get('msg', 'not valid')} (got {error.get('input')!r})")
    return "; ".join(parts) + "."


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not e for e in seen):
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _from_database_layer(exc: BaseException) -> bool:
    frames = traceback.extract_tb(exc.__traceback__)
    return any(any(part in frame.filename for part in ("/sqlalchemy/", "/asyncpg/", "/aiosqlite/", "/alembic/")) for frame in frames)


def database_problem(exc: BaseException, url: str) -> str | None:
    """What went wrong reaching the database, and what to do, when that is what went wrong (else None)."""
    from sqlalchemy.engine import make_url

    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "TAMIO_DATABASE_URL is not a database URL; write it like sqlite:///var/tamio.db or postgresql://user:password@host/tamio."
    chain = _chain(exc)
    if database_busy(exc):
        return f"{BUSY_DATABASE} ({shown} was being written by another process.)"
    for error in chain:
        if isinstance(error, OSError) and error.filename and str(error.filename) in url:
            return f"I couldn't open the SQLite database {shown} ({error.strerror}); check that its directory exists and is writable."
    if not any(_from_database_layer(e) for e in chain):
        return None
    for error in chain:
        name, text = type(error).__name__, str(error)
        if "no such table" in text or name == "UndefinedTableError" or (name == "ProgrammingError" and "does not exist" in text):
            return f"The database {shown} has no Tamio tables yet, or an older schema; run `tamio db upgrade` first."
        if name in ("NoSuchModuleError", "ArgumentError"):
            return f"TAMIO_DATABASE_URL ({shown}) is not a database Tamio can use; write sqlite:///var/tamio.db or postgresql://user:password@host/tamio."
        if name == "InvalidCatalogNameError":
            return f"The database in TAMIO_DATABASE_URL ({shown}) does not exist; create it (e.g. `createdb tamio`), then run `tamio db upgrade`."
        if name in ("InvalidPasswordError", "InvalidAuthorizationSpecificationError"):
            return f"The database server refused the user or password in TAMIO_DATABASE_URL ({shown}); check them."
        if isinstance(error, (ConnectionError, TimeoutError, socket.gaierror)) or name in ("CannotConnectNowError", "ConnectionDoesNotExistError"):
            return f"I couldn't connect to the database at {shown} ({error}); check TAMIO_DATABASE_URL and that the server is running."
        if "unable to open database file" in text:
            return f"I couldn't open the SQLite database {shown}; check that its directory exists and is writable."
    return None


async def _run(args: argparse.Namespace, ctx: CliContext) -> int:
    try:
        try:
            code = int(await args.handler(args, ctx))
        except MissingExchangeRate as missing:  # nothing was saved; the configured feed may have the rate
            from tamio.currency.feed import RateFeed  # start-up cost: aiohttp, for this case only

            if not await RateFeed(ctx.settings.ecb_feed_url, timeout_seconds=30).fetch_for(ctx.sessions, missing):
                raise
            code = int(await args.handler(args, ctx))
        await ctx.drain_refreshes()
        return code
    finally:
        await ctx.close()


if __name__ == "__main__":  # pragma: no cover
    run()

"""``tamio sandbox [--port 8080] [--app-port 3000]``: Tamio in a Slack workspace in the browser, no account needed.

What ``make run`` starts. It migrates the database, seeds the demo company when the database has
no account (``tamio.demo``), then runs two things until Ctrl-C (or SIGTERM):

- the sandbox (``slack_sandbox.runner``, the ``tamio[sandbox]`` extra) in this process: a local Slack
  (the Web API stand-in) and its web page at http://127.0.0.1:8080, plus a mailbox for the emails
  Tamio sends; the demo company's people are handed to it (the sandbox imports nothing of Tamio's);
- ``tamio serve``, the real app and unchanged, as a child process in the same process group, on
  its own port, with ``SLACK_API_URL`` pointed at the stand-in and a signing secret made for this run;
  without TAMIO_SECRET_KEY it gets the local key kept beside the SQLite file (``tamio.server_secret``).

Ctrl-C reaches both (one process group); SIGTERM to this process is passed on to the child. The
sandbox runs with the settings ``tamio serve`` would have (the forecast flags included), so what it
shows is what a real workspace gets.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import secrets
import signal
import sys
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from sqlalchemy import select

from tamio import migrate
from tamio.accounts.models import Account
from tamio.accounts.service import account_for_team
from tamio.cli.context import CliContext
from tamio.cli.serve import _port as port_number
from tamio.cli.serve import check_port
from tamio.config import Settings
from tamio.db import create_engine, make_session_factory
from tamio.demo import DEMO_NAMES, seed_demo
from tamio.errors import TamioError
from tamio.server_secret import GENERATE_HINT, local_secret

STARTUP_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 15.0
# Settings `tamio serve` must not take from the environment while it talks to the sandbox (removed, not
# emptied: Bolt turns OAuth on when SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are merely present).
APP_UNSET = ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "SLACK_APP_TOKEN", "SMTP_USERNAME", "SMTP_PASSWORD")


def register(sub: Any) -> None:
    parser = sub.add_parser("sandbox", help="run Tamio in a local Slack sandbox in the browser (what `make run` starts)")
    parser.add_argument("--host", default="127.0.0.1", help="address of the sandbox page (default 127.0.0.1)")
    parser.add_argument("--port", type=port_number, default=8080, help="port of the sandbox page and Slack stand-in")
    parser.add_argument("--app-port", type=port_number, default=3000, help="port of `tamio serve`")
    parser.add_argument("--no-seed", action="store_true", help="do not seed the demo company into an empty database")
    parser.set_defaults(sync_handler=_sandbox)


def _runner() -> Any:
    try:
        return importlib.import_module("slack_sandbox.runner")
    except ModuleNotFoundError as exc:
        raise TamioError("The Slack sandbox is not installed.",
                         hint="Install it with `pip install -e '.[sandbox]'` (`make run` does).") from exc


def demo_people(runner: Any) -> tuple[Any, ...]:
    """The demo company's Slack members, in the order the sandbox's member switch lists them."""
    return tuple(runner.Person(user_id, name, role.value) for user_id, (name, role) in DEMO_NAMES.items())


def serve_environment(sandbox: Any, base: Mapping[str, str], *, database_url: str, app_port: int) -> dict[str, str]:
    """The environment for ``tamio serve`` against the sandbox (``base`` is usually os.environ)."""
    env = {key: value for key, value in base.items() if key not in APP_UNSET}
    env.update(
        TAMIO_DATABASE_URL=database_url,
        SLACK_BOT_TOKEN=sandbox.config.bot_token,
        SLACK_SIGNING_SECRET=sandbox.config.signing_secret,
        SLACK_API_URL=sandbox.slack.api_url,
        TAMIO_PUBLIC_URL=f"http://127.0.0.1:{app_port}",
    )
    if sandbox.mailbox is not None:
        env.update(SMTP_HOST="127.0.0.1", SMTP_PORT=str(sandbox.mailbox.port), SMTP_STARTTLS="false")
    return env


def _sandbox(args: argparse.Namespace, ctx: CliContext) -> int:
    return asyncio.run(_main(args, ctx.settings, ctx))


def check_ports(host: str, port: int, app_port: int) -> None:
    """Both ports must be free before anything is written: a clear message instead of a half start."""
    if port == app_port:
        raise TamioError(f"--port and --app-port are both {port}.", hint="Give the sandbox and `tamio serve` different ports.")
    check_port(host, port, option="--port", who="The sandbox")
    check_port("127.0.0.1", app_port, option="--app-port", who="`tamio serve`")


async def _main(args: argparse.Namespace, settings: Settings, ctx: CliContext) -> int:
    check_ports(args.host, args.port, args.app_port)
    # Ctrl-C from the very start only sets `stop`: a phase (a migration, the seeding) is finished,
    # never cut in half, and the next one does not start.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop.set)
    await asyncio.to_thread(migrate.upgrade, settings.database_url)
    if not args.no_seed and not stop.is_set():
        print(await seed_if_empty(settings, ctx), flush=True)
    if stop.is_set():
        return 0
    return await _run(settings, stop, host=args.host, port=args.port, app_port=args.app_port)


async def seed_if_empty(settings: Settings, ctx: CliContext) -> str:
    """Seed the demo company, tied to the sandbox workspace, unless the database has an account."""
    runner = _runner()
    engine = create_engine(settings.database_url)
    try:
        async with make_session_factory(engine, ctx.secret())() as db, db.begin():
            found = await account_for_team(db, team_id=runner.SANDBOX_TEAM_ID)
            if found is not None:
                return f"Demo company: {found.name} (already in the database)."
            if (await db.execute(select(Account.id).limit(1))).first() is not None:
                return ("The database has accounts, none of them the sandbox's; the sandbox workspace starts "
                        "an empty account. Use a fresh TAMIO_DATABASE_URL for the demo company.")
            now = ctx.now
            today = now.astimezone(ZoneInfo(settings.timezone)).date()
            account = await seed_demo(
                db, settings=settings, today=today, now=now,
                slack_team_id=runner.SANDBOX_TEAM_ID, digest_channel_id=runner.SANDBOX_CHANNEL_ID,
            )
            return f"Demo company seeded: {account.name}."
    finally:
        await engine.dispose()


async def _healthy(url: str, child: asyncio.subprocess.Process, stop: asyncio.Event) -> bool:
    """Wait until `tamio serve` answers /healthz; False if it exited or we were asked to stop."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STARTUP_TIMEOUT_S
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while loop.time() < deadline and child.returncode is None and not stop.is_set():
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return True
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.2)
    return False


async def _stop_child(child: asyncio.subprocess.Process) -> int:
    if child.returncode is None:
        child.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(child.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            child.kill()
            await child.wait()
    return child.returncode or 0


async def _run(settings: Settings, stop: asyncio.Event, *, host: str, port: int, app_port: int) -> int:
    runner = _runner()
    app_url = f"http://127.0.0.1:{app_port}/"
    manifest_scopes = tuple(importlib.import_module("bot.oauth").BOT_SCOPES)  # Slack grants what the app asks for
    sandbox = runner.Sandbox(runner.SandboxConfig(
        app_url=app_url, signing_secret=secrets.token_hex(20), people=demo_people(runner), host=host, port=port,
        bot_scopes=manifest_scopes,
    ))
    try:
        await sandbox.start()
    except OSError as exc:
        raise TamioError(f"The sandbox can't listen on {host}:{port} ({exc.strerror}).", hint="Choose another port with --port.") from exc
    env = serve_environment(sandbox, os.environ, database_url=settings.database_url, app_port=app_port)
    if not env.get("TAMIO_SECRET_KEY"):  # the local key beside the SQLite file: the audit chain outlives a restart
        local = local_secret(settings.database_url)
        if local is None:
            raise TamioError("The sandbox on this database needs TAMIO_SECRET_KEY.", hint=f"Set it; {GENERATE_HINT}.")
        env["TAMIO_SECRET_KEY"] = local
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tamio.cli", "serve", "--host", "127.0.0.1", "--port", str(app_port), env=env
    )
    try:
        if await _healthy(app_url + "healthz", child, stop):
            print(f"Tamio sandbox: {sandbox.url}  (open it in a browser; Ctrl-C stops it)", flush=True)
            waiting = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(child.wait())]
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            for task in waiting:
                task.cancel()
        elif child.returncode is None and not stop.is_set():
            print(f"tamio sandbox: `tamio serve` did not answer {app_url}healthz within {STARTUP_TIMEOUT_S:.0f} s; stopping.",
                  file=sys.stderr, flush=True)
            return 1
        if stop.is_set():
            return 0
        print(f"tamio sandbox: `tamio serve` stopped (exit status {child.returncode}); stopping the sandbox.",
              file=sys.stderr, flush=True)
        return child.returncode or 1
    finally:
        await _stop_child(child)
        await sandbox.stop()

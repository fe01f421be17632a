"""``tamio serve [--port 3000] [--host 127.0.0.1] [--socket-mode]``: run the Slack app.

It listens on 127.0.0.1 unless told otherwise: Slack reaches it through a TLS proxy on the same
machine (README), and nothing else on the network talks to it directly. It refuses to start
without TAMIO_SECRET_KEY (chart links and the audit chain are keyed by it) or with one that cannot
be a key, in one line on stderr.

HTTP mode serves ``bot.server.build_web_app`` (Slack at ``POST /slack/events``, ``/healthz``, the
chart URLs, OAuth install routes and whatever other areas install) until SIGINT/SIGTERM. Socket
Mode receives Slack's requests over a WebSocket opened with SLACK_APP_TOKEN (no public URL needed)
and still serves the HTTP routes, for health checks, charts and the REST API.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import importlib
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.engine import make_url

from tamio.accounts.models import Account
from tamio.cli.context import CliContext
from tamio.config import Settings
from tamio.db import create_engine, is_sqlite, make_session_factory
from tamio.errors import TamioError
from tamio.server_secret import GENERATE_HINT, SecretKeyInvalid, ServerSecret


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"'{text}' is not a port number; use 1 to 65535") from exc
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number; use 1 to 65535")
    return value


def register(sub: Any) -> None:
    parser = sub.add_parser("serve", help="run the Slack app (HTTP, or Socket Mode)")
    parser.add_argument("--port", type=_port, default=3000)
    parser.add_argument("--host", default="127.0.0.1",
                        help="the address to listen on (default 127.0.0.1: put a TLS proxy in front; 0.0.0.0 listens on every interface)")
    parser.add_argument("--socket-mode", action="store_true", help="connect to Slack with SLACK_APP_TOKEN instead of HTTP")
    parser.set_defaults(sync_handler=_serve)


def check_settings(settings: Settings, *, socket_mode: bool) -> ServerSecret:
    """Refuse to start with settings that cannot work, saying which variable to set; the server secret."""
    if not (settings.slack_bot_token or (settings.slack_client_id and settings.slack_client_secret)):
        raise TamioError(
            "Slack needs credentials.",
            hint="Set SLACK_BOT_TOKEN for one workspace, or SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and TAMIO_SECRET_KEY to install in several.",
        )
    if socket_mode and not settings.slack_app_token:
        raise TamioError("Socket Mode needs an app-level token.", hint="Set SLACK_APP_TOKEN (it starts with xapp-).")
    if not socket_mode and not settings.slack_signing_secret:
        raise TamioError("HTTP mode needs the app's signing secret.", hint="Set SLACK_SIGNING_SECRET, or run with --socket-mode.")
    if settings.secret_key is None:
        raise SecretKeyInvalid(
            "`tamio serve` needs TAMIO_SECRET_KEY: it signs chart links and keys the audit trail.", hint=f"Set it; {GENERATE_HINT}."
        )
    return ServerSecret.parse(settings.secret_key)


def tune_interpreter(settings: Settings) -> None:
    """On SQLite, hand the GIL over sooner (1 ms instead of 5).

    aiosqlite runs every statement in a thread; while the event loop is busy the thread waits up to
    the switch interval for the GIL at each hand-off, a few of which every request makes. Measured
    with bench/ack_latency.py, this is what keeps acks in milliseconds under load.
    """
    if is_sqlite(settings.database_url):
        sys.setswitchinterval(0.001)


def check_port(host: str, port: int, *, option: str = "--port", who: str = "`tamio serve`") -> None:
    """Refuse at once, before anything starts or is written, when ``host:port`` can't be listened on."""
    try:
        addresses = {info[4]: info[0] for info in socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)}
    except socket.gaierror as exc:
        raise TamioError(f"{who} can't listen on {host}:{port} ({exc.strerror}).", hint="Give an address of this machine with --host.") from exc
    for address, family in addresses.items():
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do: TIME_WAIT is no obstacle
            try:
                probe.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise TamioError(f"{who} can't listen on {host}:{port}: port {port} is in use.",
                                     hint=f"Stop what uses it, or pick another port with {option}.") from exc
                raise TamioError(f"{who} can't listen on {host}:{port} ({exc.strerror}).",
                                 hint=f"Pick another port with {option}, or another address.") from exc


def _serve(args: argparse.Namespace, ctx: CliContext) -> int:
    secret = check_settings(ctx.settings, socket_mode=args.socket_mode)
    check_port(args.host, args.port)
    check_database(ctx.settings.database_url)
    tune_interpreter(ctx.settings)
    asyncio.run(_run(ctx.settings, secret, host=args.host, port=args.port, socket_mode=args.socket_mode))
    return 0


def check_database(url: str) -> None:
    """Refuse to start on a database with no Tamio schema: every request would fail with "no such table"."""
    if is_sqlite(url):
        path = make_url(url).database
        if path and path != ":memory:" and not Path(path).exists():
            raise TamioError(f"There is no Tamio database at {path} yet.", hint="Run `tamio db upgrade` first (it creates and migrates it).")


async def probe_schema(engine: Any) -> None:
    """One read of the accounts table: a missing schema surfaces here as "run `tamio db upgrade`"."""
    async with engine.connect() as connection:
        await connection.execute(select(Account.id).limit(1))


async def _run(settings: Settings, secret: ServerSecret, *, host: str, port: int, socket_mode: bool) -> None:
    server: Any = importlib.import_module("bot.server")
    engine = create_engine(settings.database_url)
    try:
        await probe_schema(engine)
    except BaseException:
        await engine.dispose()
        raise
    sessions = make_session_factory(engine, secret)
    web_app = server.build_web_app(settings, sessions)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop.set)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:  # taken between the check and now
            raise TamioError(f"`tamio serve` can't listen on {host}:{port} ({exc.strerror}).",
                             hint="Stop what uses it, or pick another port with --port.") from exc
        mode = "Socket Mode" if socket_mode else f"http://{host}:{port}/slack/events"
        print(f"tamio: serving Slack ({mode}); health at http://{host}:{port}/healthz", flush=True)
        if socket_mode:
            handler_module: Any = importlib.import_module("slack_bolt.adapter.socket_mode.async_handler")
            handler = handler_module.AsyncSocketModeHandler(web_app[server.BOLT_APP], settings.slack_app_token)
            await handler.connect_async()
            try:
                await stop.wait()
            finally:
                await handler.close_async()
        else:
            await stop.wait()
    finally:
        await runner.cleanup()
        await engine.dispose()

"""How fast the Slack app acks: signed slash commands and button clicks on loopback, at a fixed rate.

Slack gives an app 3 seconds; Tamio aims at a p99 under 10 ms at 200 requests/s. The app runs as
``tamio serve`` would (``bot.server.build_web_app``, SQLite, the local Slack stand-in as its Web API)
in its own process; beside it, in the same run and with the same client, a bare aiohttp handler
shows what loopback HTTP itself costs. Requests are sent open-loop: request i leaves at i/rate
seconds whatever the earlier ones are doing, so a slow ack shows up as latency, not as a lower rate.

Each request runs the whole path: signature check, workspace and member lookup (from the database,
or remembered for a few seconds, ``bot.workspace.KnownWorkspaces``), the listener, the ack. The mix:
``/tamio help``, ``/tamio balance`` (a read-only transaction), a radio choice on a card and an Open
App Home click (block_actions whose listeners only ack: no database). Meanwhile the app's delivery
worker and scheduler run as in ``tamio serve``. Figures are printed, not asserted.

Under contention (SQLite): another process holds the database's write lock 4.5 s out of every 5,
as a long import or a slow migration would, while commands that write (``/tamio balance set``)
arrive with the reads. SQLite makes a writer wait up to 15 s for the lock; the app must still ack
each request within Slack's 3 s (a write past ~2 s acks "Working on it…" and answers later through
the response URL). Reported: p99, the slowest ack, and how many took 3 s or more.

    PYTHONPATH=. .venv/bin/python bench/ack_latency.py [--rate 200] [--seconds 10] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

SECRET = "bench-signing-secret"
TEAM = "T0001"
USERS = {"UADMIN": {"name": "maria", "is_admin": True}, "UVIEWER": {"name": "vic"}}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- the servers, each in its own process ---------------------------------------------------------


def serve_bare(port: int) -> None:
    async def ok(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="")

    app = web.Application()
    app.router.add_post("/slack/events", ok)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def serve_tamio(port: int, database_url: str, api_url: str, token: str) -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)
    from bot.server import build_web_app
    from tamio.cli.serve import tune_interpreter
    from tamio.config import Settings
    from tamio.db import create_engine, make_session_factory
    from tamio.server_secret import ServerSecret

    settings = Settings(database_url=database_url, slack_bot_token=token, slack_signing_secret=SECRET, slack_api_url=api_url,
                        secret_key=ServerSecret.generate(),
                        public_url=f"http://127.0.0.1:{port}", slack_client_id=None, slack_client_secret=None)
    tune_interpreter(settings)  # as `tamio serve` does
    sessions = make_session_factory(create_engine(database_url), ServerSecret.parse(ServerSecret.generate()))
    web.run_app(build_web_app(settings, sessions), host="127.0.0.1", port=port, access_log=None, print=None)


async def create_schema(database_url: str) -> None:
    import bot.oauth_tables  # noqa: F401
    import tamio.models
    from tamio.db import create_engine

    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(tamio.models.Base.metadata.create_all)
    await engine.dispose()


# -- the client -----------------------------------------------------------------------------------


def command(text: str, user: str) -> str:
    return urlencode({"team_id": TEAM, "team_domain": "bench", "channel_id": "C0BENCH", "channel_name": "bench", "user_id": user,
                      "user_name": user.lower(), "command": "/tamio", "text": text, "api_app_id": "A0APP",
                      "response_url": "http://127.0.0.1:9/response", "trigger_id": "1.2.3"})


def click(action_id: str, value: str, user: str) -> str:
    payload: dict[str, Any] = {
        "type": "block_actions", "team": {"id": TEAM, "domain": "bench"}, "user": {"id": user, "name": user.lower(), "team_id": TEAM},
        "api_app_id": "A0APP", "trigger_id": "1.2.3", "container": {"type": "message", "message_ts": "1.000001", "channel_id": "C0BENCH"},
        "channel": {"id": "C0BENCH", "name": "bench"}, "response_url": "http://127.0.0.1:9/response",
        "actions": [{"type": "button", "action_id": action_id, "block_id": "b1", "value": value, "action_ts": "1.0"}],
        "state": {"values": {}},
    }
    return urlencode({"payload": json.dumps(payload)})


COMMANDS = [command("help", "UADMIN"), command("balance", "UVIEWER")]
WRITES = [command('balance set "Operating" 48250', "UADMIN"), command("balance", "UVIEWER")]
CLICKS = [click("card_option", "opt_1", "UADMIN"), click("forecast_open_home", "home", "UVIEWER")]
MIX = [COMMANDS[0], CLICKS[0], COMMANDS[1], CLICKS[1]]


TRIGGERS = itertools.count(1)


async def one(http: aiohttp.ClientSession, url: str, body: str) -> tuple[float, int]:
    body = body.replace("1.2.3", f"1.2.{next(TRIGGERS)}")  # Slack gives every request its own trigger id (replays are refused)
    stamp = str(int(time.time()))
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": stamp,
               "X-Slack-Signature": SignatureVerifier(SECRET).generate_signature(timestamp=stamp, body=body) or ""}
    started = time.perf_counter()
    async with http.post(url, data=body.encode(), headers=headers) as response:
        await response.read()
        return (time.perf_counter() - started) * 1000, response.status


async def load(url: str, rate: float, seconds: float, mix: list[str] = MIX) -> tuple[list[float], int]:
    connector = aiohttp.TCPConnector(limit=200, keepalive_timeout=30)
    async with aiohttp.ClientSession(connector=connector) as http:
        for body in MIX * 5:  # warm up: accounts, members, connections, imports
            await one(http, url, body)
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.2
        tasks = []
        for i in range(int(rate * seconds)):
            delay = start + i / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(one(http, url, mix[i % len(mix)])))
        results = await asyncio.gather(*tasks)
    latencies = [ms for ms, status in results if status == 200]
    return latencies, sum(1 for _, status in results if status != 200)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def hold_write_lock(path: str, hold_s: float, pause_s: float, stop: Any) -> None:
    """Another writer: BEGIN IMMEDIATE on the same SQLite file, held ``hold_s``, released ``pause_s``, again."""
    import sqlite3

    connection = sqlite3.connect(path, isolation_level=None, timeout=30)
    while not stop.is_set():
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("UPDATE users SET name = name")
        stop.wait(hold_s)
        connection.execute("COMMIT")
        stop.wait(pause_s)
    connection.close()


def report(name: str, latencies: list[float], failed: int) -> None:
    if not latencies:
        print(f"{name:<28} no successful requests ({failed} failed)")
        return
    slow = sum(1 for ms in latencies if ms >= 3000)
    if slow or max(latencies) >= 1000:
        name = f"{name} [{slow} at 3 s or more]"
    print(f"{name:<28} n={len(latencies):<6} p50={statistics.median(latencies):6.2f} ms  p99={percentile(latencies, 99):6.2f} ms  "
          f"max={max(latencies):7.2f} ms  non-200={failed}")


async def run_against(database_url: str, label: str, rate: float, seconds: float, with_bare: bool) -> None:
    from slack_sandbox.standin import SlackStandIn

    context = multiprocessing.get_context("spawn")
    await create_schema(database_url)
    async with SlackStandIn(users=USERS, channels={"C0BENCH": "bench"}) as slack:
        bare_port, app_port = free_port(), free_port()
        servers = [context.Process(target=serve_tamio, args=(app_port, database_url, slack.api_url, slack.bot_token), daemon=True)]
        if with_bare:
            servers.append(context.Process(target=serve_bare, args=(bare_port,), daemon=True))
        for server in servers:
            server.start()
        try:
            await wait_for_port(app_port)
            await asyncio.sleep(3)  # let start-up work (the scheduler's catch-up runs) finish first
            print(f"ack latency at {rate:.0f} requests/s for {seconds:.0f} s (open loop, loopback, {label}); target p99 < 10 ms")
            if with_bare:
                await wait_for_port(bare_port)
                report("bare aiohttp handler", *await load(f"http://127.0.0.1:{bare_port}/slack/events", rate, seconds))
            app_url = f"http://127.0.0.1:{app_port}/slack/events"
            report("Tamio, commands + clicks", *await load(app_url, rate, seconds))
            report("Tamio, slash commands only", *await load(app_url, rate, seconds, COMMANDS))
            report("Tamio, button clicks only", *await load(app_url, rate, seconds, CLICKS))
            if database_url.startswith("sqlite"):
                stop = context.Event()
                path = database_url.split(":///", 1)[1]
                writer = context.Process(target=hold_write_lock, args=(path, 4.5, 0.5, stop), daemon=True)
                writer.start()
                try:
                    contended_rate = min(rate, 50.0)  # each write waits for the lock: fewer, so the run ends
                    report("Tamio, writes, lock held 4.5 s/5 s", *await load(app_url, contended_rate, max(seconds, 10.0), WRITES))
                finally:
                    stop.set()
                    writer.join(10)
        finally:
            for server in servers:
                server.terminate()
                server.join(10)


async def main(rate: float, seconds: float, postgres: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        await run_against(f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}", "SQLite", rate, seconds, with_bare=True)
    if postgres:
        from tests.pgcluster import PostgresCluster

        cluster = await asyncio.to_thread(PostgresCluster.start)
        try:
            url = await asyncio.to_thread(cluster.create_database, "bench")
            await run_against(url, "PostgreSQL", rate, seconds, with_bare=False)
        finally:
            await asyncio.to_thread(cluster.stop)


async def wait_for_port(port: int) -> None:
    for _ in range(300):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            await writer.wait_closed()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--postgres", action="store_true", help="also run against a throwaway PostgreSQL (tests/pgcluster.py)")
    arguments = parser.parse_args()
    sys.exit(asyncio.run(main(arguments.rate, arguments.seconds, arguments.postgres)))

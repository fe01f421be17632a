"""``tamio serve`` as a process: it serves Slack and /healthz, refuses settings that cannot work, stops on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from bot.sandbox.signed import SlackSender
from bot.sandbox.standin import SlackStandIn
from tamio.db import create_engine
from tests.bot.conftest import ADMIN, CHANNEL, SIGNING_SECRET, free_port

ROOT = Path(__file__).resolve().parents[2]


async def make_database(path: Path) -> str:
    import bot.oauth_tables  # noqa: F401
    import tamio.models

    url = f"sqlite+aiosqlite:///{path}"
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(tamio.models.Base.metadata.create_all)
    await engine.dispose()
    return url


def environment(**values: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH")}
    return {**keep, "PYTHONPATH": str(ROOT), **values}


async def test_serve_answers_slack_and_health_then_stops_cleanly(tmp_path: Path, slack: SlackStandIn) -> None:
    port = free_port()
    url = await make_database(tmp_path / "tamio.db")
    env = environment(TAMIO_DATABASE_URL=url, SLACK_BOT_TOKEN=slack.bot_token, SLACK_SIGNING_SECRET=SIGNING_SECRET,
                      SLACK_API_URL=slack.api_url, TAMIO_PUBLIC_URL=f"http://127.0.0.1:{port}")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tamio.cli", "serve", "--port", str(port), "--host", "127.0.0.1", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        banner = await asyncio.wait_for(process.stdout.readline(), timeout=60)
        assert b"serving Slack" in banner
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as health:
            assert health.status == 200 and (await health.json()) == {"ok": True, "database": "ok"}
        sender = SlackSender(f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET, slack.workspace.team_id, slack)
        reply = await sender.slash_command(ADMIN, "help", CHANNEL)
        assert reply.status == 200 and "Tamio commands" in slack.ephemerals[-1]["text"]
        forged = await sender.slash_command(ADMIN, "help", CHANNEL, bad_signature=True)
        assert forged.status == 401
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), timeout=30)
    assert code == 0
    assert process.stderr is not None
    logged = (await process.stderr.read()).decode()
    assert "WARNING" not in logged and "ERROR" not in logged, logged  # e.g. Bolt's "`token` will be unused" at start-up


@pytest.mark.parametrize(
    ("missing", "says"),
    [("SLACK_SIGNING_SECRET", "HTTP mode needs the app's signing secret"), ("SLACK_BOT_TOKEN", "Slack needs credentials")],
)
async def test_serve_refuses_settings_that_cannot_work(tmp_path: Path, missing: str, says: str) -> None:
    values = {"TAMIO_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", "SLACK_BOT_TOKEN": "xoxb-1",
              "SLACK_SIGNING_SECRET": "s"}
    values.pop(missing)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tamio.cli", "serve", "--port", str(free_port()), cwd=tmp_path, env=environment(**values),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 1 and says in err.decode()


async def test_stopping_while_slack_never_answers_gives_up_on_the_batch_without_an_error(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Ctrl-C while a post hangs: the worker is stopped after the timeout, a warning, no crash on the way out."""
    from aiohttp import web

    from bot import server

    class HangingWorker:
        cancelled = False

        async def run_forever(self, stop: asyncio.Event) -> None:
            try:
                await asyncio.Event().wait()  # a chat.postMessage that never gets an answer, whatever `stop` says
            except asyncio.CancelledError:
                HangingWorker.cancelled = True
                raise

    monkeypatch.setattr(server, "DELIVERY_STOP_TIMEOUT_S", 0.05)
    context = server._delivery(HangingWorker())(web.Application())  # type: ignore[arg-type]
    await context.__anext__()
    await asyncio.sleep(0)
    with caplog.at_level("WARNING", logger="tamio.serve"), pytest.raises(StopAsyncIteration):
        await context.__anext__()
    assert HangingWorker.cancelled
    assert "in the middle of a batch" in caplog.text


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
async def test_a_port_in_use_is_one_line_at_once_and_writes_nothing(tmp_path: Path, host: str) -> None:
    import socket

    port = free_port()
    database = tmp_path / "never.db"
    values = {"TAMIO_DATABASE_URL": f"sqlite+aiosqlite:///{database}", "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tamio.cli", "serve", "--host", host, "--port", str(port), cwd=tmp_path, env=environment(**values),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=120)  # it gives up at once: no retrying
    lines = err.decode().strip().splitlines()
    assert process.returncode == 1 and out == b"" and len(lines) == 1, err.decode()
    assert lines[0] == (f"tamio: `tamio serve` can't listen on {host}:{port}: port {port} is in use. "
                        "Stop what uses it, or pick another port with --port.")
    assert not database.exists()


@pytest.mark.parametrize("file_exists", [False, True])
async def test_an_unmigrated_database_is_one_line_saying_to_upgrade(tmp_path: Path, file_exists: bool) -> None:
    """No file, or a file without Tamio's tables: one line naming `tamio db upgrade`, and no file made."""
    database = tmp_path / "tamio.db"
    if file_exists:  # an empty SQLite file: exists, but no tables
        database.touch()
    values = {"TAMIO_DATABASE_URL": f"sqlite+aiosqlite:///{database}", "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tamio.cli", "serve", "--host", "127.0.0.1", "--port", str(free_port()), cwd=tmp_path,
        env=environment(**values), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    lines = err.decode().strip().splitlines()
    assert process.returncode == 1 and b"serving" not in out and len(lines) == 1, err.decode()
    assert "tamio db upgrade" in lines[0]
    assert database.exists() == file_exists

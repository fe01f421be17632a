"""``tamio serve`` as a process: it serves Slack and /healthz, refuses settings that cannot work, stops on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from slack_sandbox.signed import SlackSender
from slack_sandbox.standin import SlackStandIn
from tamio.db import create_engine
from tests.bot.conftest import ADMIN, CHANNEL, SIGNING_SECRET, free_port
from tests.conftest import TEST_SECRET_KEY

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


def environment(**values: str | None) -> dict[str, str]:
    """The variables ``tamio serve`` gets (a server secret unless ``TAMIO_SECRET_KEY=None`` leaves it out)."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH")}
    merged = {**keep, "PYTHONPATH": str(ROOT), "TAMIO_SECRET_KEY": TEST_SECRET_KEY, **values}
    return {k: v for k, v in merged.items() if v is not None}


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


@pytest.mark.parametrize(
    ("secret", "says"),
    [
        (None, "tamio: `tamio serve` needs TAMIO_SECRET_KEY: it signs chart links and keys the audit trail. Set it; make a key with "),
        ("", "tamio: TAMIO_SECRET_KEY is empty; make a key with "),
        (",", "tamio: TAMIO_SECRET_KEY has an empty key (key 1 of 2): separate keys with single commas"),
        ("correct horse battery staple,,", "tamio: TAMIO_SECRET_KEY has an empty key (key 2 of 3)"),
        ("hunter2", "tamio: TAMIO_SECRET_KEY: the key is neither a Fernet key nor a passphrase of at least 16 characters (it has 7); "),
    ],
)
async def test_serve_refuses_a_missing_or_unusable_secret_in_one_line(tmp_path: Path, secret: str | None, says: str) -> None:
    """The finding: a passphrase or "," crashed a multi-workspace start with a traceback; no secret made
    chart links anyone could sign (socket mode, no signing secret)."""
    url = await make_database(tmp_path / "tamio.db")
    values = {"TAMIO_DATABASE_URL": url, "SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "c", "SLACK_APP_TOKEN": "xapp-1",
              "TAMIO_SECRET_KEY": secret}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tamio.cli", "serve", "--socket-mode", "--port", str(free_port()), cwd=tmp_path,
        env=environment(**values), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    lines = err.decode().strip().splitlines()
    assert process.returncode == 1 and out == b"" and len(lines) == 1, err.decode()
    assert lines[0].startswith(says), lines[0]


def test_a_passphrase_is_stretched_with_scrypt_and_keys_differ_by_use() -> None:
    import hashlib

    from tamio.server_secret import ServerSecret

    secret = ServerSecret.parse("correct horse battery staple, " + TEST_SECRET_KEY)
    assert secret.materials[0] == hashlib.scrypt(b"correct horse battery staple", salt=b"tamio server secret v1", n=2**15, r=8, p=1,
                                                 maxmem=64 * 1024 * 1024, dklen=32)
    assert secret.key("chart-links") != secret.key("audit-chain") and len(secret.keys_for("audit-chain")) == 2


def test_chart_links_need_the_server_secret_and_a_forged_one_is_refused() -> None:
    from datetime import UTC, date, datetime

    from bot.charts import ChartLinks
    from tamio.config import Settings
    from tamio.errors import PermissionDenied
    from tamio.server_secret import SecretKeyInvalid

    now = datetime(2026, 12, 7, 9, tzinfo=UTC)
    with pytest.raises(SecretKeyInvalid, match="TAMIO_SECRET_KEY"):
        ChartLinks(Settings(secret_key=None, slack_signing_secret=None))
    links = ChartLinks(Settings(secret_key=TEST_SECRET_KEY))
    token = links.token(account_id="acc_1", as_of=date(2026, 12, 7), weeks=13, now=now)
    assert links.verify(token, now=now).account_id == "acc_1"
    # What the old code accepted: the same body signed with a key derived from a constant anyone can compute.
    import base64
    import hashlib
    import hmac

    body = token.partition(".")[0]
    public_key = hashlib.sha256(b"tamio-chart-links:").digest()
    forged = f"{body}.{base64.urlsafe_b64encode(hmac.new(public_key, body.encode(), hashlib.sha256).digest()[:18]).decode()}"
    with pytest.raises(PermissionDenied):
        links.verify(forged, now=now)
    with pytest.raises(PermissionDenied):
        links.verify(f"{body}.é", now=now)  # not ASCII: refused, not a crash

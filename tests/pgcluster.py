"""A throwaway PostgreSQL 15 cluster for the test run.

Service tests run on SQLite *and* on a real PostgreSQL; nobody should have to set up a server for
that. This starts a private cluster in a temp dir on a free loopback port (up in about a second with
fsync off), hands out databases, and removes everything at the end.

PostgreSQL refuses to run as root, so as root every server binary runs as ``nobody`` through
``runuser`` and the data dir is owned by ``nobody`` (its parent is a 0755 dir under /tmp so that
``nobody`` can reach it). As an ordinary user the binaries run directly.

    cluster = PostgresCluster.start()
    url = cluster.create_database("t_1")   # postgresql+asyncpg://tamio@127.0.0.1:PORT/t_1
    cluster.stop()

The binaries are found in ``$TAMIO_PG_BIN`` or ``/usr/lib/postgresql/15/bin``; when they are
missing this raises ``PostgresUnavailable`` (never a silent skip: CI must run on PostgreSQL).
"""

from __future__ import annotations

import asyncio
import atexit
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import asyncpg

DEFAULT_PG_BIN = "/usr/lib/postgresql/15/bin"
SUPERUSER = "tamio"
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_T = TypeVar("_T")


class PostgresUnavailable(RuntimeError):
    """The server binaries are missing or the cluster did not come up."""


def run_in_thread(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run a coroutine to completion on a fresh event loop in a worker thread.

    Fixtures call this from synchronous code that may itself run inside pytest-asyncio's loop;
    a separate thread never disturbs that loop (``asyncio.run`` in the same thread would).
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=target, name="pgcluster-admin")
    worker.start()
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"database name {name!r} must be lower-case letters, digits and underscores")
    return name


class PostgresCluster:
    """One running cluster; use ``PostgresCluster.start()`` and ``stop()``."""

    def __init__(self, *, bin_dir: Path, base_dir: Path, data_dir: Path, port: int, as_user: str | None) -> None:
        self.bin_dir = bin_dir
        self.base_dir = base_dir
        self.data_dir = data_dir
        self.port = port
        self._as_user = as_user
        self._running = False

    # -- lifecycle ---------------------------------------------------------------------------

    @staticmethod
    def find_binaries() -> Path:
        bin_dir = Path(os.environ.get("TAMIO_PG_BIN") or DEFAULT_PG_BIN)
        missing = [name for name in ("initdb", "pg_ctl", "postgres") if not (bin_dir / name).is_file()]
        if missing:
            raise PostgresUnavailable(
                f"PostgreSQL 15 server binaries not found in {bin_dir} (missing: {', '.join(missing)}); "
                "install postgresql-15 (apt-get install postgresql-15) or set TAMIO_PG_BIN"
            )
        return bin_dir

    @classmethod
    def start(cls, *, attempts: int = 3) -> PostgresCluster:
        """initdb + pg_ctl start on a free port; retried on a new port if another process took it."""
        bin_dir = cls.find_binaries()
        as_user = "nobody" if os.geteuid() == 0 else None
        base_dir = Path(tempfile.mkdtemp(prefix="tamio-pg-", dir="/tmp"))
        base_dir.chmod(0o755)  # nobody must be able to traverse to the data dir
        data_dir = base_dir / "data"
        data_dir.mkdir(mode=0o700)
        if as_user is not None:
            account = pwd.getpwnam(as_user)
            os.chown(data_dir, account.pw_uid, account.pw_gid)
        cluster = cls(bin_dir=bin_dir, base_dir=base_dir, data_dir=data_dir, port=0, as_user=as_user)
        try:
            cluster._run("initdb", "-D", str(data_dir), "-A", "trust", "-U", SUPERUSER, "-E", "UTF8", "--locale=C", "--no-sync")
            for attempt in range(1, attempts + 1):
                cluster.port = _free_port()
                try:
                    cluster._pg_ctl_start()
                    break
                except PostgresUnavailable:
                    if attempt == attempts:
                        raise
        except BaseException:
            shutil.rmtree(base_dir, ignore_errors=True)
            raise
        atexit.register(cluster.stop)  # a crashed or interrupted run still leaves no server behind
        return cluster

    def _pg_ctl_start(self) -> None:
        options = (
            f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off -c synchronous_commit=off -c max_connections=200"
        )
        log_file = self.data_dir / "server.log"  # inside the data dir: the only place nobody may write
        try:
            self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(log_file), "-o", options, "-w", "-t", "60", "start")
        except PostgresUnavailable as exc:
            log = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
            raise PostgresUnavailable(f"{exc}\nserver log:\n{log}") from None
        self._running = True

    def stop(self) -> None:
        """Fast shutdown and removal of the data dir; safe to call twice."""
        if self._running:
            self._running = False
            try:
                self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")
            finally:
                shutil.rmtree(self.base_dir, ignore_errors=True)
        elif self.base_dir.exists():
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin_dir / program), *args]
        if self._as_user is not None:
            command = ["runuser", "-u", self._as_user, "--", *command]
        # cwd: the binaries check that they can read their working directory (not so for /root).
        result = subprocess.run(command, cwd=self.base_dir, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise PostgresUnavailable(
                f"{' '.join(command)} failed with exit code {result.returncode}:\n{result.stdout}{result.stderr}"
            )

    # -- databases ---------------------------------------------------------------------------

    def url(self, database: str, *, driver: str = "postgresql+asyncpg") -> str:
        return f"{driver}://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, *, template: str | None = None) -> str:
        """CREATE DATABASE (optionally a copy of ``template``); returns its SQLAlchemy async URL."""
        statement = f'CREATE DATABASE "{_check_name(name)}"'
        if template is not None:
            # FILE_COPY clones the template's files at once; PostgreSQL 15's default (WAL_LOG)
            # copies it block by block through the WAL, which is slower for small schemas.
            statement += f' TEMPLATE "{_check_name(template)}" STRATEGY FILE_COPY'
        self.execute(statement)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{_check_name(name)}" WITH (FORCE)')

    def execute(self, statement: str, *, database: str = "postgres") -> None:
        """Run one statement on a short-lived connection (from sync code, loop or no loop)."""
        run_in_thread(self._execute(statement, database))

    async def _execute(self, statement: str, database: str) -> None:
        connection = await asyncpg.connect(host="127.0.0.1", port=self.port, user=SUPERUSER, database=database)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

"""A write that waits past SQLite's busy timeout (another process holds the write lock: a large import,
or the figures worked out again after one) is told in words, in Slack and on the command line.

Walked in the sandbox after a 10,000-row import: `/tamio forecast` during the server's own refresh
answered "Sorry, something went wrong on our side ... quote reference ...", and `tamio balance set`
during an import "something went wrong on our side (correlation id ...)", with a traceback in the log.
The lock here is real (a second connection holds BEGIN IMMEDIATE on the file); the writer's wait is
SQLite's own busy timeout, made short.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.boundary import failure_text
from tamio.cli import database_problem
from tamio.db import create_engine
from tamio.errors import BUSY_DATABASE


async def locked_write(path: Path) -> BaseException:
    """The error a writer gets on ``path`` while another connection holds its write lock."""
    with closing(sqlite3.connect(path, isolation_level=None)) as holder:
        holder.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
        holder.execute("BEGIN IMMEDIATE")
        engine = create_engine(f"sqlite+aiosqlite:///{path}", busy_timeout=0.05)
        try:
            with pytest.raises(Exception) as caught:
                async with engine.begin() as connection:
                    await connection.execute(text("INSERT INTO t VALUES (1)"))
        finally:
            await engine.dispose()
            holder.execute("ROLLBACK")
    return caught.value


async def test_a_write_the_lock_kept_waiting_is_told_to_try_again(tmp_path: Path) -> None:
    error = await locked_write(tmp_path / "books.db")
    url = f"sqlite+aiosqlite:///{tmp_path}/books.db"
    said = database_problem(error, url)
    assert said is not None and said.startswith(BUSY_DATABASE) and "books.db" in said, said
    assert "correlation" not in said
    assert failure_text(error) == f":hourglass_flowing_sand: {BUSY_DATABASE}"


async def test_other_failures_still_get_an_apology_with_a_reference() -> None:
    said = failure_text(RuntimeError("boom"))
    assert "Sorry, something went wrong on our side" in said and "quote reference" in said

"""One migration history builds the whole schema from empty, and matches the models, on both databases."""

from __future__ import annotations

import asyncio
import itertools
import os
from pathlib import Path

import pytest
from sqlalchemy import inspect

from tamio import migrate
from tamio.db import Base, create_engine

_numbers = itertools.count(1)


@pytest.fixture(params=["sqlite", pytest.param("pg", marks=pytest.mark.pg)])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return "sqlite+aiosqlite:///" + str(tmp_path / "migrate.db")
    if request.config.getoption("--db") == "sqlite":
        pytest.skip("--db=sqlite")
    cluster = request.getfixturevalue("pg_cluster")
    return str(cluster.create_database(f"migrate_{os.getpid()}_{next(_numbers)}"))


def _tables(url: str) -> set[str]:
    async def read() -> set[str]:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_upgrade_downgrade_upgrade_and_check(empty_db_url: str) -> None:
    import bot.oauth_tables  # noqa: F401
    import tamio.models  # noqa: F401

    expected = set(Base.metadata.tables)
    migrate.upgrade(empty_db_url)
    assert expected <= _tables(empty_db_url)
    migrate.check(empty_db_url)  # models and migrations agree
    migrate.downgrade(empty_db_url, "base")
    assert _tables(empty_db_url) <= {"alembic_version"}
    migrate.upgrade(empty_db_url)
    assert expected <= _tables(empty_db_url)
    migrate.check(empty_db_url)

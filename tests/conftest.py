"""Shared fixtures: the database every service test runs on, on SQLite and on PostgreSQL.

A test that asks for ``session`` (or ``engine``, ``session_factory``, ``db_url``) runs once per
selected backend, with ids ``sqlite`` and ``pg``:

    async def test_saves_a_client(session: AsyncSession) -> None:   # test_saves_a_client[sqlite], [pg]
        ...

- ``--db=sqlite|postgresql|both`` (default ``both``) picks the backends for the run.
- ``@pytest.mark.backends("sqlite")`` keeps one test on the named backend(s) only; a test may also
  parametrize ``db_url`` itself: ``@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)``.
- PostgreSQL cases carry the ``pg`` marker, so ``-m "not pg"`` deselects them too.

SQLite: a fresh file per test, a copy of one file whose schema ``create_all`` made once per test
process (a copy takes well under a millisecond, ``create_all`` ~35 ms of CPU). PostgreSQL: one throwaway cluster per
test process (``tests/pgcluster.py``, started only when a test needs it; under ``make test`` each of
the two pytest-xdist workers has its own, in its own temp dir on its own free port); the schema is
created once in the database ``tamio_template`` and each test gets its own copy (``CREATE DATABASE
... TEMPLATE``, ~50 ms), named after the process and dropped afterwards.
"""

from __future__ import annotations

import importlib
import itertools
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.pgcluster import PostgresCluster, run_in_thread

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

BACKENDS = ("sqlite", "pg")  # parameter values, and the test ids they produce
_DB_OPTION_TO_BACKENDS = {"sqlite": ("sqlite",), "postgresql": ("pg",), "both": BACKENDS}
TEMPLATE_DATABASE = "tamio_template"
_database_numbers = itertools.count(1)


# -- options and markers ------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=sorted(_DB_OPTION_TO_BACKENDS),
        default="both",
        help="database backends for tests that use the database fixtures (default: both)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", 'backends(*names): run this test only on the named backends ("sqlite", "pg")'
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``slow`` (ten seconds or more under load) run first, the rest in file order.

    pytest-xdist hands tests out in this order: slow ones at the end of the run would leave one
    worker idle for their length while the other finishes them (a quiet tail of 20-30 s).
    """
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: file order otherwise


def selected_backends(config: pytest.Config) -> tuple[str, ...]:
    return _DB_OPTION_TO_BACKENDS[str(config.getoption("--db"))]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``db_url`` (and so every fixture built on it) over the selected backends."""
    if "db_url" not in metafunc.fixturenames:
        return
    for marker in metafunc.definition.iter_markers("parametrize"):
        argnames = marker.args[0] if marker.args else marker.kwargs.get("argnames", "")
        names = [name.strip() for name in argnames.split(",")] if isinstance(argnames, str) else list(argnames)
        if "db_url" in names:
            return  # the test chose its backends itself
    wanted: tuple[str, ...] = BACKENDS
    backends_marker = metafunc.definition.get_closest_marker("backends")
    if backends_marker is not None:
        unknown = set(backends_marker.args) - set(BACKENDS)
        if unknown or not backends_marker.args:
            raise pytest.UsageError(f"@pytest.mark.backends: unknown {sorted(unknown)}; use {list(BACKENDS)}")
        wanted = tuple(name for name in BACKENDS if name in backends_marker.args)
    selected = selected_backends(metafunc.config)
    params = [
        pytest.param(backend, id=backend, marks=[pytest.mark.pg] if backend == "pg" else [])
        for backend in wanted
        if backend in selected
    ]
    if not params:  # e.g. a SQLite-only test in a --db=postgresql run: one visible skip
        reason = f"--db={metafunc.config.getoption('--db')} excludes {', '.join(wanted)}"
        params = [pytest.param(wanted[0], id=wanted[0], marks=pytest.mark.skip(reason=reason))]
    metafunc.parametrize("db_url", params, indirect=True)


# -- PostgreSQL ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    """The run's PostgreSQL cluster; started by the first test that needs it, stopped at the end.

    Missing binaries are an error, not a skip: CI must run the PostgreSQL half of the suite.
    """
    cluster = PostgresCluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


def _schema_metadata() -> Any:
    """``tamio.db.Base.metadata`` with every table the migration makes registered.

    Slack's OAuth tables (``bot.oauth_tables``) are part of it, as in ``migrations/env.py``: the
    schema a test gets must not depend on which test modules happened to be imported first.
    An import that fails is the test's error, never a skip: a broken database layer fails the run.
    """
    from tamio.db import Base

    importlib.import_module("tamio.models")  # registers all tables on Base.metadata
    importlib.import_module("bot.oauth_tables")
    return Base.metadata


async def _create_schema(url: str) -> None:
    from tamio.db import create_engine

    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_schema_metadata().create_all)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def pg_template(pg_cluster: PostgresCluster) -> str:
    """The name of a database holding the full schema, made once per run, copied per test."""
    url = pg_cluster.create_database(TEMPLATE_DATABASE)
    run_in_thread(_create_schema(url))
    return TEMPLATE_DATABASE


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file holding the full schema, made once per test process, copied per test."""
    path = tmp_path_factory.mktemp("schema") / "tamio.db"
    run_in_thread(_create_schema("sqlite+aiosqlite:///" + str(path)))
    return path


# -- the database fixtures ------------------------------------------------------------------------


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a database of the test's own, empty but for the schema, on either backend."""
    backend = request.param
    if backend not in selected_backends(request.config):  # a test that parametrized db_url itself
        pytest.skip(f"--db={request.config.getoption('--db')} excludes {backend}")
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copyfile(template, tmp_path / "tamio.db")
        yield "sqlite+aiosqlite:///" + str(tmp_path / "tamio.db")
        return
    if backend != "pg":
        raise pytest.UsageError(f"db_url: unknown backend {backend!r}; use one of {list(BACKENDS)}")
    cluster: PostgresCluster = request.getfixturevalue("pg_cluster")
    name = f"test_{os.getpid()}_{next(_database_numbers)}"
    url = cluster.create_database(name, template=request.getfixturevalue("pg_template"))
    try:
        yield url
    finally:
        cluster.drop_database(name)  # an empty PostgreSQL database is ~7 MB; do not pile them up


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on ``db_url`` (the schema is in place); disposed after the test."""
    from tamio.db import create_engine

    engine = create_engine(db_url)
    try:
        yield engine
    finally:
        await engine.dispose()


TEST_SECRET_KEY = "dGFtaW8tdGVzdHMtc2VydmVyLXNlY3JldC0zMi1ieXQ="
"""The server secret (a Fernet key) of every test session: it seals the audit chain they write."""


def secret_for_tests() -> Any:
    from tamio.server_secret import ServerSecret

    return ServerSecret.parse(TEST_SECRET_KEY)


@pytest.fixture
def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    from tamio.db import make_session_factory

    return make_session_factory(engine, secret_for_tests())


@pytest.fixture
async def session(session_factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session for one test; services never commit, so tests call ``await session.commit()``."""
    async with session_factory() as session:
        yield session

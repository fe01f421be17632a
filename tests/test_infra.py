"""The test infrastructure itself: the throwaway PostgreSQL cluster and the backend selection."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import _schema_metadata, selected_backends
from tests.pgcluster import PostgresCluster, PostgresUnavailable


@pytest.fixture
def needs_postgresql(request: pytest.FixtureRequest) -> None:
    if "pg" not in selected_backends(request.config):
        pytest.skip(f"--db={request.config.getoption('--db')} excludes PostgreSQL")


@pytest.mark.pg
async def test_the_cluster_answers_as_postgresql_15(needs_postgresql: None, pg_cluster: PostgresCluster) -> None:
    url = pg_cluster.create_database("infra_check")
    assert url == f"postgresql+asyncpg://tamio@127.0.0.1:{pg_cluster.port}/infra_check"

    connection = await asyncpg.connect(host="127.0.0.1", port=pg_cluster.port, user="tamio", database="infra_check")
    try:
        version = await connection.fetchval("SELECT version()")
        fsync = await connection.fetchval("SHOW fsync")
        await connection.execute("CREATE TABLE t (amount numeric)")
        await connection.execute("INSERT INTO t VALUES (1234567890123456.78)")
        amount = await connection.fetchval("SELECT sum(amount) FROM t")
    finally:
        await connection.close()
        pg_cluster.drop_database("infra_check")

    assert version.startswith("PostgreSQL 15.")
    assert fsync == "off"
    assert str(amount) == "1234567890123456.78"


@pytest.mark.pg
def test_a_template_copy_holds_the_templates_tables(needs_postgresql: None, pg_cluster: PostgresCluster) -> None:
    pg_cluster.create_database("infra_template")
    pg_cluster.execute("CREATE TABLE ledger (id int primary key)", database="infra_template")
    pg_cluster.create_database("infra_copy", template="infra_template")
    try:
        pg_cluster.execute("INSERT INTO ledger VALUES (1)", database="infra_copy")  # fails if not copied
    finally:
        pg_cluster.drop_database("infra_copy")
        pg_cluster.drop_database("infra_template")


def test_database_names_are_checked(tmp_path: Path) -> None:
    cluster = PostgresCluster(bin_dir=tmp_path, base_dir=tmp_path, data_dir=tmp_path, port=1, as_user=None)
    with pytest.raises(ValueError, match="lower-case letters"):
        cluster.create_database('x"; DROP DATABASE postgres; --')


def test_missing_binaries_are_an_error_not_a_skip(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TAMIO_PG_BIN", str(tmp_path))
    with pytest.raises(PostgresUnavailable, match="install postgresql-15 .* or set TAMIO_PG_BIN"):
        PostgresCluster.start()


@pytest.mark.pg
def test_stop_removes_the_server_and_its_files(needs_postgresql: None) -> None:
    cluster = PostgresCluster.start()
    socket.create_connection(("127.0.0.1", cluster.port), timeout=5).close()  # listening

    cluster.stop()
    cluster.stop()  # twice is harmless

    assert not cluster.base_dir.exists()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", cluster.port), timeout=5)


@pytest.mark.backends("sqlite")
def test_a_test_can_stay_on_sqlite(db_url: str) -> None:
    assert db_url.startswith("sqlite+aiosqlite:////")


def test_db_url_runs_once_per_selected_backend(request: pytest.FixtureRequest, db_url: str) -> None:
    backend = request.node.callspec.params["db_url"]
    assert backend in selected_backends(request.config)
    assert db_url.startswith({"sqlite": "sqlite+aiosqlite:///", "pg": "postgresql+asyncpg://tamio@127.0.0.1:"}[backend])



def test_a_database_layer_that_cannot_be_imported_fails_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every database test needs the schema: when ``tamio.db`` does not import, they error, never skip."""
    monkeypatch.setitem(sys.modules, "tamio.db", None)  # what a syntax error or a missing dependency looks like
    with pytest.raises(BaseException) as raised:  # noqa: B017 (a skip is a BaseException too: it must not be one)
        _schema_metadata()
    assert isinstance(raised.value, ImportError), f"{type(raised.value).__name__}: {raised.value}"

"""Engines, sessions and the column types that keep money exact on both databases.

SQLite is the embedded default; PostgreSQL is for several replicas. The same models and code run
on both, with three rules that FIELD_NOTES.md measured:

- SQLite: WAL, ``busy_timeout``, foreign keys on, and ``BEGIN IMMEDIATE`` for every transaction
  that may write (SQLAlchemy's deferred BEGIN lost updates and failed with "database is locked"
  under concurrency; taking the write lock up front serialises writers and loses nothing). A
  session marked ``read_only`` gets a plain ``BEGIN`` instead: in WAL mode a reader never waits for
  the writer, and ``PRAGMA query_only`` makes any write in it fail at once rather than under load.
  On PostgreSQL the same mark makes the transaction ``READ ONLY``.
- Money is ``Money``: integer thousandths in a BIGINT. SQLite's NUMERIC is a float, and its SUM
  over text is a float; integers are exact up to 9.2e18 and sum exactly in SQL on both backends.
  Thousandths cover every three-decimal currency and 1234567890123456.78. Amounts are held to
  10^12 (``tamio.limits``), and sums go through ``money_sum``: SQLite's SUM of integers stops with
  "integer overflow" past 9.2e18, so there it adds millions and remainders apart (PostgreSQL's SUM
  of a BIGINT is an exact NUMERIC already).
- SQL parameters (row values) never reach the log: engines hide them (``hide_parameters``).
- Datetimes are ``UTCDateTime``: stored as naive UTC, returned as aware UTC on both backends.

    engine = create_engine("sqlite+aiosqlite:///var/tamio.db")
    sessions = make_session_factory(engine)
    async with sessions() as session, session.begin():
        ...

    async with sessions() as session:
        read_only(session)              # before its first query: reads never queue behind writers
        ...
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, DateTime, String, Table, event
from sqlalchemy import Enum as SAEnum
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util import await_only, immutabledict

from tamio.config import normalize_database_url
from tamio.server_secret import SESSION_INFO_KEY, ServerSecret

MONEY_SCALE = 3
_BIGINT_MAX = 2**63 - 1
_MONEY_FACTOR = Decimal(10) ** MONEY_SCALE

JSONType = JSON().with_variant(JSONB(), "postgresql")


def new_id(prefix: str) -> str:
    """A readable, unique primary key such as ``cli_1f0c...``."""
    return f"{prefix}_{uuid.uuid4().hex}"


def utcnow() -> datetime:
    """The wall clock, for edges only (listeners, jobs, the CLI)."""
    return datetime.now(UTC)


class Money(TypeDecorator[Decimal]):
    """A Decimal stored as integer thousandths: exact, and exact under SQL SUM."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        try:
            amount = value if isinstance(value, Decimal) else Decimal(str(value))
            scaled = amount * _MONEY_FACTOR
            if scaled != scaled.to_integral_value():
                raise ValueError(f"{amount} has more than {MONEY_SCALE} decimal places; quantize it first")
        except InvalidOperation as exc:
            raise ValueError(f"not an amount: {value!r}") from exc
        if abs(scaled) > _BIGINT_MAX:  # the services hold amounts to tamio.limits; this is the last line
            raise ValueError(f"{amount} does not fit in a Money column")
        return int(scaled)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        decoded: Decimal | None = type(self).decoded[value]
        return decoded

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        # The dictionary's own lookup, not ``process_result_value`` through TypeDecorator's wrapper:
        # no Python frame per value read (a snapshot of 5,000 schedules reads ~30,000 of them).
        decode = type(self).decoded.__getitem__
        inner = self.impl_instance.result_processor(dialect, coltype)
        if inner is None:
            return decode
        return lambda value: decode(inner(value))

    decoded: Decoded  # set below: stored value -> Decimal


class Decoded(dict[Any, Any]):
    """Stored value -> what it reads as, each distinct one decoded once: amounts repeat (a subscription,
    a salary) and a Decimal is immutable. ``decoded[value]`` is a dictionary lookup; the first read
    of a value decodes it (``__missing__``). Bounded: past 65,536 values it starts again."""

    LIMIT = 65536

    def __init__(self, decode: Any, preset: dict[Any, Any]) -> None:
        super().__init__(preset)
        self.decode, self.preset = decode, dict(preset)

    def __missing__(self, value: Any) -> Any:
        if len(self) >= self.LIMIT:
            self.clear()
            self.update(self.preset)
        found = self[value] = self.decode(value)
        return found


def from_thousandths(value: int | Decimal | str) -> Decimal:
    """Turn a stored (or SQL-summed) Money integer back into a Decimal."""
    return Decimal(int(value)).scaleb(-MONEY_SCALE)


DECODED = Money.decoded = Decoded(from_thousandths, {None: None})


class money_sum(FunctionElement[Decimal]):  # noqa: N801 (an SQL function, named like func.sum)
    """``SUM`` of a Money column (or of a difference of two) that cannot overflow on either database."""

    type = Money()
    inherit_cache = True
    name = "money_sum"


@compiles(money_sum)
def _money_sum(element: money_sum, compiler: Any, **kw: Any) -> str:
    return f"SUM({compiler.process(element.clauses, **kw)})"


@compiles(money_sum, "sqlite")
def _money_sum_sqlite(element: money_sum, compiler: Any, **kw: Any) -> str:
    # x = (x / 10^6) * 10^6 + x % 10^6 for every integer (both truncate toward zero): each SUM stays far
    # from 2^63 for any realistic number of rows, and the final arithmetic turns REAL, not an error,
    # in the one case its exact result could not be an integer anyway.
    value = compiler.process(element.clauses, **kw)
    return f"(SUM(({value}) / 1000000) * 1000000 + SUM(({value}) % 1000000))"


class ExactDecimal(TypeDecorator[Decimal]):
    """A Decimal stored as text: exact at any precision (rates, percentages). Never summed in SQL."""

    impl = String(48)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
        return format(amount, "f")

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        decoded: Decimal | None = RATES[value]
        return decoded

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        inner = self.impl_instance.result_processor(dialect, coltype)
        return RATES.__getitem__ if inner is None else (lambda value: RATES[inner(value)])


RATES = Decoded(Decimal, {None: None})  # a rate, a percentage: few distinct ones


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both backends (SQLite has no time zones)."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise ValueError(f"not a datetime: {value!r}")
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        # One call per value read, not TypeDecorator's two (a run reads thousands of alert times).
        inner = self.impl_instance.result_processor(dialect, coltype)
        if inner is None:
            return lambda value: None if value is None else value.replace(tzinfo=UTC)
        return lambda value: None if value is None else inner(value).replace(tzinfo=UTC)  # type: ignore[union-attr]


class Base(DeclarativeBase):
    type_annotation_map = {
        Decimal: Money(),
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
        list[str]: JSONType,
    }


def is_sqlite(url: str) -> bool:
    return normalize_database_url(url).startswith("sqlite")


def _install_sqlite_recipe(engine: AsyncEngine, busy_timeout: float) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (pysqlite's implicit transactions lose updates).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA cache_size=-16384")  # KiB: a run reads an account's books whole; 2 MB (the default) re-reads them from the file each time
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        reading = bool(connection.get_execution_options().get(READ_ONLY))
        state = connection.connection.info  # lives as long as the DBAPI connection
        if state.get("query_only", False) != reading:
            _run_on_driver(connection, f"PRAGMA query_only={int(reading)}")
            state["query_only"] = reading
        if reading:
            _run_on_driver(connection, "BEGIN")  # takes no lock: cannot wait or fail
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    @event.listens_for(engine.sync_engine, "reset")
    def _on_reset(dbapi_connection: Any, record: Any, reset_state: Any) -> None:
        # Instead of the pool's unconditional rollback on return (``pool_reset_on_return=None``):
        # roll back only a transaction still open, not every connection after its commit.
        if not reset_state.asyncio_safe:
            return
        if getattr(record.driver_connection, "in_transaction", True):
            dbapi_connection.rollback()


def _run_on_driver(connection: Any, statement: str) -> None:
    """A statement that returns no rows, straight on aiosqlite: one hop to its thread instead of
    three (SQLAlchemy's cursor adapter creates, executes and closes a cursor, each a hop)."""
    driver = connection.connection.driver_connection
    if type(driver).__module__.startswith("aiosqlite"):
        await_only(driver.execute(statement))
    else:
        connection.exec_driver_sql(statement)


READ_ONLY = "tamio_read_only"
"""The execution option (set by ``read_only``) that makes a connection's transactions read-only."""


def read_only(session: AsyncSession, value: bool = True) -> None:
    """Make the session's transactions read-only (or, with ``False``, writable again).

    SQLite: a plain ``BEGIN`` (readers never wait for the writer in WAL mode) with
    ``PRAGMA query_only``; PostgreSQL: ``BEGIN READ ONLY``. A write in such a transaction fails on
    both. It counts from the session's next connection: call it before the first query (adding
    objects is fine); a transaction that has already run a query keeps its kind until it ends.
    """
    sync = session.sync_session
    options = {key: item for key, item in sync.execution_options.items() if key not in (READ_ONLY, "postgresql_readonly")}
    if value:
        options[READ_ONLY] = True
        if session.get_bind().dialect.name == "postgresql":
            options["postgresql_readonly"] = True
    sync.execution_options = immutabledict(options)


def is_read_only(session: AsyncSession) -> bool:
    return bool(session.sync_session.execution_options.get(READ_ONLY))


def create_engine(url: str, *, echo: bool = False, pool_size: int = 10, busy_timeout: float = 15.0) -> AsyncEngine:
    """An engine on ``url``; on SQLite a writer waits up to ``busy_timeout`` seconds for the write lock."""
    url = normalize_database_url(url)
    if is_sqlite(url):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        pool: dict[str, Any] = {}
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            # A connection is a thread with its own PRAGMAs: keep ``pool_size`` of them open rather
            # than opening and closing overflow ones in every burst (":memory:" has one connection).
            pool = {"pool_size": pool_size, "max_overflow": pool_size}
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": busy_timeout}, pool_reset_on_return=None,
                                     hide_parameters=True, **pool)  # pool_reset_on_return: see _on_reset
        _install_sqlite_recipe(engine, busy_timeout)
        return engine
    return create_async_engine(
        url, echo=echo, pool_pre_ping=True, pool_recycle=1800, pool_size=pool_size, max_overflow=pool_size,
        hide_parameters=True,
    )


def make_session_factory(engine: AsyncEngine, secret: ServerSecret | None = None) -> async_sessionmaker[AsyncSession]:
    """Sessions on ``engine``; ``secret`` (the server secret) keys the audit chain of what they write.

    A session without one can read and verify nothing keyed and write no audit row: every entry
    point (``tamio serve``, the CLI, the scheduler) passes the secret it was started with.
    """
    return async_sessionmaker(engine, expire_on_commit=False, info={SESSION_INFO_KEY: secret} if secret else {})


def enum_column(enum_cls: type[Any]) -> Any:
    """A portable VARCHAR column holding an Enum's values (no native PostgreSQL enum to migrate)."""
    return SAEnum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=40,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


def created_at_column() -> Any:
    return mapped_column(UTCDateTime(), default=utcnow)


def updated_at_column() -> Any:
    return mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class ConvertedAmountMixin:
    """Currency conversion at write time (design: "Currency Handling").

    ``base_currency_amount`` is the amount in the account's base currency, converted with
    ``exchange_rate_used`` from the rate of ``exchange_rate_date``; forecasts sum it and never
    convert at read time.
    """

    currency: Mapped[str] = mapped_column(String(3))
    base_currency_amount: Mapped[Decimal | None] = mapped_column(Money())
    exchange_rate_used: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    exchange_rate_date: Mapped[date | None] = mapped_column(Date())


def core_table(model: type[Base]) -> Table:
    """A model's table, for Core multi-row inserts: the ORM's bulk insert starts a new statement
    wherever a row's None columns differ from the row before, one statement per few rows at worst."""
    return Base.metadata.tables[model.__tablename__]

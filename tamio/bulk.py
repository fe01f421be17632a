"""Writing many rows of one kind at once (a pipeline run's alerts, actions, options, links, outbox rows).

One cached statement over batches of rows (executemany; insertmanyvalues where rows come back) costs
a fraction of constructing an object per row and flushing them, or of compiling a multi-row VALUES
list afresh for every batch. ``copy_rows`` goes further for the largest writes (a bulk import's
schedules, cash events and audit rows): on PostgreSQL it sends them by COPY, which the server takes
in about two thirds of the CPU an INSERT per row costs it, and with no SQLAlchemy parameter processing
on this side (measured on a 10,000-row import: schedules 1.10 -> 0.73 s of server CPU, cash events 0.80
-> 0.54 s). Elsewhere, and for a few rows, it is ``insert_rows``.

    await insert_rows(db, LinkedAction, [{"id": ..., "source_action_id": ..., ...}, ...])
    actions = await insert_objects(db, PreparedAction, rows)   # the session's objects, as written
    await copy_rows(db, CashEvent, rows)                       # stored exactly as insert_rows stores them
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any, TypeVar

from sqlalchemy import Column, Enum, Table, insert, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.instrumentation import manager_of_class

from tamio.db import Base, Money, UTCDateTime, core_table

BATCH = 1000
COPY_FROM = 50  # rows from which copy_rows sends them by COPY: below, a cached INSERT is as quick
IN_LIST = 5000  # ids per IN list: asyncpg takes at most 32,767 parameters a statement (a 100,000-row import raised 46,000 alerts)
_M = TypeVar("_M", bound=Base)
_NOTHING = object()
# Types whose stored value follows from the value's equality alone (Decimal("1.0") and Decimal("1.00")
# are both 1000 thousandths; an instant is one naive UTC time): not ExactDecimal, which keeps the digits.
_BY_VALUE = (Money, UTCDateTime, Enum)
_REMEMBERED = 10_000  # values remembered per column at most


async def insert_rows(session: AsyncSession, model: type[Base], rows: Sequence[Mapping[str, Any]]) -> None:
    """Rows of one kind (column names as keys, the same keys in each), one statement per ``BATCH``."""
    table = core_table(model)
    for start in range(0, len(rows), BATCH):
        await session.execute(insert(table), list(rows[start : start + BATCH]))


async def insert_objects(session: AsyncSession, model: type[_M], rows: Sequence[Mapping[str, Any]]) -> list[_M]:
    """``insert_rows``, then the rows as the model's objects, in order, in the session as though
    loaded from it (nothing to flush). A column a row leaves out takes its default, in the row and in
    the object alike. The objects are made from the rows as written: no construction events, no flush."""
    if not rows:
        return []
    table = core_table(model)
    missing = [c for c in table.columns if c.key not in rows[0]]
    complete = [{**row, **{c.key: _default_of(c) for c in missing}} for row in rows] if missing else list(rows)
    await insert_rows(session, model, complete)
    attribute = {c.key: model.__mapper__.get_property_by_column(c).key for c in table.columns}
    manager = manager_of_class(model)
    objects: list[_M] = []
    for row in complete:
        obj = manager.new_instance()
        obj.__dict__.update({attribute[k]: v for k, v in row.items()})
        make_transient_to_detached(obj)
        objects.append(obj)
    session.add_all(objects)
    return objects


async def copy_rows(session: AsyncSession, model: type[Base], rows: Sequence[Mapping[str, Any]]) -> None:
    """``insert_rows``, by COPY on PostgreSQL: in the session's transaction (all or nothing with the rest),
    each value converted by its column's own bind processor (Money to integer thousandths, enums to
    their strings, aware datetimes to naive UTC, JSON to text) and a column the rows leave out given its
    Python-side default, so the rows stored are those ``insert_rows`` stores (a test compares them).
    Like a Core INSERT it does not flush the session first. A failure is SQLAlchemy's error, as for INSERT."""
    if not rows:
        return
    table = core_table(model)
    connection = await session.connection()
    if len(rows) < COPY_FROM or connection.dialect.name != "postgresql":
        await insert_rows(session, model, rows)
        return
    records = _records(table, connection.dialect, rows)
    if records is None:  # a default only the database's INSERT works out
        await insert_rows(session, model, rows)
        return
    names, values = records
    await _copy(connection, table, names, values)


def _records(table: Table, dialect: Dialect, rows: Sequence[Mapping[str, Any]]) -> tuple[list[str], Iterator[tuple[Any, ...]]] | None:
    """The column names and each row's values as the columns store them (None: a left-out column's
    default is an SQL expression, which COPY cannot evaluate). The values come as COPY sends them, half
    a megabyte at a time: the server takes in one part while the next is converted here."""
    keys = list(rows[0])
    columns = [table.c[key] for key in keys]
    defaulted = [c for c in table.columns if c.key not in rows[0] and c.default is not None]
    defaults: list[Any] = []
    for column in defaulted:
        default: Any = column.default
        if not (default.is_scalar or default.is_callable):
            return None
        defaults.append(default)
    convert: list[tuple[int, Callable[[Any], Any]]] = [
        (i, processor) for i, column in enumerate((*columns, *defaulted))
        if (processor := column.type._cached_bind_processor(dialect)) is not None
    ]
    by_value = [isinstance(column.type, _BY_VALUE) for column in (*columns, *defaulted) if column.type._cached_bind_processor(dialect)]
    return [c.name for c in (*columns, *defaulted)], _values(rows, keys, defaults, convert, by_value, table)


def _values(rows: Sequence[Mapping[str, Any]], keys: list[str], defaults: list[Any], convert: list[tuple[int, Callable[[Any], Any]]],
            by_value: list[bool], table: Table) -> Iterator[tuple[Any, ...]]:
    take = itemgetter(*keys)
    # A batch's rows share many values (its timestamp, an agreement's amount on each of its schedules, a
    # zero paid): each is converted once, remembered by the object (the row before's) or, for a type
    # whose stored value follows from the value alone (``_BY_VALUE``), by the value.
    last: list[Any] = [_NOTHING] * len(convert)
    stored: list[Any] = [None] * len(convert)
    seen: list[dict[Any, Any] | None] = [{} if exact else None for exact in by_value]
    for row in rows:
        record = list(take(row)) if len(keys) > 1 else [take(row)]
        record += [d.arg(None) if d.is_callable else d.arg for d in defaults]
        for n, (i, process) in enumerate(convert):
            value = record[i]
            if value is not last[n]:
                known = seen[n]
                if known is not None and value in known:
                    stored[n] = known[value]
                else:
                    try:
                        stored[n] = process(value)
                    except Exception as exc:  # as SQLAlchemy reports a value its processor refuses
                        raise StatementError(f"({type(exc).__module__}.{type(exc).__name__}) {exc}", f"COPY {table.name}", None,
                                             exc) from exc
                    if known is not None:
                        if len(known) >= _REMEMBERED:
                            known.clear()
                        known[value] = stored[n]
                last[n] = value
            record[i] = stored[n]
        yield tuple(record)


async def _copy(connection: AsyncConnection, table: Table, names: list[str], values: Iterator[tuple[Any, ...]]) -> None:
    """COPY on the session's own asyncpg connection, inside its transaction."""
    raw = await connection.get_raw_connection()
    adapted: Any = raw.dbapi_connection  # SQLAlchemy's asyncpg adapter
    driver: Any = raw.driver_connection  # asyncpg's connection
    if adapted._transaction is None:  # the adapter begins asyncpg's transaction with its first statement
        await connection.execute(text("SELECT 1"))
    try:
        await driver.copy_records_to_table(table.name, schema_name=table.schema, columns=names, records=values)
    except Exception as error:  # as an INSERT's failure reads: the adapter's DBAPI error, wrapped by SQLAlchemy
        try:
            adapted._handle_exception(error)
        except connection.dialect.loaded_dbapi.Error as translated:
            raise DBAPIError.instance(f"COPY {table.name}", None, translated, connection.dialect.loaded_dbapi.Error) from error
        raise


def _default_of(column: Column[Any]) -> Any:
    """What the column's Python-side default gives a new row (None without one)."""
    default: Any = column.default
    if default is None:
        return None
    return default.arg(None) if default.is_callable else default.arg


def slices(ids: Sequence[str]) -> Iterator[list[str]]:
    """``ids`` in lists of at most ``IN_LIST``, one statement each."""
    for start in range(0, len(ids), IN_LIST):
        yield list(ids[start : start + IN_LIST])

"""Writing many rows of one kind at once (a pipeline run's alerts, actions, options, links, outbox rows).

One cached statement over batches of rows (executemany; insertmanyvalues where rows come back) costs
a fraction of constructing an object per row and flushing them, or of compiling a multi-row VALUES
list afresh for every batch.

    await insert_rows(db, LinkedAction, [{"id": ..., "source_action_id": ..., ...}, ...])
    actions = await insert_objects(db, PreparedAction, rows)   # the session's objects, as written
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Column, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.instrumentation import manager_of_class

from tamio.db import Base, core_table

BATCH = 1000
IN_LIST = 5000  # ids per IN list: asyncpg takes at most 32,767 parameters a statement (a 100,000-row import raised 46,000 alerts)
_M = TypeVar("_M", bound=Base)


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

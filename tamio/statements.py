"""Statements built once per shape and run with new parameters.

Building a large select costs more than many of them take to run (~0.6 ms for one of the detection
snapshot's); SQLAlchemy keeps a built statement's cache key, so reusing the statement finds its
compiled form at once. A statement is scoped to one account (``:account``) or a batch (``:accounts``,
a list): ``account_scope`` in the statement, ``account_params`` at the call. A dated one (schedules
due in a window, payments of the last year) is built once for accounts that share a day and run with
``:first`` and ``:last``; a batch whose accounts are on different days (a few time zones) gets one
built for its days, one term per day (``windowed``).

    @cache
    def _paid_of_day(single: bool) -> Select[Any]:
        return _paid(single, and_(account_scope(pe.user_id, single), pe.payment_date >= bindparam("first"), ...))

    statement, params = windowed(today, ids, _paid_of_day, _paid, pe.user_id, window, bounds)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import and_, bindparam, or_

Window = Callable[[Any, Any], Any]  # (first, last) -> the clause of a dated statement
Bounds = Callable[[date], tuple[date, date]]  # an account's day -> the first and last days it reads


def account_scope(owner: Any, single: bool) -> Any:
    """``owner`` is one account (``:account``) or one of several (``:accounts``, a list)."""
    return owner == bindparam("account") if single else owner.in_(bindparam("accounts", expanding=True))


def account_params(ids: Sequence[str]) -> dict[str, Any]:
    """The parameters of ``account_scope`` for ``ids`` (one: the single shape)."""
    return {"account": ids[0]} if len(ids) == 1 else {"accounts": list(ids)}


def one_day(today: Mapping[str, date]) -> date | None:
    """The day every account of ``today`` is on, if they share one (a batch in a few time zones may not)."""
    days = set(today.values())
    return days.pop() if len(days) == 1 else None


def by_day(today: Mapping[str, date], owner: Any, window: Window, bounds: Bounds) -> Any:
    """``owner`` among the accounts of ``today`` and ``window(first, last)`` of its day's ``bounds``: exact
    in SQL for a batch whose accounts are on different days, one term per distinct day."""
    days: dict[date, list[str]] = {}
    for account_id in sorted(today):
        days.setdefault(today[account_id], []).append(account_id)
    return or_(*(
        and_(owner == ids[0] if len(ids) == 1 else owner.in_(ids), window(*bounds(day))) for day, ids in days.items()
    ))


def windowed(
    today: Mapping[str, date], ids: Sequence[str], of_day: Callable[[bool], Any], build: Callable[[bool, Any], Any],
    owner: Any, window: Window, bounds: Bounds,
) -> tuple[Any, dict[str, Any]]:
    """A dated statement and its parameters: ``of_day(single)`` (built once, scoped with ``account_scope``
    and ``window(:first, :last)``) when the accounts share a day, else ``build(single, where)`` for this
    batch's days."""
    single, day = len(ids) == 1, one_day(today)
    if day is not None:
        first, last = bounds(day)
        return of_day(single), {**account_params(ids), "first": first, "last": last}
    return build(single, by_day(today, owner, window, bounds)), account_params(ids)

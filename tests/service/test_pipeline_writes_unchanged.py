"""Issue 20 item 2, the writing side: a FULL run written in batches (alerts, actions, options, links,
outbox rows) stores exactly what it stored row by row, and a steady rerun an hour later changes the
same things, on the pipeline bench's business (500 counterparties, ~565 alerts).

Every stored column of every row the runs write is in the digest, read back with Core (what the
database holds, not the session's objects). The books' ids are made deterministic; the ids a run
makes (random) are replaced by what they name: an alert by its type and fingerprint, an action by
its alert, an option by its action and rank. The digests were taken on the code that wrote row by
row (main before the batched writes; retaken on it when main changes what a run writes, e.g. the
truer links of issue 20's effects). Retaken when the forecast basis (a stored column) came to digest
how the clients pay instead of each receivable's expected day (a steady run checks the cards without
building a context): with ``forecast_basis`` left out, the digests before and after were the same.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

import bench.detection
from bench.detection import NOW, SETTINGS, TODAY, books
from tamio.accounts.models import Account
from tamio.accounts.service import create_account
from tamio.audit.models import AuditLog
from tamio.db import core_table
from tamio.detection.models import DetectionAlert
from tamio.obligations.service import horizon_end
from tamio.outbox.models import OutboxMessage
from tamio.pipeline import run_detection_preparation_cycle
from tamio.preparation.models import ActionOption, LinkedAction, PreparedAction

FIRST = "eed0b0ca10fba20cc517a489f0b4607941e729e03cf9a2fc2441c7271fc190ec"
STEADY = "583af5a92f9dc42afa40a077640d8be06458506711b02fa4f66a44d4243adcaf"
RANDOM_ID = re.compile(r"\b[a-z_]+_[0-9a-f]{32}\b")
WRITTEN = (DetectionAlert, PreparedAction, ActionOption, LinkedAction, OutboxMessage, AuditLog)
RANDOM_COLUMNS = {"id", "row_hash", "prev_hash"}  # ids are named by what they are; hashes follow the random server secret


async def _state(session: AsyncSession, account_id: str) -> str:
    """Every row the pipeline writes, ids replaced by names, sorted; its SHA-256."""
    tables = {model: [dict(r._mapping) for r in (await session.execute(select(core_table(model))))] for model in WRITTEN}
    names: dict[str, str] = {account_id: "ACCOUNT"}
    for alert in tables[DetectionAlert]:
        names[alert["id"]] = f"alert[{alert['detection_type']}|{alert['fingerprint']}|{alert['status']}]"
    for action in tables[PreparedAction]:
        names[action["id"]] = f"action[{names.get(action['alert_id'], '-')}|{action['status']}]"
    for option in tables[ActionOption]:
        names[option["id"]] = f"option[{names[option['action_id']]}|{option['rank']}]"
    members: dict[str, set[str]] = {}
    for link in tables[LinkedAction]:  # a group's id is its smallest action id (random): named by its members
        members.setdefault(link["group_id"], set()).update((names[link["source_action_id"]], names[link["target_action_id"]]))
    for link in tables[LinkedAction]:
        link["group_id"] = f"group[{min(members[link['group_id']])}]"
        if link["link_type"].value == "conflicts":  # a symmetric link runs from the smaller (random) id: named in order
            pair = sorted((names[link["source_action_id"]], names[link["target_action_id"]]))
            link["source_action_id"], link["target_action_id"] = pair

    def named(value: Any) -> str:
        return RANDOM_ID.sub(lambda m: names.get(m.group(0), "UNNAMED"), repr(value))


    lines = [
        named((model.__tablename__, _sorted(row)))
        for model in WRITTEN for row in tables[model]
    ]
    assert len(set(names.values())) == len(names), "two rows share a name"
    return hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()


def _sorted(value: Any) -> Any:
    """JSON keys in order (PostgreSQL's JSONB keeps them its own way), random columns left out."""
    if isinstance(value, dict):
        return sorted((k, _sorted(v)) for k, v in value.items() if k not in RANDOM_COLUMNS)
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


@pytest.fixture
def deterministic_books(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    counter = itertools.count(1)
    monkeypatch.setattr(bench.detection, "new_id", lambda prefix: f"{prefix}{next(counter):06}")
    yield


async def test_a_full_run_and_its_steady_rerun_write_what_they_wrote_row_by_row(session: AsyncSession, deterministic_books: None) -> None:
    account = await create_account(session, name="Bench Agency", base_currency="USD", now=NOW)
    for model, rows in books(account.id).items():
        await session.execute(insert(model), rows)
    await session.execute(update(Account).where(Account.id == account.id).values(schedules_through=horizon_end(TODAY)))
    first = await run_detection_preparation_cycle(session, account.id, today=TODAY, now=NOW, settings=SETTINGS, trigger="pipeline")
    assert (first.alerts_detected, first.actions_prepared, first.linked_action_groups, first.errors) == (565, 565, 12, [])
    after_first = await _state(session, account.id)
    steady = await run_detection_preparation_cycle(session, account.id, today=TODAY, now=NOW + timedelta(hours=1), settings=SETTINGS,
                                                   trigger="pipeline")
    assert (steady.alerts_detected, steady.actions_prepared, steady.errors) == (565, 0, [])
    after_steady = await _state(session, account.id)
    assert (after_first, after_steady) == (FIRST, STEADY)

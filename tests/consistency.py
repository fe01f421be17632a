"""The check the stories run after every step: alerts, pending cards and App Home agree with the forecast.

``figure_discrepancies`` (the core's part) compares every open alert and every pending card with
what the rules and the agents give from the current data; App Home's part compares a published
Home view with ``calculate_forecast`` at the same moment (its headline) and with the open alerts
(the lines it lists).

    await assert_figures_agree(sessions, account_id=account.id, now=now, settings=settings, home=view)
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.blocks.alerts import alert_sections
from bot.blocks.forecast import headline
from bot.queries import count_open_alerts, open_alerts
from tamio.accounts.models import Account
from tamio.config import Settings
from tamio.forecast.service import calculate_forecast
from tamio.preparation.consistency import figure_discrepancies


def home_discrepancies(view: dict[str, Any], *, expected_headline: str, expected_alerts: list[dict[str, Any]]) -> list[str]:
    """App Home against the forecast and the open alerts of the same moment."""
    blocks = view.get("blocks") or []
    texts = [str((b.get("text") or {}).get("text") or "") for b in blocks]
    problems = []
    if expected_headline not in texts:
        shown = next((t for t in texts if t.startswith("Today *")), "no headline")
        problems.append(f"App Home says {shown!r} but the forecast says {expected_headline!r}")
    start = next((i for i, b in enumerate(blocks) if b.get("type") == "header" and "Open alerts" in json.dumps(b)), None)
    if start is not None:
        end = next((i for i in range(start + 1, len(blocks)) if blocks[i].get("type") == "divider"), len(blocks))
        if blocks[start + 1 : end] != expected_alerts and expected_alerts:
            problems.append(f"App Home lists other alerts than the open ones: {json.dumps(blocks[start + 1 : end])[:1500]}\n"
                            f"open now: {json.dumps(expected_alerts)[:1500]}")
    return problems


async def discrepancies(
    db: AsyncSession, *, account_id: str, now: datetime, settings: Settings, home: dict[str, Any] | None = None
) -> list[str]:
    account = await db.get(Account, account_id)
    assert account is not None
    problems = await figure_discrepancies(db, account=account, now=now, settings=settings)
    if home is not None:
        today = now.astimezone(ZoneInfo(account.timezone)).date()
        forecast = await calculate_forecast(db, account.id, as_of=today, settings=settings)
        alerts = alert_sections(await open_alerts(db, account_id=account.id), today=today, per_group=8,
                                counts=await count_open_alerts(db, account_id=account.id))
        problems += home_discrepancies(home, expected_headline=headline(forecast), expected_alerts=alerts)
    return problems


async def assert_figures_agree(
    sessions: async_sessionmaker[AsyncSession], *, account_id: str, now: datetime, settings: Settings,
    home: dict[str, Any] | None = None,
) -> None:
    """Nothing a person reads disagrees with the forecast at ``now`` (checked in a transaction rolled back after)."""
    async with sessions() as db:
        problems = await discrepancies(db, account_id=account_id, now=now, settings=settings, home=home)
        await db.rollback()
    assert problems == [], "\n".join(problems)

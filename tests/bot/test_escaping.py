"""Issue 22, text: whatever a business names things reads as text in Slack, never as a mention or a link.

Finding: a counterparty named ``<!channel> <https://evil.example/pay|Acme Pay>`` went raw into a
message's fallback text (the notification a phone shows, which Slack parses like any mrkdwn). Here the
demo company's every client, vendor and the account itself carry such a name; then everything Tamio
shows is checked: cards and alert announcements in the channel, the digest, ephemeral answers and
errors, and App Home, in their fallback text and in every mrkdwn text object.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from tamio.accounts.models import Account, Role
from tamio.accounts.service import ensure_member
from tamio.data.models import Client, ExpenseBucket
from tamio.demo import seed_demo
from tamio.digest import load_digest
from tamio.outbox.service import enqueue
from tests.bot.conftest import ADMIN, CHANNEL, NOW, BotHarness

pytestmark = pytest.mark.backends("sqlite")

EVIL = "<!channel> <https://evil.example/pay|Acme Pay>"
RAW = ("<!channel>", "<https://evil", "<!here>")


def mrkdwn_texts(value: Any) -> list[str]:
    """Every text Slack parses as mrkdwn: ``text`` of a message, and mrkdwn objects at any depth."""
    found: list[str] = []
    if isinstance(value, dict):
        if value.get("type") == "mrkdwn" and isinstance(value.get("text"), str):
            found.append(value["text"])
        for key, item in value.items():
            if key == "text" and isinstance(item, str) and value.get("type") not in ("plain_text", "mrkdwn"):
                found.append(item)  # a message's or an ephemeral's notification text
            elif isinstance(item, dict | list):
                found += mrkdwn_texts(item)
    elif isinstance(value, list):
        for item in value:
            found += mrkdwn_texts(item)
    return found


async def test_hostile_names_are_escaped_in_every_message_and_fallback_text(bot: BotHarness) -> None:
    async with bot.sessions() as db, db.begin():
        account = await seed_demo(db, settings=bot.settings, today=NOW.date(), now=NOW,
                                  slack_team_id=bot.slack.workspace.team_id, digest_channel_id=CHANNEL)
        for model in (Client, ExpenseBucket):
            for row in (await db.execute(select(model).where(model.user_id == account.id))).scalars():
                row.name = f"{EVIL} {row.name}"
        account.name = f"{EVIL} Studio"
        account_id = account.id
        # The demo company has its own admins; a Slack admin is no Tamio admin until made one (tests/bot/test_privacy.py).
        await ensure_member(db, account_id=account_id, slack_user_id=ADMIN, role=Role.ADMIN, now=NOW)
    await bot.command(ADMIN, "run")
    for text in ("alerts", "actions", "balance", f'paid "{EVIL}" 5', 'rename client "Nobody" "x"'):
        await bot.command(ADMIN, text)
    await bot.command(ADMIN, "config")
    await bot.sender.app_home_opened(ADMIN)
    async with bot.sessions() as db, db.begin():
        found = await db.get(Account, account_id)
        assert found is not None
        digest = await load_digest(db, account=found, today=NOW.date(), now=NOW, settings=bot.settings)
        await enqueue(db, account_id=account_id, kind="digest", channel=CHANNEL, payload=digest.to_json(),
                      idempotency_key="digest:test", now=NOW)
    await bot.settle()

    shown = [*bot.slack.messages(CHANNEL), *bot.slack.ephemerals, *bot.slack.home_views.values()]
    texts = mrkdwn_texts(shown)
    assert len(bot.slack.messages(CHANNEL)) >= 4 and bot.slack.home_views  # cards, alerts, the digest; the Home tab
    hostile = [t for t in texts if "evil.example" in t]
    assert len(hostile) >= 10, texts  # the names are shown, as text
    leaks = [t for t in hostile if any(raw in t for raw in RAW)]
    assert leaks == []
    assert any("&lt;!channel&gt; &lt;https://evil.example/pay|Acme Pay&gt;" in t for t in hostile)

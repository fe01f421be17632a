"""A business with hundreds of open alerts (a large import) sees how many there are, in every group.

The old code read the first 100 open alerts, emergencies first, and counted those: with 120
emergencies, `/tamio alerts` said "Open alerts (100)" and "Emergency (100)", App Home the same, and
this week's and upcoming alerts were not there at all; a viewer was told of "100 open alerts".
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

from tamio.detection.models import AlertSeverity, AlertStatus, DetectionAlert, DetectionType
from tests.bot.conftest import ADMIN, NOW, VIEWER, BotHarness
from tests.bot.prepared import account_of

TODAY = date(2026, 12, 7)
GROUPS = {AlertSeverity.EMERGENCY: 120, AlertSeverity.THIS_WEEK: 30, AlertSeverity.UPCOMING: 5}


async def many_alerts(bot: BotHarness) -> None:
    """155 open alerts as the pipeline leaves them, and a resolved one that no list counts."""
    await bot.command(ADMIN, "help")  # the account and its first admin
    account = await account_of(bot.sessions)
    async with bot.sessions() as db, db.begin():
        for severity, count in GROUPS.items():
            for i in range(count):
                db.add(DetectionAlert(
                    user_id=account.id, detection_type=DetectionType.LATE_PAYMENT, severity=severity,
                    fingerprint=f"late:{severity.value}:{i}", entity_type="client", entity_name=f"Client {i}",
                    title=f"{severity.value} client {i:03d} is late", amount=Decimal("100"), currency="USD",
                    due_date=TODAY - timedelta(days=i % 40), first_detected_at=NOW, last_detected_at=NOW))
        db.add(DetectionAlert(
            user_id=account.id, detection_type=DetectionType.LATE_PAYMENT, severity=AlertSeverity.THIS_WEEK,
            status=AlertStatus.RESOLVED, fingerprint="late:resolved", entity_type="client", entity_name="Paid Co",
            title="Paid Co is late", amount=Decimal("100"), currency="USD", due_date=TODAY,
            first_detected_at=NOW, last_detected_at=NOW))


async def test_alerts_and_home_count_every_open_alert_in_each_group(bot: BotHarness) -> None:
    await many_alerts(bot)

    await bot.command(ADMIN, "alerts")
    shown = bot.ephemerals_for(ADMIN)[-1]
    text = shown["text"] + str(shown["blocks"])
    assert "Open alerts (155)" in text and "155 open alerts" in shown["text"], text
    assert "*Emergency* (120)" in text and "*This week* (30)" in text and "*Upcoming* (5)" in text, text
    assert "this_week client 029 is late" in text and "upcoming client 004 is late" in text, text  # not pushed out
    assert "Paid Co" not in text
    listed = text.count(" is late*")
    hidden = sum(int(n) for n in re.findall(r"…and (\d+) more", text))
    assert listed + hidden == 155, (listed, hidden)

    await bot.sender.app_home_opened(ADMIN)
    await bot.settle()
    home = str(bot.slack.home_views[ADMIN]["blocks"])
    assert "*Emergency* (120)" in home and "*This week* (30)" in home and "*Upcoming* (5)" in home, home
    assert "this_week client 029 is late" in home

    await bot.command(VIEWER, "alerts")  # a viewer who may not see figures: only how much needs attention
    assert "155 open alerts" in bot.ephemerals_for(VIEWER)[-1]["text"]
    await bot.sender.app_home_opened(VIEWER)
    await bot.settle()
    assert "155 open alerts" in str(bot.slack.home_views[VIEWER]["blocks"])

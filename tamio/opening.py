"""Opening an account: the account row, then the defaults each layer above accounts keeps for it.

``tamio.accounts`` sits at the bottom of the core and cannot reach up to the layers whose tables also
get per-account defaults (design: "Default rules (created on user signup)" of the execution
automation rules), so the one flow that opens an account lives here, above them. Every edge that
makes an account (``tamio account create``, a Slack workspace's first request or install, the demo)
calls it, in the caller's transaction.

    account = await open_account(db, name="Acme Ltd", base_currency="USD", timezone="Europe/London")
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tamio.accounts.models import Account
from tamio.accounts.service import create_account
from tamio.execution.automation import create_default_rules


async def open_account(
    db: AsyncSession,
    *,
    name: str,
    base_currency: str,
    timezone: str = "UTC",
    slack_team_id: str | None = None,
    slack_enterprise_id: str | None = None,
) -> Account:
    """A new account with its configuration (``create_account``) and its default automation rules."""
    account = await create_account(
        db, name=name, base_currency=base_currency, timezone=timezone,
        slack_team_id=slack_team_id, slack_enterprise_id=slack_enterprise_id,
    )
    await create_default_rules(db, account=account)
    return account

"""Issue 15 through the REST API: approving an action whose figures changed is refused (409) and the
fresh action takes its place; ``chase_cooloff_days`` is a setting like the other thresholds."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.accounts.service import get_member
from tamio.accounts.tokens import create_token
from tamio.config import Settings
from tamio.data.service import set_balance
from tamio.demo import PEOPLE, seed_demo
from tamio.preparation.models import ActionStatus, ActionType, PreparedAction
from tamio.scheduler.refresh import drain_refreshes
from tests.api.conftest import START, Api, Business, assert_problem

pytestmark = pytest.mark.backends("sqlite")


async def demo_with_token(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> tuple[str, str]:
    now = START
    async with sessions() as db, db.begin():
        account = await seed_demo(db, settings=settings, today=now.date(), now=now)
        member = await get_member(db, account_id=account.id, slack_user_id=PEOPLE.approver)
        assert member is not None
        issued = await create_token(db, account=account, actor=None, member_id=member.id, name="api", now=now)
    await drain_refreshes(sessions, now=now, settings=settings)
    return account.id, issued.secret


async def buffer_action(sessions: async_sessionmaker[AsyncSession], account_id: str) -> PreparedAction:
    async with sessions() as db:
        return (await db.execute(select(PreparedAction).where(
            PreparedAction.user_id == account_id, PreparedAction.action_type == ActionType.PAYMENT_PRIORITIZATION,
            PreparedAction.status == ActionStatus.PENDING))).scalar_one()


async def test_approving_a_card_whose_figures_changed_is_409_with_the_fresh_action(api: Api) -> None:
    account_id, token = await demo_with_token(api.sessions, api.settings)
    stale = await buffer_action(api.sessions, account_id)
    option = (await api.get(f"/pipeline/actions/{stale.id}", token=token)).json()["options"][0]
    now = api.clock()
    async with api.sessions() as db, db.begin():
        from tamio.accounts.models import Account

        account = await db.get(Account, account_id)
        assert account is not None
        await set_balance(db, account=account, name="Operating", amount=Decimal("4000"), currency="USD", on_date=now.date(), now=now)
    reply = await api.post(f"/pipeline/actions/{stale.id}/approve", token=token, json={"option_id": option["id"]})
    problem = assert_problem(reply, 409)
    fresh = await buffer_action(api.sessions, account_id)
    assert problem["detail"].startswith("The figures changed since this was prepared; here they are now.")
    assert fresh.id in problem["detail"] and fresh.id != stale.id
    shown = (await api.get(f"/pipeline/actions/{stale.id}", token=token)).json()
    assert shown["status"] == "superseded"
    again = (await api.get(f"/pipeline/actions/{fresh.id}", token=token)).json()
    assert again["status"] == "pending" and again["options"][0]["title"] != option["title"]  # a bigger draw now


async def test_chase_cooloff_days_is_read_and_changed_with_the_other_settings(api: Api, business: Business) -> None:
    path = f"/data/user-config/{business.account_id}"
    assert (await api.get(path, token=business.viewer)).json()["chase_cooloff_days"] == 7
    reply = await api.call("PUT", path, token=business.admin, json={"chase_cooloff_days": 3})
    assert reply.status == 200 and reply.json()["chase_cooloff_days"] == 3, reply.text
    assert_problem(await api.call("PUT", path, token=business.admin, json={"chase_cooloff_days": -1}), 422)

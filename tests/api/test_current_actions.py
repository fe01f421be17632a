"""The action queue the API shows follows the changes already made: a balance set through the API, then at
once ``GET /pipeline/actions`` (no refresh drained between them, as when the server's loop has not come
round yet) lists the card prepared on the new balance, not the one the change made stale
(``Route.current``: the account's waiting refresh is answered first, as in Slack and the CLI)."""

from __future__ import annotations

import pytest

from tamio.accounts.service import get_member
from tamio.accounts.tokens import create_token
from tamio.demo import PEOPLE, seed_demo
from tamio.refresh import service as refresh
from tamio.scheduler.refresh import drain_refreshes
from tests.api.conftest import START, Api

pytestmark = pytest.mark.backends("sqlite")


async def test_the_queue_right_after_a_balance_change_shows_the_cards_of_the_new_balance(api: Api) -> None:
    async with api.sessions() as db, db.begin():
        account = await seed_demo(db, settings=api.settings, today=START.date(), now=START)
        admin = await get_member(db, account_id=account.id, slack_user_id=PEOPLE.admin)
        assert admin is not None
        token = (await create_token(db, account=account, actor=None, member_id=admin.id, name="api", now=START)).secret
    await drain_refreshes(api.sessions, now=START, settings=api.settings)
    before = (await api.get("/pipeline/actions?status=pending&type=payment_prioritization", token=token)).json()["actions"]
    assert len(before) == 1
    [cash] = [c for c in (await api.get("/data/cash-accounts", token=token)).json()["cash_accounts"] if c["name"] == "Operating"]

    reply = await api.call("PUT", f"/data/cash-accounts/{cash['id']}/balance", token=token, json={"balance": "4000"})
    assert reply.status == 200, reply.text
    async with api.sessions() as db:
        assert await refresh.waiting(db, account_ids=[account.id])  # nothing has answered it yet

    after = (await api.get("/pipeline/actions?status=pending&type=payment_prioritization", token=token)).json()["actions"]
    assert [a["id"] for a in after] != [before[0]["id"]] and len(after) == 1, after
    assert after[0]["options"][0]["title"] != before[0]["options"][0]["title"]  # a bigger draw on the new balance
    stale = (await api.get(f"/pipeline/actions/{before[0]['id']}", token=token)).json()
    assert stale["status"] == "superseded"

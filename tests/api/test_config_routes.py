"""/api/v1/data/user-config: the design document's behaviour, scoped to the token's own account."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tamio.accounts.models import UserConfiguration
from tamio.audit.models import AuditLog
from tests.api.conftest import Api, Business, assert_problem

pytestmark = pytest.mark.backends("sqlite")

DEFAULTS = {
    "obligations_buffer_amount": "0.00", "runway_buffer_months": 6, "late_payment_threshold_days": 7,
    "unexpected_expense_threshold_pct": "20", "safety_mode": "normal", "payroll_check_days_before": 7,
    "payroll_buffer_percent": "10", "payment_cluster_threshold_pct": "40", "chase_cooloff_days": 7,
}


def settings_of(body: dict[str, object]) -> dict[str, object]:
    return {key: body[key] for key in DEFAULTS}


async def test_get_creates_the_defaults_when_missing(api: Api, business: Business) -> None:
    path = f"/data/user-config/{business.account_id}"
    assert (await api.call("DELETE", path, token=business.admin)).status == 204
    async with api.sessions() as db:
        assert await db.get(UserConfiguration, business.account_id) is None
    reply = await api.get(path, token=business.viewer)
    assert reply.status == 200, reply.text
    assert reply.json()["user_id"] == business.account_id and settings_of(reply.json()) == DEFAULTS
    async with api.sessions() as db:
        assert await db.get(UserConfiguration, business.account_id) is not None


async def test_an_admin_changes_settings_and_safety_mode_shows_its_effect(api: Api, business: Business) -> None:
    path = f"/data/user-config/{business.account_id}"
    reply = await api.call("PUT", path, token=business.admin,
                           json={"safety_mode": "conservative", "obligations_buffer_amount": "8000", "late_payment_threshold_days": 8})
    assert reply.status == 200, reply.text
    body = reply.json()
    assert (body["safety_mode"], body["obligations_buffer_amount"], body["late_payment_threshold_days"]) == ("conservative", "8000.00", 8)
    assert body["runway_buffer_months"] == 6  # left out: kept
    assert body["effective"]["obligations_buffer_amount"] == "10000.00"  # +25 %
    assert body["effective"]["late_payment_threshold_days"] == 6  # -25 %, rounded
    assert (await api.get(path, token=business.viewer)).json() == body
    async with api.sessions() as db:
        rows = (await db.execute(select(AuditLog).where(AuditLog.entity_type == "user_configuration"))).scalars().all()
    assert [(r.action, r.actor) for r in rows] == [("update", business.member_ids["admin"])]


async def test_create_is_409_when_one_exists_and_201_after_delete(api: Api, business: Business) -> None:
    exists = await api.post("/data/user-config/", token=business.admin, json={"user_id": business.account_id})
    assert_problem(exists, 409)
    assert (await api.call("DELETE", f"/data/user-config/{business.account_id}", token=business.admin)).status == 204
    assert_problem(await api.call("DELETE", f"/data/user-config/{business.account_id}", token=business.admin), 404)
    created = await api.post("/data/user-config/", token=business.admin,
                             json={"user_id": business.account_id, "runway_buffer_months": 9, "payroll_buffer_percent": "12.5"})
    assert created.status == 201, created.text
    assert settings_of(created.json()) == DEFAULTS | {"runway_buffer_months": 9, "payroll_buffer_percent": "12.5"}


async def test_post_to_the_user_id_creates_it_too(api: Api, business: Business, other_business: Business) -> None:
    path = f"/data/user-config/{business.account_id}"
    assert_problem(await api.post(path, token=business.admin, json={}), 409)
    assert (await api.call("DELETE", path, token=business.admin)).status == 204
    denied = assert_problem(await api.post(path, token=business.approver, json={}), 403)
    assert "this token acts as an approver" in str(denied["detail"])
    assert_problem(await api.post(f"/data/user-config/{other_business.account_id}", token=business.admin, json={}), 404)
    created = await api.post(path, token=business.admin, json={"runway_buffer_months": 4})
    assert created.status == 201, created.text
    assert settings_of(created.json()) == DEFAULTS | {"runway_buffer_months": 4}
    assert (await api.get(path, token=business.viewer)).json() == created.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"runway_buffer_months": 0}, "runway_buffer_months"),
        ({"runway_buffer_months": "6"}, "runway_buffer_months"),
        ({"payroll_buffer_percent": 10}, "payroll_buffer_percent"),
        ({"payroll_buffer_percent": "101"}, "payroll_buffer_percent"),
        ({"obligations_buffer_amount": "-5"}, "obligations_buffer_amount"),
        ({"safety_mode": "reckless"}, "safety_mode"),
        ({"colour": "blue"}, "colour"),
    ],
)
async def test_bad_settings_are_422(api: Api, business: Business, body: dict[str, object], field: str) -> None:
    reply = await api.call("PUT", f"/data/user-config/{business.account_id}", token=business.admin, json=body)
    assert field in [e["field"] for e in assert_problem(reply, 422)["errors"]]  # type: ignore[union-attr]


async def test_another_accounts_id_is_not_found(api: Api, business: Business, other_business: Business) -> None:
    for user_id in (other_business.account_id, "acct_does_not_exist"):
        detail = str(assert_problem(await api.get(f"/data/user-config/{user_id}", token=business.admin), 404)["detail"])
        assert detail == (
            f"There is no configuration for `{user_id}` in this account. "
            f"The user id here is the account's id: this token's account is `{business.account_id}`."
        )
        assert_problem(await api.call("PUT", f"/data/user-config/{user_id}", token=business.admin, json={"runway_buffer_months": 2}), 404)
        assert_problem(await api.post("/data/user-config/", token=business.admin, json={"user_id": user_id}), 404)
    theirs = (await api.get(f"/data/user-config/{other_business.account_id}", token=other_business.viewer)).json()
    assert theirs["runway_buffer_months"] == 6

"""Bearer tokens: missing or wrong is 401 with a Bearer challenge, roles are enforced, tokens are
stored only as SHA-256, shown once, and revocable from the CLI."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from tamio.accounts.models import Account, ApiToken, Member
from tamio.accounts.tokens import create_token, revoke_token, verify_token
from tamio.errors import NotFound, PermissionDenied
from tamio.preparation.models import ActionStatus, PreparedAction
from tests.api.conftest import Api, Business, assert_problem, dump_database

pytestmark = pytest.mark.backends("sqlite")
ROOT = Path(__file__).resolve().parents[2]


async def test_no_token_is_401_with_a_bearer_challenge(api: Api, business: Business) -> None:
    reply = await api.get("/data/clients")
    body = assert_problem(reply, 401)
    assert reply.headers["WWW-Authenticate"] == 'Bearer realm="tamio"'
    assert "Bearer" in str(body["detail"])


@pytest.mark.parametrize(
    "header",
    ["Bearer tamio_not-a-real-token", "Bearer nonsense", "Basic dXNlcjpwYXNz", "Bearer ", "tamio_x"],
)
async def test_wrong_tokens_are_401(api: Api, business: Business, header: str) -> None:
    reply = await api.get("/data/clients", headers={"Authorization": header})
    assert_problem(reply, 401)
    assert reply.headers["WWW-Authenticate"].startswith('Bearer realm="tamio"')


async def test_a_valid_token_reads_its_own_account(api: Api, business: Business) -> None:
    reply = await api.get("/data/clients", token=business.viewer)
    assert reply.status == 200
    assert [c["id"] for c in reply.json()["clients"]] == [business.client_id]


async def test_a_viewer_cannot_approve_and_nothing_changes(api: Api, business: Business) -> None:
    before = await dump_database(api.sessions, ignore=frozenset({("api_tokens", "last_used_at")}))
    reply = await api.post(
        f"/pipeline/actions/{business.action_id}/approve", token=business.viewer, json={"option_id": business.option_ids[0]}
    )
    body = assert_problem(reply, 403)
    assert "approvers and admins" in str(body["detail"])
    skip = await api.post(f"/pipeline/actions/{business.action_id}/skip", token=business.viewer, json={})
    assert_problem(skip, 403)
    assert await dump_database(api.sessions, ignore=frozenset({("api_tokens", "last_used_at")})) == before
    async with api.sessions() as db:
        action = await db.get(PreparedAction, business.action_id)
        assert action is not None and action.status == ActionStatus.PENDING


async def test_a_viewer_cannot_write_data_nor_an_approver_change_configuration(api: Api, business: Business) -> None:
    created = await api.post("/data/clients", token=business.viewer, json={"name": "Gamma"})
    assert_problem(created, 403)
    config = await api.call("PUT", f"/data/user-config/{business.account_id}", token=business.approver, json={"runway_buffer_months": 3})
    body = assert_problem(config, 403)
    assert "Only admins" in str(body["detail"])
    rate = await api.post("/data/exchange-rates", token=business.approver, json={"base_currency": "EUR", "quote_currency": "GBP", "rate": "0.85"})
    assert_problem(rate, 403)


async def test_tokens_are_stored_only_as_their_sha256(api: Api, business: Business) -> None:
    async with api.sessions() as db:
        token = await db.get(ApiToken, business.token_ids["viewer"])
        assert token is not None
        assert token.token_hash == hashlib.sha256(business.viewer.encode()).hexdigest()
        assert business.viewer.startswith(token.prefix) and len(token.prefix) < len(business.viewer) // 2
    everything = repr(await dump_database(api.sessions))
    for secret in (business.admin, business.approver, business.viewer):
        assert secret not in everything
        assert secret[len(token.prefix):] not in everything


def _cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TAMIO_DATABASE_URL": db_url, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", "import sys; from tamio.cli import main; sys.exit(main())", *args],
        capture_output=True, text=True, env=env, cwd=str(ROOT), timeout=60, check=False,
    )


async def test_cli_creates_a_token_shown_once_lists_it_and_revokes_it(api: Api, business: Business, db_url: str) -> None:
    member = business.member_ids["approver"]
    created = _cli(db_url, "--account", business.account_id, "token", "create", "--member", member, "--name", "reporting")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("tamio_")
    assert (await api.get("/data/clients", token=secret)).status == 200

    listed = _cli(db_url, "--account", business.account_id, "token", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert secret not in listed.stdout and secret[14:] not in listed.stdout
    async with api.sessions() as db:
        token = (await db.execute(select(ApiToken).where(ApiToken.name == "reporting"))).scalar_one()
    assert token.id in listed.stdout and token.last_used_at is not None

    revoked = _cli(db_url, "--account", business.account_id, "token", "revoke", token.id)
    assert revoked.returncode == 0, revoked.stderr
    after = await api.get("/data/clients", token=secret)
    assert_problem(after, 401)
    assert 'error="invalid_token"' in after.headers["WWW-Authenticate"]
    # Other tokens keep working.
    assert (await api.get("/data/clients", token=business.approver)).status == 200


async def test_cli_refuses_a_member_of_another_account(api: Api, business: Business, other_business: Business, db_url: str) -> None:
    created = _cli(db_url, "--account", business.account_id, "token", "create", "--member", other_business.member_ids["admin"])
    assert created.returncode == 1
    assert "no member" in created.stderr


async def test_with_several_accounts_the_member_names_the_account(api: Api, business: Business, other_business: Business, db_url: str) -> None:
    created = _cli(db_url, "token", "create", "--member", other_business.member_ids["viewer"])
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    async with api.sessions() as db:
        token = (await db.execute(select(ApiToken).where(ApiToken.token_hash == hashlib.sha256(secret.encode()).hexdigest()))).scalar_one()
    assert (token.user_id, token.member_id) == (other_business.account_id, other_business.member_ids["viewer"])
    unknown = _cli(db_url, "token", "create", "--member", "mem_nobody")
    assert unknown.returncode == 1 and "several accounts" in unknown.stderr


async def test_only_admins_create_tokens_and_members_revoke_their_own(api: Api, business: Business, other_business: Business) -> None:
    now = api.clock()
    async with api.sessions() as db, db.begin():
        account = await db.get(Account, business.account_id)
        admin = await db.get(Member, business.member_ids["admin"])
        approver = await db.get(Member, business.member_ids["approver"])
        outsider = await db.get(Member, other_business.member_ids["admin"])
        assert account is not None and admin is not None and approver is not None and outsider is not None
        with pytest.raises(PermissionDenied):
            await create_token(db, account=account, actor=approver, member_id=approver.id, now=now)
        with pytest.raises(NotFound):
            await create_token(db, account=account, actor=outsider, member_id=admin.id, now=now)
        with pytest.raises(NotFound):
            await create_token(db, account=account, actor=admin, member_id=outsider.id, now=now)
        issued = await create_token(db, account=account, actor=admin, member_id=approver.id, name="slack", now=now)
        verified = await verify_token(db, secret=issued.secret, now=now)
        assert verified is not None and (verified.account_id, verified.member_id) == (account.id, approver.id)
        with pytest.raises(PermissionDenied):
            await revoke_token(db, account=account, actor=approver, token_id=business.token_ids["viewer"], now=now)
        await revoke_token(db, account=account, actor=approver, token_id=issued.token.id, now=now)
        assert await verify_token(db, secret=issued.secret, now=now) is None
        with pytest.raises(NotFound):
            await revoke_token(db, account=account, actor=admin, token_id=other_business.token_ids["viewer"], now=now)
    assert (await api.get("/data/clients", token=other_business.viewer)).status == 200

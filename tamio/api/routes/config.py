"""``/api/v1/data/user-config``: the account's detection thresholds (design: "V4 User Configuration").

``user_id`` is the account id (the design's ``users`` table) and must be the token's own account;
any other id is 404, whether or not it exists. Reading creates the defaults when there are none;
creating, changing and deleting need an admin. Every change is audited.
"""

from __future__ import annotations

from typing import Any

from tamio.accounts.models import UserConfiguration
from tamio.accounts.permissions import Operation
from tamio.accounts.service import get_user_configuration
from tamio.api.registry import Call, Router
from tamio.api.schemas.config import UserConfigCreate, UserConfigOut, UserConfigUpdate, user_config_out
from tamio.audit.service import AuditService
from tamio.data.settings import change_settings
from tamio.errors import Conflict, NotFound

router = Router("User configuration")


def _own_account(call: Call, user_id: str) -> str:
    if user_id != call.account.id:
        raise NotFound(
            f"There is no configuration for `{user_id}` in this account.",
            hint=f"The user id here is the account's id: this token's account is `{call.account.id}`.",
        )
    return user_id


def _apply(config: UserConfiguration, values: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    changes: dict[str, tuple[Any, Any]] = {}
    for name, value in values.items():
        old = getattr(config, name)
        if old != value:
            changes[name] = (old, value)
            setattr(config, name, value)
    return changes


@router.route("GET", "/data/user-config/{user_id}", response=UserConfigOut, summary="Get the configuration")
async def get_user_config(call: Call) -> UserConfigOut:
    """The account's configuration, created with the design document's defaults when missing."""
    config = await get_user_configuration(call.db, account_id=_own_account(call, call.path["user_id"]))
    return user_config_out(config, base_currency=call.account.base_currency)


@router.route(
    "POST", "/data/user-config/", body=UserConfigCreate, response=UserConfigOut, status=201, permission=Operation.CHANGE_SETTINGS,
    errors=(404, 409), summary="Create the configuration",
)
async def create_user_config(call: Call) -> UserConfigOut:
    """Create the configuration; 409 when the account already has one (change it with PUT)."""
    body = call.body(UserConfigCreate)
    return await _create(call, _own_account(call, body.user_id), body.changes())


@router.route(
    "POST", "/data/user-config/{user_id}", body=UserConfigUpdate, response=UserConfigOut, status=201, permission=Operation.CHANGE_SETTINGS,
    errors=(404, 409), summary="Create the configuration for this user id",
)
async def create_user_config_at(call: Call) -> UserConfigOut:
    """The same as ``POST /data/user-config/`` with ``user_id`` in the path; 409 when one exists (change it with PUT)."""
    return await _create(call, _own_account(call, call.path["user_id"]), call.body(UserConfigUpdate).changes())


async def _create(call: Call, account_id: str, values: dict[str, Any]) -> UserConfigOut:
    if await call.db.get(UserConfiguration, account_id) is not None:
        raise Conflict("This account already has a configuration.", hint=f"Change it with PUT /api/v1/data/user-config/{account_id}.")
    config = UserConfiguration(user_id=account_id, created_at=call.now, updated_at=call.now)
    call.db.add(config)
    await call.db.flush()
    _apply(config, values)
    await call.db.flush()
    stored = {name: getattr(config, name) for name in UserConfigUpdate.model_fields}
    await AuditService(call.db, account_id, actor=call.actor, clock=lambda: call.now).log_create("user_configuration", account_id, stored)
    return user_config_out(config, base_currency=call.account.base_currency)


@router.route(
    "PUT", "/data/user-config/{user_id}", body=UserConfigUpdate, response=UserConfigOut, permission=Operation.CHANGE_SETTINGS,
    summary="Change the configuration",
)
async def update_user_config(call: Call) -> UserConfigOut:
    """Change the settings given; the others keep their values (created with defaults when missing)."""
    _own_account(call, call.path["user_id"])
    await change_settings(call.db, account=call.account, member=call.member, changes=call.body(UserConfigUpdate).changes(),
                          now=call.now, token=True)
    config = await get_user_configuration(call.db, account_id=call.account.id)
    return user_config_out(config, base_currency=call.account.base_currency)


@router.route("DELETE", "/data/user-config/{user_id}", permission=Operation.CHANGE_SETTINGS, status=204, summary="Delete the configuration")
async def delete_user_config(call: Call) -> None:
    """Delete the configuration; detection then uses the defaults (and a GET recreates them)."""
    account_id = _own_account(call, call.path["user_id"])
    config = await call.db.get(UserConfiguration, account_id)
    if config is None:
        raise NotFound("This account has no stored configuration; it uses the defaults.")
    values = {name: getattr(config, name) for name in UserConfigUpdate.model_fields}
    await call.db.delete(config)
    await call.db.flush()
    await AuditService(call.db, account_id, actor=call.actor, clock=lambda: call.now).log_delete("user_configuration", account_id, values)

"""Who may do what: one table from each kind of operation to the least role that may do it.

Every edge asks this module (Slack listeners through ``Scope.require``, API routes through their
``permission``, core functions through ``check``) instead of comparing roles itself, so a change
of policy is one line here:

    viewer    sees the forecast, alerts, actions and settings
    approver  also manages the business's data (adds, renames, balances, payments, contacts),
              runs the checks and syncs, and decides on actions
    admin     also changes settings (configuration, detection and automation rules, the digest
              channel, exchange rates), roles, API tokens and integrations, and decides payroll

    check(member.role, Operation.CHANGE_SETTINGS, doing="change settings")  # PermissionDenied for an approver
    allows(Role.APPROVER, Operation.APPROVE)   # True
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

from tamio.accounts.models import Role
from tamio.errors import PermissionDenied

ROLE_RANK: Mapping[Role, int] = MappingProxyType({Role.VIEWER: 0, Role.APPROVER: 1, Role.ADMIN: 2})


class Operation(str, enum.Enum):
    VIEW = "view"
    MANAGE_DATA = "manage_data"
    RUN_CHECKS = "run_checks"
    APPROVE = "approve"
    DECIDE_PAYROLL = "decide_payroll"
    CHANGE_SETTINGS = "change_settings"
    CHANGE_ROLES = "change_roles"
    MANAGE_TOKENS = "manage_tokens"
    CONNECT_INTEGRATIONS = "connect_integrations"


PERMISSIONS: Mapping[Operation, Role] = MappingProxyType(
    {
        Operation.VIEW: Role.VIEWER,
        Operation.MANAGE_DATA: Role.APPROVER,
        Operation.RUN_CHECKS: Role.APPROVER,
        Operation.APPROVE: Role.APPROVER,
        Operation.DECIDE_PAYROLL: Role.ADMIN,
        Operation.CHANGE_SETTINGS: Role.ADMIN,
        Operation.CHANGE_ROLES: Role.ADMIN,
        Operation.MANAGE_TOKENS: Role.ADMIN,
        Operation.CONNECT_INTEGRATIONS: Role.ADMIN,
    }
)


def required_role(operation: Operation) -> Role:
    return PERMISSIONS[operation]


def at_least(role: Role | None, wanted: Role) -> bool:
    return role is not None and ROLE_RANK[role] >= ROLE_RANK[wanted]


def allows(role: Role | None, operation: Operation) -> bool:
    return at_least(role, PERMISSIONS[operation])


def who_may(operation: Operation) -> str:
    """``admins`` or ``approvers and admins``: the people a refusal names."""
    return "admins" if PERMISSIONS[operation] == Role.ADMIN else "approvers and admins" if PERMISSIONS[operation] == Role.APPROVER else "members"


def a_role(role: Role | None) -> str:
    if role is None:
        return "not a member of this account"
    return f"an {role.value}" if role.value[0] in "aeiou" else f"a {role.value}"


def check(role: Role | None, operation: Operation, *, doing: str, token: bool = False) -> None:
    """``PermissionDenied`` ("Only admins can change settings.") unless ``role`` may do ``operation``.

    ``token``: the caller is an API token, and the refusal says which role the token acts as.
    """
    if allows(role, operation):
        return
    wanted = PERMISSIONS[operation].value
    if token:
        raise PermissionDenied(
            f"Only {who_may(operation)} can {doing}; this token acts as {a_role(role)}.",
            hint=f"An admin can give the member the role with `/tamio role @member {wanted}`.",
        )
    raise PermissionDenied(f"Only {who_may(operation)} can {doing}.", hint=f"An admin can give you the role with `/tamio role @you {wanted}`.")

"""One permission table: every edge asks it, none compares roles itself (issue 17 item 2)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tamio.accounts.models import Role
from tamio.accounts.permissions import PERMISSIONS, Operation, allows, check
from tamio.api import all_routes
from tamio.errors import PermissionDenied

ROOT = Path(__file__).resolve().parents[2]
# An edge's own role check: comparing a member's role with a role, or ranking roles. Queries for
# the admins to notify (``Member.role == Role.ADMIN``) and the first admin's appointment are not checks.
OWN_CHECK = re.compile(r"(?<!Member)\.role\s*[!=]=\s*Role\.(ADMIN|APPROVER)|ROLE_RANK\[|require\(Role\.|role=Role\.(ADMIN|APPROVER)(?! if)")


def test_the_table_reads_as_the_business_states_it() -> None:
    assert allows(Role.VIEWER, Operation.VIEW) and not allows(Role.VIEWER, Operation.MANAGE_DATA)
    assert allows(Role.APPROVER, Operation.APPROVE) and allows(Role.APPROVER, Operation.MANAGE_DATA)
    for admin_only in (Operation.CHANGE_SETTINGS, Operation.CHANGE_ROLES, Operation.MANAGE_TOKENS, Operation.DECIDE_PAYROLL):
        assert not allows(Role.APPROVER, admin_only) and allows(Role.ADMIN, admin_only)
    assert not allows(None, Operation.VIEW)
    assert set(PERMISSIONS) == set(Operation)


def test_refusals_keep_their_words() -> None:
    with pytest.raises(PermissionDenied) as slack:
        check(Role.APPROVER, Operation.CHANGE_SETTINGS, doing="change settings")
    assert slack.value.message == "Only admins can change settings."
    assert slack.value.hint == "An admin can give you the role with `/tamio role @you admin`."
    with pytest.raises(PermissionDenied) as api:
        check(Role.VIEWER, Operation.MANAGE_DATA, doing="create a client", token=True)
    assert api.value.message == "Only approvers and admins can create a client; this token acts as a viewer."


def test_every_api_route_takes_its_role_from_the_table() -> None:
    guarded = [route for route in all_routes() if route.method != "GET"]
    assert guarded and all(route.role == PERMISSIONS[route.permission] for route in guarded)
    assert all(route.permission != Operation.VIEW for route in guarded if route.path.startswith(("/data/user-config", "/automation/rules")))


def test_no_edge_compares_roles_itself() -> None:
    offenders = []
    for folder in ("bot", "tamio/api", "tamio/cli"):
        for path in (ROOT / folder).rglob("*.py"):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if OWN_CHECK.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []

"""``tamio detection``: the same words and core function as ``/tamio detection`` (issue 19 item 7)."""

from __future__ import annotations

import json

import pytest

from tests.service.test_cli import tamio  # noqa: F401  (the fixture: a fresh database and account, a fixed clock)


@pytest.mark.slow
def test_an_admin_switches_and_rethresholds_detection_rules_from_the_cli(tamio) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    assert tamio("member", "add", "--name", "ada", "--role", "admin").returncode == 0
    assert tamio("member", "add", "--name", "bob", "--role", "approver").returncode == 0
    listed = tamio("detection")
    assert listed.returncode == 0 and "late_payment" in listed.stdout and "on · threshold 7 days (from the configuration)" in listed.stdout
    changed = tamio("detection", "late_payment", "threshold", "10", "--as", "ada")
    assert changed.returncode == 0, changed.stderr
    assert "on · threshold 10 days (set here)" in changed.stdout
    assert tamio("detection", "unexpected_expense", "off", "--as", "ada").returncode == 0
    refused = tamio("detection", "late_payment", "off", "--as", "bob")
    assert refused.returncode == 1 and "Only admins can change detection rules" in refused.stderr and "Traceback" not in refused.stderr
    wrong = tamio("detection", "late_payment", "sometimes", "--as", "ada")
    assert wrong.returncode == 1 and "Say `on`, `off`, `threshold N` or `threshold none`" in wrong.stderr
    rules = {r["detection_type"]: r for r in json.loads(tamio("detection", "--json").stdout)["rules"]}
    assert (rules["late_payment"]["threshold"], rules["unexpected_expense"]["enabled"]) == ("10", False)

"""The clock and the settings are arguments below the edges (issue 17, ARCHITECTURE.md).

Only the edges read them: Slack listeners (bot/), API handlers (tamio/api), CLI commands (tamio/cli)
and scheduler jobs, once per request or run, and pass them down. Below them no code calls
``utcnow()``, ``datetime.now()``, ``date.today()`` or ``Settings()``, and none falls back on them
(``now or utcnow()``, ``settings or Settings()``, a ``clock=utcnow`` default). The few places left
are listed here with why; a new one fails this test, and so does an entry that is no longer needed.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EDGES = ("tamio/api/", "tamio/cli/")
WALL_CLOCK = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today")}

ALLOWED = {
    # where the clock is defined, and rows' created_at/updated_at column defaults
    ("tamio/db.py", "datetime.now()"),
    # the scheduler is an edge: its runner reads the clock once per run (a fake one in tests), and
    # APScheduler's first slot is computed from the time it starts
    ("tamio/scheduler/runner.py", "utcnow as a default"),
    ("tamio/scheduler/setup.py", "datetime.now()"),
    # an HTTP edge served from the core: Xero's OAuth pages (bot.server passes the app's clock)
    ("tamio/integrations/xero/routes.py", "utcnow as a default"),
    # the Xero HTTP client's own clock for token expiry when none is passed
    ("tamio/integrations/xero/client.py", "datetime.now()"),
    # left to do: the audit trail stamps rows with the wall clock unless given one, and
    # record_payment falls back on it when the caller passes no `now`
    ("tamio/audit/service.py", "utcnow as a default"),
    ("tamio/obligations/payments.py", "a fallback on the clock or the settings"),
    ("tamio/obligations/payments.py", "utcnow()"),
    # approve() reads the settings when none are passed (every edge passes them; tests rely on it)
    ("tamio/execution/lifecycle.py", "Settings()"),
    ("tamio/execution/lifecycle.py", "a fallback on the clock or the settings"),
}


def _what(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name) and func.id == "utcnow":
            return "utcnow()"
        if isinstance(func, ast.Name) and func.id == "Settings":
            return "Settings()"
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and (func.value.id, func.attr) in WALL_CLOCK:
            return f"{func.value.id}.{func.attr}()"
    return None


def _is_utcnow(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Name) and node.id == "utcnow"


def found_in(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        what = _what(node)
        if what is not None:
            found.add(what)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            defaults = [*node.args.defaults, *node.args.kw_defaults]
            if any(_is_utcnow(d) for d in defaults):
                found.add("utcnow as a default")
            if any(d is not None and _what(d) is not None for d in defaults):
                found.add("a clock or settings read as a default")
        if isinstance(node, ast.AnnAssign) and _is_utcnow(node.value):  # a dataclass field
            found.add("utcnow as a default")
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or) and any(_what(v) for v in node.values):
            found.add("a fallback on the clock or the settings")
        if isinstance(node, ast.IfExp) and (_is_utcnow(node.orelse) or _what(node.orelse)):
            found.add("a fallback on the clock or the settings")
    return found


def test_below_the_edges_nothing_reads_the_clock_or_the_settings() -> None:
    offenders = set()
    for path in sorted((ROOT / "tamio").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(EDGES):
            continue
        for what in found_in(ast.parse(path.read_text(), filename=relative)):
            offenders.add((relative, what))
    assert sorted(offenders - ALLOWED) == []
    assert sorted(ALLOWED - offenders) == [], "no longer needed: remove from ALLOWED"


def test_the_check_sees_each_kind() -> None:
    sample = ast.parse(
        "def f(db, now=None, settings=None, clock=utcnow):\n"
        "    now = now or utcnow()\n"
        "    settings = settings or Settings()\n"
        "    return date.today(), datetime.now(UTC)\n"
    )
    fallback = ast.parse("audit = AuditService(db, clock=(lambda: now) if now else utcnow)\n")
    assert found_in(sample) == {
        "utcnow()", "Settings()", "date.today()", "datetime.now()", "utcnow as a default",
        "a fallback on the clock or the settings",
    }
    assert found_in(fallback) == {"a fallback on the clock or the settings"}

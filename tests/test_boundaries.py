"""The domain core never imports Slack or the bot (outside its edges: the API and the CLI); the Slack
sandbox imports nothing of the app, and the app's production code nothing of the sandbox."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("slack_sdk", "slack_bolt", "bot")
EDGES = ("tamio/api/", "tamio/cli/")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_core_does_not_import_slack_or_bot() -> None:
    offenders = []
    for path in sorted((ROOT / "tamio").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(EDGES):
            continue
        for module in imported_modules(path):
            if module.split(".")[0] in FORBIDDEN:
                offenders.append(f"{relative} imports {module}")
    assert offenders == []


def test_the_sandbox_imports_nothing_from_the_app() -> None:
    """slack_sandbox/ is a sibling package (the ``tamio[sandbox]`` extra): any import, function-level too."""
    offenders = []
    for path in sorted((ROOT / "slack_sandbox").rglob("*.py")):
        for module in imported_modules(path):
            if module.split(".")[0] in ("tamio", "bot"):
                offenders.append(f"{path.relative_to(ROOT).as_posix()} imports {module}")
    assert offenders == []


def test_the_app_does_not_import_the_sandbox_outside_the_sandbox_command() -> None:
    """Only ``tamio sandbox`` starts it (and imports it lazily); ``tamio serve`` and the bot never need it."""
    offenders = []
    for path in sorted([*(ROOT / "tamio").rglob("*.py"), *(ROOT / "bot").rglob("*.py")]):
        relative = path.relative_to(ROOT).as_posix()
        if relative == "tamio/cli/sandbox.py":
            continue
        for module in imported_modules(path):
            if module.split(".")[0] == "slack_sandbox":
                offenders.append(f"{relative} imports {module}")
    assert offenders == []


def test_the_check_sees_an_offender(tmp_path: Path) -> None:
    sample = tmp_path / "x.py"
    sample.write_text("import slack_sdk\nfrom bot.app import create_app\n")
    assert {"slack_sdk", "bot.app"} <= imported_modules(sample)

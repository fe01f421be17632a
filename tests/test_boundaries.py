"""The import graph keeps the layers of ARCHITECTURE.md.

The contracts live in pyproject.toml (``[tool.importlinter]``) and ``make lint`` runs them; these
tests run them too, so that pytest alone sees a broken layer: the core's layers, the edges (CLI ->
bot -> API), no Slack or bot below the edges, the Slack sandbox apart from the app, no cycles
between sibling packages. On top of that, no two modules of tamio/ or bot/ import each other even
through a parent package (a package and its own module included), which the sibling contract does
not look at.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]


def test_the_import_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def cycles(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(modules):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start) & modules)))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child) & modules))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_module_of_tamio_or_bot_is_in_an_import_cycle() -> None:
    graph = grimp.build_graph("tamio", "bot", cache_dir=None)
    assert cycles(graph, set(graph.modules)) == []


def test_the_graph_sees_function_level_imports() -> None:
    """A cycle dodged by importing inside a function is still a cycle: grimp reads those imports."""
    graph = grimp.build_graph("bot", include_external_packages=True, cache_dir=None)
    # bot.charts imports matplotlib inside render_forecast_png only (start-up cost)
    assert "matplotlib" in graph.find_modules_directly_imported_by("bot.charts")


def test_the_cycle_check_sees_a_cycle(tmp_path: Path) -> None:
    package = tmp_path / "loop"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from loop import b\n")
    (package / "b.py").write_text("import loop.c\n")
    (package / "c.py").write_text("from loop.a import f\n")
    sys.path.insert(0, str(tmp_path))
    try:
        graph = grimp.build_graph("loop", cache_dir=None)
    finally:
        sys.path.remove(str(tmp_path))
    assert cycles(graph, set(graph.modules)) == [["loop.a", "loop.b", "loop.c"]]

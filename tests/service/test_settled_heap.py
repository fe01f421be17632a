"""The ``tamio`` program freezes what its start-up made (``tamio.process.settle_heap``) before its
command runs: a collection during the command then walks what the command made, not every module;
``main`` called by a test leaves the test process's heap alone (it would keep every test's garbage)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tamio.process import collector_paused

# The command prints how many objects were frozen when it ran (``tamio db upgrade`` is the command).
PROBE = """
import gc, sys
from tamio.cli import main
code = main(["db", "upgrade"], settle=sys.argv[1] == "settle")
print(gc.get_freeze_count())
sys.exit(code)
"""


def frozen_after(tmp_path: Path, mode: str) -> int:
    env = {**os.environ, "TAMIO_DATABASE_URL": f"sqlite:///{tmp_path}/{mode}.db"}
    done = subprocess.run([sys.executable, "-c", PROBE, mode], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip().splitlines()[-1])


def test_the_program_settles_its_heap_and_main_alone_does_not(tmp_path: Path) -> None:
    assert frozen_after(tmp_path, "settle") > 10_000  # the modules' objects, at least
    assert frozen_after(tmp_path, "plain") == 0


def test_a_paused_collector_comes_back_as_it_was_after_the_last_pause_ends() -> None:
    """``collector_paused`` (a run reading rows in bulk) nests and interleaves across coroutines: the
    collector stays off until the last open pause ends, even when one ends with an error, and a
    collector that was off before (a test, a caller of its own) is left off."""
    assert gc.isenabled()
    first, second = collector_paused(), collector_paused()
    first.__enter__()
    second.__enter__()  # another coroutine's run, begun while the first one's is open
    first.__exit__(None, None, None)
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()
    with pytest.raises(ZeroDivisionError), collector_paused(), collector_paused():
        1 / 0  # noqa: B018
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()

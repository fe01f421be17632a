"""Browser tests: Debian's Chromium, headless, driven by Playwright for Python.

Playwright's own browser downloads are not used (they fail here and need network): the tests
launch /usr/bin/chromium (``.ci/run`` installs it with apt) with no background networking, so a
test talks to 127.0.0.1 only. Screenshots go to ``test-output/<test name>/`` at the repository root.

    def test_x(chromium_args: list[str], screenshots: Path) -> None: ...
"""

from __future__ import annotations

import re
import shutil
import socket
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def chromium() -> str:
    found = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not found:
        pytest.fail("Browser tests need Debian's Chromium: `apt-get install -y chromium` (`.ci/run` does it), "
                    "or leave them out with `-m 'not e2e'`.")
    return found


@pytest.fixture
def screenshots(request: pytest.FixtureRequest) -> Path:
    """``test-output/<test name>/``, emptied first: one PNG per step of the test."""
    folder = ROOT / "test-output" / re.sub(r"[^\w.-]+", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder

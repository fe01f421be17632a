"""``python -m tamio.cli`` is the ``tamio`` command."""

from tamio.cli import run

run()

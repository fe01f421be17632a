"""The one error of the stand-in: a Slack Web API error code, answered as ``{"ok": false, "error": code}``.

raise SlackError("invalid_blocks", errors=["... [json-pointer:/blocks/0/text/text]"])
"""

from __future__ import annotations

from typing import Any


class SlackError(Exception):
    """A Web API error: ``error`` is Slack's code; ``extra`` goes into the response body."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra

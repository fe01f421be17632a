"""Subcommand modules of later areas, registered when they exist (forecast, pipeline, serve, ...)."""

from __future__ import annotations

import importlib
from types import ModuleType

OPTIONAL = (
    "tamio.cli.obligations",
    "tamio.cli.payments",
    "tamio.cli.clients",
    "tamio.cli.forecast",
    "tamio.cli.pipeline",
    "tamio.cli.jobs",
    "tamio.cli.actions",
    "tamio.cli.history",
    "tamio.cli.outbox",
    "tamio.cli.members",
    "tamio.cli.tokens",
    "tamio.cli.integrations",
    "tamio.cli.serve",
    "tamio.cli.sandbox",
)


def modules() -> list[ModuleType]:
    found = []
    for name in OPTIONAL:
        try:
            found.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return found

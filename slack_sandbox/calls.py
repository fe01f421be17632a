"""One Web API call as a method sees it, and reading its parameters as slack_sdk sends them.

Parameters arrive as JSON values (``chat.*``, ``views.*``) or as strings in forms and query strings
(with JSON inside for ``blocks``, ``metadata``, ``view``, ``files``); both are accepted.

    Call(params={"channel": "C1", "blocks": "[...]"}, actor="U0BOT", grant=grant)
    json_param(call.params, "blocks", "invalid_blocks_format")   # -> the list
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from slack_sandbox.errors import SlackError
from slack_sandbox.tokens import Grant
from slack_sandbox.workspace import Workspace


@dataclass(frozen=True)
class Call:
    params: dict[str, Any]
    actor: str  # the user id behind the token: the bot user, or an installer's user token
    grant: Grant = field(default_factory=lambda: Grant(user="", scopes=()))  # the token's grant: its scopes

    @property
    def scopes(self) -> frozenset[str]:
        return self.grant.scope_set


Method = Callable[[Workspace, Call], dict[str, Any]]


def json_param(params: dict[str, Any], name: str, error: str) -> Any:
    """A parameter that is JSON in a form (a string) and a value in a JSON body."""
    value = params.get(name)
    if isinstance(value, str):
        if not value:
            return None
        try:
            return json.loads(value)
        except ValueError as exc:
            raise SlackError(error) from exc
    return value


def flag(params: dict[str, Any], name: str) -> bool:
    value = params.get(name)
    return value is True or (isinstance(value, str) and value.lower() in ("1", "true")) or value == 1

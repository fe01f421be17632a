"""Tokens and what each may do: granted scopes, expiry under token rotation, revocation.

Every Web API call is checked the way Slack checks it, before the method runs:

- no token: ``not_authed``; an unknown one: ``invalid_auth``; a revoked one: ``token_revoked``;
  one whose app was uninstalled: ``account_inactive``; a rotating token past its 12 hours:
  ``token_expired``;
- a method the token's scopes do not cover: ``missing_scope``, saying what was ``needed`` and what
  the token ``provided`` (``{"ok": false, "error": "missing_scope", "needed": "files:read",
  "provided": "commands,chat:write"}``). Methods whose scope depends on the conversation (history,
  info) check it themselves with ``require``.

    grants = Grants()
    grants.add("xoxb-1", Grant(user="U0BOT", scopes=("chat:write",), team_id="T1"))
    grants.check("xoxb-1", "files.info", now=0.0)   # raises SlackError("missing_scope", needed=..., provided=...)
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from slack_sandbox.errors import SlackError

# The scope a method needs (any one of them), as Slack's method reference lists it. Methods absent
# here need none beyond a valid token (auth.test, views.*, chat.getPermalink) or check per conversation.
METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    "chat.postMessage": ("chat:write",),
    "chat.update": ("chat:write",),
    "chat.postEphemeral": ("chat:write",),
    "chat.delete": ("chat:write",),
    "conversations.open": ("im:write", "mpim:write"),
    "conversations.join": ("channels:join",),
    "files.getUploadURLExternal": ("files:write",),
    "files.completeUploadExternal": ("files:write",),
    "files.info": ("files:read",),
    "users.info": ("users:read",),
    "users.lookupByEmail": ("users:read.email",),
}
TOKEN_LIFETIME_S = 12 * 60 * 60  # a rotating access token lives 12 hours


@dataclass
class Grant:
    """One token: whose it is (the bot user, or a person for a user token), its scopes and its life."""

    user: str
    scopes: tuple[str, ...]
    team_id: str | None = None
    enterprise_id: str | None = None
    expires_at: float | None = None  # set when the app rotates tokens
    state: str = "active"  # "active" | "revoked" | "inactive" (the app was uninstalled)
    refresh_token: str | None = None

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes)

    def require(self, *needed: str) -> None:
        """Any one of ``needed`` is granted, or Slack's ``missing_scope``."""
        if needed and not any(scope in self.scopes for scope in needed):
            raise SlackError("missing_scope", needed=",".join(needed), provided=",".join(self.scopes))


@dataclass
class Grants:
    """Every token the stand-in has issued, and the refresh tokens of rotating ones."""

    by_token: dict[str, Grant] = field(default_factory=dict)
    refresh: dict[str, str] = field(default_factory=dict)  # refresh token -> access token it renews

    def add(self, token: str, grant: Grant) -> Grant:
        self.by_token[token] = grant
        if grant.refresh_token:
            self.refresh[grant.refresh_token] = token
        return grant

    def check(self, token: str | None, method: str, *, now: float) -> Grant:
        """The token's grant if it may call ``method`` now; otherwise the error Slack answers."""
        if not token:
            raise SlackError("not_authed")
        grant = self.by_token.get(token)
        if grant is None:
            raise SlackError("invalid_auth")
        if grant.state == "revoked":
            raise SlackError("token_revoked")
        if grant.state == "inactive":
            raise SlackError("account_inactive")
        if grant.expires_at is not None and now >= grant.expires_at:
            raise SlackError("token_expired")
        grant.require(*METHOD_SCOPES.get(method, ()))
        return grant

    def rotate(self, refresh_token: str, *, now: float, lifetime_s: float = TOKEN_LIFETIME_S) -> tuple[str, Grant]:
        """oauth.v2.access with ``grant_type=refresh_token``: a new access token and a new refresh token.

        The old access token keeps working until it expires; the refresh token is single-use.
        """
        old_token = self.refresh.pop(refresh_token, None)
        old = self.by_token.get(old_token) if old_token else None
        if old is None or old.state != "active":
            raise SlackError("invalid_refresh_token")
        prefix = "xoxe.xoxb-" if old_token and old_token.startswith(("xoxe.xoxb-", "xoxb-")) else "xoxe.xoxp-"
        token = prefix + secrets.token_hex(12)
        grant = Grant(user=old.user, scopes=old.scopes, team_id=old.team_id, enterprise_id=old.enterprise_id,
                      expires_at=now + lifetime_s, refresh_token="xoxe-1-" + secrets.token_hex(16))
        return token, self.add(token, grant)

    def set_state(self, *, team_id: str | None, state: str, user: str | None = None) -> int:
        """Revoke (``revoked``) or deactivate (``inactive``) the tokens of a team (of one user, if given)."""
        changed = 0
        for grant in self.by_token.values():
            if grant.team_id == team_id and (user is None or grant.user == user):
                grant.state = state
                changed += 1
        return changed

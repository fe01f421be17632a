"""Installing the app over OAuth v2, as Slack's authorize page and ``oauth.v2.access`` do it.

``GET /oauth/v2/authorize`` approves at once and redirects to the app with a code (``deny=1`` denies;
``user=U..`` says who installs; ``org=1`` installs it org-wide on an Enterprise Grid org). The app
exchanges the code with ``oauth.v2.access``: the bot token then carries exactly the scopes the
install asked for. With token rotation on, the answer holds a 12-hour ``xoxe.xoxb-`` access token,
``expires_in`` and a ``refresh_token``; ``oauth.v2.access`` with ``grant_type=refresh_token`` swaps
a refresh token for a new pair (each refresh token works once).

    server = OAuthServer(workspace, grants, bot_token="xoxb-1", client_id="1.2", client_secret="s")
    code = server.new_code("U1", scope="commands,chat:write")
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import BasicAuth, web

from slack_sandbox.errors import SlackError
from slack_sandbox.tokens import TOKEN_LIFETIME_S, Grant, Grants
from slack_sandbox.workspace import Workspace


@dataclass(frozen=True)
class Consent:
    user: str
    scope: str
    user_scope: str
    org_wide: bool = False


class OAuthServer:
    def __init__(
        self,
        workspace: Workspace,
        grants: Grants,
        *,
        bot_token: str,
        client_id: str,
        client_secret: str,
        redirect_uri: str | None = None,
        token_rotation: bool = False,
        enterprise: tuple[str, str] | None = None,  # (id, name) of the Enterprise Grid org, if any
        default_scope: str = "",
        token_lifetime_s: float = TOKEN_LIFETIME_S,
    ) -> None:
        self.token_lifetime_s = token_lifetime_s
        self.workspace, self.grants = workspace, grants
        self.bot_token, self.client_id, self.client_secret = bot_token, client_id, client_secret
        self.redirect_uri = redirect_uri
        self.token_rotation = token_rotation
        self.enterprise = enterprise
        self.default_scope = default_scope
        self._codes: dict[str, Consent] = {}

    def new_code(self, user: str, *, scope: str, user_scope: str = "", org_wide: bool = False) -> str:
        code = secrets.token_hex(12)
        self._codes[code] = Consent(user=user, scope=scope, user_scope=user_scope, org_wide=org_wide)
        return code

    async def authorize(self, request: web.Request) -> web.Response:
        query = request.query
        if query.get("client_id") != self.client_id:
            return web.Response(status=400, text="invalid_client_id", content_type="text/plain")
        redirect_uri = query.get("redirect_uri") or self.redirect_uri
        if not redirect_uri:
            return web.Response(status=400, text="redirect_uri is missing", content_type="text/plain")
        if query.get("deny"):
            outcome = {"error": "access_denied", "state": query.get("state", "")}
        else:
            admins = [uid for uid, info in self.workspace.users.items() if info.get("is_admin")]
            user = query.get("user") or (admins[0] if admins else "U0INSTALLER")
            org_wide = bool(query.get("org")) and self.enterprise is not None
            code = self.new_code(user, scope=query.get("scope") or self.default_scope,
                                 user_scope=query.get("user_scope", ""), org_wide=org_wide)
            outcome = {"code": code, "state": query.get("state", "")}
        raise web.HTTPFound(redirect_uri + ("&" if "?" in redirect_uri else "?") + urlencode(outcome))

    def access(self, params: dict[str, Any], request: web.Request, *, now: float) -> dict[str, Any]:
        client_id, client_secret = params.get("client_id"), params.get("client_secret")
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            basic = BasicAuth.decode(header)
            client_id, client_secret = basic.login, basic.password
        if client_id != self.client_id:
            return {"ok": False, "error": "invalid_client_id"}
        if client_secret != self.client_secret:
            return {"ok": False, "error": "bad_client_secret"}
        if params.get("grant_type") == "refresh_token":
            return self._refresh(str(params.get("refresh_token") or ""), now=now)
        consent = self._codes.pop(str(params.get("code")), None)
        if consent is None:
            return {"ok": False, "error": "invalid_code"}
        return self._install(consent, now=now)

    def _install(self, consent: Consent, *, now: float) -> dict[str, Any]:
        ws = self.workspace
        scopes = tuple(s for s in consent.scope.split(",") if s)
        enterprise_id = self.enterprise[0] if self.enterprise else None
        # Installing again keeps the bot token (now with the scopes asked for this time); a rotating
        # app gets a new pair instead, the old access token living out its 12 hours.
        bot_token = self.bot_token
        grant = Grant(user=ws.bot_user_id, scopes=scopes, team_id=ws.team_id, enterprise_id=enterprise_id)
        if self.token_rotation:
            bot_token = "xoxe.xoxb-1-" + secrets.token_hex(12)
            grant.expires_at = now + self.token_lifetime_s
            grant.refresh_token = "xoxe-1-" + secrets.token_hex(16)
        self.grants.add(bot_token, grant)
        user_token = "xoxp-" + secrets.token_hex(12)
        self.grants.add(user_token, Grant(user=consent.user, scopes=tuple(s for s in consent.user_scope.split(",") if s),
                                          team_id=ws.team_id, enterprise_id=enterprise_id))
        answer: dict[str, Any] = {
            "ok": True,
            "app_id": ws.app_id,
            "scope": ",".join(scopes),
            "token_type": "bot",
            "access_token": bot_token,
            "bot_user_id": ws.bot_user_id,
            "team": None if consent.org_wide else {"id": ws.team_id, "name": ws.team_name},
            "enterprise": {"id": self.enterprise[0], "name": self.enterprise[1]} if self.enterprise else None,
            "is_enterprise_install": consent.org_wide,
            "authed_user": {"id": consent.user, "scope": consent.user_scope, "access_token": user_token,
                            "token_type": "user"},
        }
        if self.token_rotation:
            answer.update(refresh_token=grant.refresh_token, expires_in=int(self.token_lifetime_s))
        return answer

    def _refresh(self, refresh_token: str, *, now: float) -> dict[str, Any]:
        try:
            token, grant = self.grants.rotate(refresh_token, now=now, lifetime_s=self.token_lifetime_s)
        except SlackError as error:
            return {"ok": False, "error": error.error}
        ws = self.workspace
        return {
            "ok": True,
            "app_id": ws.app_id,
            "scope": ",".join(grant.scopes),
            "token_type": "bot",
            "access_token": token,
            "bot_user_id": ws.bot_user_id,
            "refresh_token": grant.refresh_token,
            "expires_in": int(self.token_lifetime_s),
            "team": {"id": ws.team_id, "name": ws.team_name},
            "enterprise": {"id": self.enterprise[0], "name": self.enterprise[1]} if self.enterprise else None,
            "is_enterprise_install": False,
        }

"""Xero's OAuth 2.0 code flow: the consent URL, the token endpoint and the list of connected organisations.

Three hosts take part, each configurable so tests point them at a local stand-in:
``login_base`` serves the consent page (``/identity/connect/authorize``), ``identity_base`` the
token endpoint (``/connect/token``, client id and secret as HTTP Basic auth) and ``api_base`` the
organisations the user let us reach (``/connections``). Refresh tokens rotate on every use; Xero
keeps the previous one working for 30 minutes, and answers ``400 {"error": "invalid_grant"}`` to a
refresh token it no longer accepts, which becomes ``ReconnectRequired``.

    url = authorize_url(client_id, "https://tamio.example/xero/callback", state)
    tokens = await exchange_code(session, code=code, redirect_uri=..., client_id=..., client_secret=..., now=now)
    tenants = await list_connections(session, tokens.access_token)

Apps created after 2 March 2026 must ask for Xero's granular scopes, hence the defaults below.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp

from tamio.integrations.base import AccessTokenExpired, IntegrationError, ReconnectRequired, TokenSet
from tamio.integrations.xero.records import parse_xero_datetime

LOGIN_BASE = "https://login.xero.com"
IDENTITY_BASE = "https://identity.xero.com"
API_BASE = "https://api.xero.com"

DEFAULT_SCOPES: tuple[str, ...] = (
    "openid",
    "profile",
    "email",
    "offline_access",  # without it Xero issues no refresh token
    "accounting.contacts",
    "accounting.invoices.read",
    "accounting.payments.read",
)

TIMEOUT = aiohttp.ClientTimeout(total=30)


@dataclass(frozen=True, slots=True)
class XeroTenant:
    """One organisation the user connected; ``tenant_id`` goes in the ``xero-tenant-id`` header."""

    connection_id: str
    tenant_id: str
    tenant_name: str
    tenant_type: str
    created_at: datetime | None
    updated_at: datetime | None


def authorize_url(
    client_id: str,
    redirect_uri: str,
    state: str,
    scopes: tuple[str, ...] | list[str] = DEFAULT_SCOPES,
    *,
    login_base: str = LOGIN_BASE,
) -> str:
    """The consent page to send the user to; Xero comes back to ``redirect_uri`` with ``code`` and ``state``."""
    wanted = list(scopes)
    if "offline_access" not in wanted:
        wanted.append("offline_access")
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(wanted),
            "state": state,
        }
    )
    return f"{login_base.rstrip('/')}/identity/connect/authorize?{query}"


def token_set_from_response(body: dict[str, Any], *, now: datetime) -> TokenSet:
    """Read the token endpoint's answer; ``now`` (aware UTC) dates the access token's expiry."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    try:
        return TokenSet(
            access_token=str(body["access_token"]),
            refresh_token=str(body["refresh_token"]),
            expires_at=now + timedelta(seconds=int(body["expires_in"])),
            scope=str(body.get("scope", "")),
            id_token=str(body["id_token"]) if body.get("id_token") else None,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise IntegrationError(
            "Xero's token endpoint answered without the tokens I expected.",
            hint="Check that the app asks for the offline_access scope.",
        ) from exc


async def _read_json(response: aiohttp.ClientResponse) -> Any:
    text = await response.text()
    try:
        return json.loads(text) if text else None
    except json.JSONDecodeError:
        return None


def _basic_auth(client_id: str, client_secret: str) -> str:
    """Xero takes the app's credentials as HTTP Basic auth on the token endpoint."""
    return "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode("ascii")


async def _token_request(
    session: aiohttp.ClientSession,
    form: dict[str, str],
    *,
    client_id: str,
    client_secret: str,
    identity_base: str,
    now: datetime,
) -> TokenSet:
    url = f"{identity_base.rstrip('/')}/connect/token"
    try:
        async with session.post(
            url, data=form, headers={"Authorization": _basic_auth(client_id, client_secret)}, timeout=TIMEOUT
        ) as response:
            body = await _read_json(response)
            status = response.status
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise IntegrationError(f"I couldn't reach Xero's token endpoint ({exc.__class__.__name__}).") from exc
    if status == 200 and isinstance(body, dict):
        return token_set_from_response(body, now=now)
    error = body.get("error") if isinstance(body, dict) else None
    if error == "invalid_grant":
        raise ReconnectRequired(
            "Xero no longer accepts Tamio's access to this organisation.",
            hint="An admin reconnects it with `/tamio connect xero`.",
        )
    if error in ("invalid_client", "unauthorized_client"):
        raise IntegrationError(
            f"Xero refused Tamio's app credentials ({error}).",
            hint="Check the Xero client id and secret in Tamio's configuration.",
        )
    raise IntegrationError(f"Xero's token endpoint answered HTTP {status} ({error or 'no error code'}).")


async def exchange_code(
    session: aiohttp.ClientSession,
    *,
    code: str,
    redirect_uri: str,
    client_id: str,
    client_secret: str,
    now: datetime,
    identity_base: str = IDENTITY_BASE,
) -> TokenSet:
    """Trade the callback's ``code`` for tokens. ``redirect_uri`` must equal the one sent to consent."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    return await _token_request(
        session, form, client_id=client_id, client_secret=client_secret, identity_base=identity_base, now=now
    )


async def refresh_token_set(
    session: aiohttp.ClientSession,
    token_set: TokenSet,
    *,
    client_id: str,
    client_secret: str,
    now: datetime,
    identity_base: str = IDENTITY_BASE,
) -> TokenSet:
    """A new token set; store its refresh token at once, the old one stops working after 30 minutes."""
    form = {"grant_type": "refresh_token", "refresh_token": token_set.refresh_token}
    return await _token_request(
        session, form, client_id=client_id, client_secret=client_secret, identity_base=identity_base, now=now
    )


def _optional_datetime(value: object) -> datetime | None:
    return parse_xero_datetime(value) if isinstance(value, str) and value else None


async def list_connections(
    session: aiohttp.ClientSession, access_token: str, *, api_base: str = API_BASE
) -> list[XeroTenant]:
    """The organisations this access token may reach (the user picks one when there are several)."""
    url = f"{api_base.rstrip('/')}/connections"
    headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
    try:
        async with session.get(url, headers=headers, timeout=TIMEOUT) as response:
            body = await _read_json(response)
            status = response.status
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise IntegrationError(
            f"I couldn't reach Xero's connections endpoint ({exc.__class__.__name__})."
        ) from exc
    if status == 401:
        raise AccessTokenExpired("Xero refused the access token when listing organisations.")
    if status != 200 or not isinstance(body, list):
        raise IntegrationError(f"Xero's connections endpoint answered HTTP {status}.")
    return [
        XeroTenant(
            connection_id=str(item.get("id", "")),
            tenant_id=str(item["tenantId"]),
            tenant_name=str(item.get("tenantName") or ""),
            tenant_type=str(item.get("tenantType") or "ORGANISATION"),
            created_at=_optional_datetime(item.get("createdDateUtc")),
            updated_at=_optional_datetime(item.get("updatedDateUtc")),
        )
        for item in body
        if isinstance(item, dict) and item.get("tenantId")
    ]


def choose_tenant(tenants: list[XeroTenant], tenant_id: str | None = None) -> XeroTenant:
    """The organisation to sync: the one asked for, or the only one connected."""
    if tenant_id is not None:
        for tenant in tenants:
            if tenant.tenant_id == tenant_id:
                return tenant
        raise ReconnectRequired(
            "That Xero organisation is not connected to Tamio.",
            hint="Reconnect Xero and tick the organisation on Xero's consent page.",
        )
    organisations = [t for t in tenants if t.tenant_type == "ORGANISATION"]
    if len(organisations) == 1:
        return organisations[0]
    if not organisations:
        raise ReconnectRequired("No Xero organisation is connected to Tamio.", hint="Reconnect Xero.")
    names = ", ".join(t.tenant_name for t in organisations)
    raise IntegrationError(f"Several Xero organisations are connected ({names}); choose one.")

"""The Xero OAuth callback: where Xero sends the user back after consent (an aiohttp edge).

``connect_url`` builds the consent link that ``/tamio connect xero`` (and ``tamio connect xero``)
replies with; its ``state`` is sealed with ``TAMIO_SECRET_KEY`` (tamper-proof, 15 minutes) and
names the account. ``GET /integrations/xero/callback`` trades the code for tokens, asks Xero which
organisations the user connected, and stores the encrypted connection; with several
organisations it shows a page to pick one (``GET /integrations/xero/organisation``).

    install(app, settings, session_factory)        # the server calls this for every installer it finds
"""

from __future__ import annotations

import html
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tamio.config import Settings
from tamio.errors import TamioError, ValidationError
from tamio.integrations.connections import choose_organisation, require_connection, save_connection
from tamio.integrations.crypto import TokenCipher
from tamio.integrations.xero.oauth import authorize_url
from tamio.integrations.xero.sync import build_adapter

log = logging.getLogger(__name__)

CALLBACK_PATH = "/integrations/xero/callback"
ORGANISATION_PATH = "/integrations/xero/organisation"
STATE_TTL_SECONDS = 15 * 60

Clock = Callable[[], datetime]


def redirect_uri(settings: Settings) -> str:
    return settings.public_url.rstrip("/") + CALLBACK_PATH


def missing_settings(settings: Settings) -> list[str]:
    """The settings connecting and syncing Xero needs that this server lacks (empty: ready)."""
    wanted = {"XERO_CLIENT_ID": settings.xero_client_id, "XERO_CLIENT_SECRET": settings.xero_client_secret,
              "TAMIO_SECRET_KEY": settings.secret_key}
    return [name for name, value in wanted.items() if not (value or "").strip()]


def require_settings(settings: Settings) -> None:
    """Raise a ValidationError naming every missing setting and where the values come from."""
    missing = missing_settings(settings)
    if not missing:
        return
    names = missing[0] if len(missing) == 1 else ", ".join(missing[:-1]) + " and " + missing[-1]
    raise ValidationError(
        f"Xero is not set up on this Tamio server: it needs {names}.",
        hint=(
            "Whoever runs Tamio sets them and restarts it: XERO_CLIENT_ID and XERO_CLIENT_SECRET come from a Xero app "
            f"(developer.xero.com) whose redirect URI is {redirect_uri(settings)}; TAMIO_SECRET_KEY encrypts the tokens "
            "(`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`)."
        ),
    )


def connect_url(settings: Settings, *, account_id: str, now: datetime) -> str:
    """The Xero consent link for this account (valid 15 minutes)."""
    require_settings(settings)
    assert settings.xero_client_id is not None  # require_settings saw it
    state = TokenCipher.from_settings(settings).seal(json.dumps({"account": account_id}), now=now)
    return authorize_url(settings.xero_client_id, redirect_uri(settings), state, login_base=settings.xero_login_base)


def _page(title: str, body: str, *, status: int = 200) -> web.Response:
    text = (
        "<!doctype html><html><head><meta charset='utf-8'><title>"
        f"{html.escape(title)}</title></head><body style='font-family:sans-serif;max-width:36em;margin:3em auto'>"
        f"<h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return web.Response(text=text, content_type="text/html", status=status)


def _state(cipher: TokenCipher, value: str | None, now: datetime) -> dict[str, object]:
    if not value:
        raise ValidationError("This link has no state.", hint="Start again with `/tamio connect xero`.")
    data = json.loads(cipher.open_sealed(value, ttl_seconds=STATE_TTL_SECONDS, now=now))
    if not isinstance(data, dict) or not isinstance(data.get("account"), str):
        raise ValidationError("This link is not a Tamio link.", hint="Start again with `/tamio connect xero`.")
    return data


Handler = Callable[[web.Request], Awaitable[web.Response]]


def _boundary(handler: Handler) -> Handler:
    """One error boundary: a TamioError is a page saying what to do; anything else gets a correlation id."""

    async def guarded(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except TamioError as exc:
            hint = f"<p>{html.escape(exc.hint)}</p>" if exc.hint else ""
            return _page("Xero was not connected", f"<p>{html.escape(exc.message)}</p>{hint}", status=400)
        except Exception:
            correlation = uuid.uuid4().hex[:12]
            log.exception("Xero callback failed (correlation id %s)", correlation)
            return _page(
                "Something went wrong", f"<p>Tamio could not finish connecting Xero (correlation id {correlation}). Nothing was saved.</p>",
                status=500,
            )

    return guarded


def install(
    app: web.Application, settings: Settings, session_factory: async_sessionmaker[AsyncSession], *, clock: Clock
) -> None:
    """Add the Xero callback routes to the server's aiohttp application (a server without Xero
    configured still starts; the routes then explain what is missing)."""

    async def callback(request: web.Request) -> web.Response:
        now = clock()
        cipher = TokenCipher.from_settings(settings)
        if request.query.get("error"):
            reason = request.query.get("error_description") or request.query["error"]
            raise ValidationError(f"Xero did not give access ({reason}).", hint="Try `/tamio connect xero` again when ready.")
        state = _state(cipher, request.query.get("state"), now)
        code = request.query.get("code")
        if not code:
            raise ValidationError("Xero sent no authorisation code.", hint="Start again with `/tamio connect xero`.")
        async with aiohttp.ClientSession() as http:
            adapter = build_adapter(http, settings, now=clock)
            tokens = await adapter.connect(code, redirect_uri(settings))
            organisations = [t for t in await adapter.connections() if t.tenant_type == "ORGANISATION"]
        if not organisations:
            raise ValidationError("No Xero organisation was connected.", hint="Tick an organisation on Xero's consent page.")
        only = organisations[0] if len(organisations) == 1 else None
        async with session_factory() as db, db.begin():
            await save_connection(
                db, account_id=str(state["account"]), integration_type="xero", tokens=tokens, cipher=cipher,
                tenant_id=only.tenant_id if only else None, tenant_name=only.tenant_name if only else None, now=now,
            )
        if only is not None:
            return _connected(only.tenant_name)
        choice = cipher.seal(
            json.dumps({"account": state["account"], "tenants": {t.tenant_id: t.tenant_name for t in organisations}}), now=now
        )
        links = "".join(
            f"<li><a href='{ORGANISATION_PATH}?{html.escape(urlencode({'state': choice, 'tenant_id': t.tenant_id}))}'>"
            f"{html.escape(t.tenant_name)}</a></li>"
            for t in organisations
        )
        return _page("Which organisation should Tamio follow?", f"<ul>{links}</ul>")

    async def organisation(request: web.Request) -> web.Response:
        now = clock()
        cipher = TokenCipher.from_settings(settings)
        state = _state(cipher, request.query.get("state"), now)
        tenants = state.get("tenants")
        tenant_id = request.query.get("tenant_id", "")
        if not isinstance(tenants, dict) or tenant_id not in tenants:
            raise ValidationError("That organisation was not one of those you connected.", hint="Start again with `/tamio connect xero`.")
        async with session_factory() as db, db.begin():
            connection = await require_connection(db, account_id=str(state["account"]), integration_type="xero")
            await choose_organisation(db, connection=connection, tenant_id=tenant_id, tenant_name=str(tenants[tenant_id]), now=now)
        return _connected(str(tenants[tenant_id]))

    app.router.add_get(CALLBACK_PATH, _boundary(callback))
    app.router.add_get(ORGANISATION_PATH, _boundary(organisation))


def _connected(tenant_name: str) -> web.Response:
    return _page(
        "Xero is connected",
        f"<p>Tamio now follows <b>{html.escape(tenant_name)}</b>. You can close this tab; run "
        "<code>/tamio sync</code> in Slack to pull your contacts, invoices and payments now.</p>",
    )

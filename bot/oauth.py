"""Installing Tamio in several workspaces, with bot tokens encrypted at rest.

With SLACK_CLIENT_ID and SLACK_CLIENT_SECRET set, ``tamio serve`` offers ``GET /slack/install``
and ``/slack/oauth_redirect`` (Bolt's OAuth flow) and keeps installations in slack-sdk's SQLAlchemy
stores on Tamio's own database (the tables are declared in ``bot.oauth_tables`` so Alembic makes
them). slack-sdk stores tokens in plain text, so ``EncryptedInstallationStore`` wraps its store:
bot and user tokens are encrypted with Fernet on save and decrypted on find. TAMIO_SECRET_KEY holds
comma-separated Fernet keys, newest first (``MultiFernet``): add a new key in front, run
``rotate_keys`` (or let saves re-encrypt), then drop the old one.

Saving an installation also creates the workspace's Tamio account (or resumes it) and makes the
installer of a new account its first admin. With token rotation switched on for the app, installs
carry refresh tokens, stored encrypted too; Bolt's authorize and the outbox (``InstalledTokens``)
refresh a token with slack-sdk's rotator when it has less than two hours left. An Enterprise Grid
org may install Tamio org-wide: one installation for all its workspaces, each its own account.
With a single SLACK_BOT_TOKEN none of this is used and the app serves one workspace.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import bot.oauth_tables  # noqa: F401  (registers the tables on Tamio's metadata)
from bot.onboarding import queue_welcome
from bot.people import slack_person
from bot.workspace import find_or_create_account
from tamio.accounts.installation import adopt_installer_defaults, reactivate_account
from tamio.accounts.models import Role
from tamio.accounts.service import count_admins, ensure_member, get_member
from tamio.config import Settings
from tamio.server_secret import ServerSecret

log = logging.getLogger("tamio.bot")

# Least privilege, each for a reason: commands and shortcuts; posting (chat:write), in public channels it
# was not invited to (chat:write.public) or by joining them (channels:join: uploads and ephemerals need
# membership); the chart (files:write, and files:read to know when Slack has processed it); who people
# are (users:read, users:read.email for members' emails); the DMs it sends and reads (im:write, im:history).
BOT_SCOPES = ("commands", "chat:write", "chat:write.public", "channels:join", "files:write", "files:read", "users:read",
              "users:read.email", "im:write", "im:history")
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
STATE_LIFETIME_SECONDS = 600
ROTATE_MINUTES_BEFORE = 120  # a rotating token (12 hours) is refreshed once it has less than this left


class TokenCipher:
    """Fernet encryption with key rotation (keys newest first)."""

    def __init__(self, keys: str) -> None:
        # Fernet keys or passphrases, as TAMIO_SECRET_KEY takes them; a value that cannot be a key is a
        # one-line SecretKeyInvalid (``tamio serve`` checks it before anything starts).
        self._fernet = MultiFernet([Fernet(k) for k in ServerSecret.parse(keys).fernet_keys()])

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenCipher:
        if not settings.secret_key:
            raise ValueError(
                "A multi-workspace install stores bot tokens, and they must be encrypted: set TAMIO_SECRET_KEY "
                "(generate one with `python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`)."
            )
        return cls(settings.secret_key)

    def encrypt(self, value: str | None) -> str | None:
        return None if value is None else self._fernet.encrypt(value.encode()).decode()

    def decrypt(self, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return self._fernet.decrypt(value.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("a stored Slack token cannot be decrypted with TAMIO_SECRET_KEY (was a key dropped too early?)") from exc

    def rotate(self, value: str | None) -> str | None:
        return None if value is None else self._fernet.rotate(value.encode()).decode()


InstallHook = Callable[[Installation], Awaitable[None]]
# Access tokens and, with token rotation, the refresh tokens that mint them: all encrypted at rest.
SECRET_FIELDS = ("bot_token", "user_token", "bot_refresh_token", "user_refresh_token")


class EncryptedInstallationStore(AsyncInstallationStore):
    """slack-sdk's SQLAlchemy store with bot and user tokens encrypted at rest."""

    def __init__(self, inner: AsyncSQLAlchemyInstallationStore, cipher: TokenCipher, on_install: InstallHook | None = None) -> None:
        self.inner = inner
        self.cipher = cipher
        self.on_install = on_install

    @property
    def logger(self) -> logging.Logger:
        return self.inner.logger

    def _sealed(self, item: Any) -> Any:
        sealed = copy.copy(item)
        for name in SECRET_FIELDS:
            if hasattr(sealed, name):
                setattr(sealed, name, self.cipher.encrypt(getattr(sealed, name)))
        return sealed

    def _opened(self, item: Any) -> Any:
        if item is None:
            return None
        for name in SECRET_FIELDS:
            if hasattr(item, name):
                setattr(item, name, self.cipher.decrypt(getattr(item, name)))
        return item

    async def async_save(self, installation: Installation) -> None:
        await self.inner.async_save(self._sealed(installation))
        if self.on_install is not None:
            await self.on_install(installation)

    async def async_save_bot(self, bot: Bot) -> None:
        await self.inner.async_save_bot(self._sealed(bot))

    async def async_find_bot(self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False) -> Bot | None:
        found = await self.inner.async_find_bot(enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=is_enterprise_install)
        return self._opened(found)  # type: ignore[no-any-return]

    async def async_find_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None, is_enterprise_install: bool | None = False
    ) -> Installation | None:
        found = await self.inner.async_find_installation(
            enterprise_id=enterprise_id, team_id=team_id, user_id=user_id, is_enterprise_install=is_enterprise_install
        )
        return self._opened(found)  # type: ignore[no-any-return]

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.inner.async_delete_bot(enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_installation(self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None) -> None:
        await self.inner.async_delete_installation(enterprise_id=enterprise_id, team_id=team_id, user_id=user_id)

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.inner.async_delete_all(enterprise_id=enterprise_id, team_id=team_id)

    async def rotate_keys(self) -> int:
        """Re-encrypt every stored token with the newest key; returns how many rows changed."""
        changed = 0
        async with self.inner.engine.begin() as conn:
            for table in (self.inner.installations, self.inner.bots):
                columns = [c for c in SECRET_FIELDS if c in table.c]
                rows = (await conn.execute(sqlalchemy.select(table.c.id, *[table.c[c] for c in columns]))).mappings().all()
                for row in rows:
                    values = {c: self.cipher.rotate(row[c]) for c in columns if row[c] is not None}
                    if values:
                        await conn.execute(table.update().where(table.c.id == row["id"]).values(**values))
                        changed += 1
        return changed


def installer_hook(settings: Settings, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], datetime]) -> InstallHook:
    """After an install: the workspace's account exists and is active (installed again: resumed).

    The installer of a new account is its first admin. Installing again changes no one's role: an
    installer who is a viewer stays one (an admin makes them more with ``/tamio role``), unless the
    account has no admin left at all.
    """

    async def on_install(installation: Installation) -> None:
        if not installation.team_id:  # installed org-wide: each workspace's account is made on its first request
            log.info("installed org-wide in %s by %s", installation.enterprise_id, installation.user_id)
            return
        person = None  # who installed, asked before the transaction: their time zone and locale
        if installation.bot_token:
            client = AsyncWebClient(token=installation.bot_token, base_url=settings.slack_api_url)
            person = await slack_person(client, installation.user_id, team_id=installation.team_id,
                                        enterprise_id=installation.enterprise_id)
        async with sessions() as db, db.begin():
            account = await find_or_create_account(
                db, settings, team_id=installation.team_id, enterprise_id=installation.enterprise_id,
                name=installation.team_name or f"Slack workspace {installation.team_id}",
            )
            if await reactivate_account(db, account=account, now=clock()):
                log.info("workspace %s installed Tamio again: account %s resumed", installation.team_id, account.id)
            new = await adopt_installer_defaults(db, account=account, timezone=person.tz if person else None,
                                                 locale=person.locale if person else None)
            member = await get_member(db, account_id=account.id, slack_user_id=installation.user_id)
            first_admin = await count_admins(db, account_id=account.id) == 0
            if member is None:
                await ensure_member(db, account_id=account.id, slack_user_id=installation.user_id,
                                    role=Role.ADMIN if first_admin else Role.VIEWER, is_installer=True)
            else:
                member.is_installer = True
                if first_admin:
                    member.role = Role.ADMIN
            if new and installation.user_id:  # the welcome DM walks the installer through the first steps
                await queue_welcome(db, account=account, user_id=installation.user_id, now=clock())
        log.info("installed in %s (%s) by %s", installation.team_name, installation.team_id, installation.user_id)

    return on_install


def engine_of(sessions: async_sessionmaker[AsyncSession]) -> AsyncEngine:
    bind = sessions.kw.get("bind")
    if not isinstance(bind, AsyncEngine):
        raise ValueError("the session factory must be bound to an AsyncEngine")
    return bind


def multi_workspace(settings: Settings) -> bool:
    return bool(settings.slack_client_id and settings.slack_client_secret)


def build_store(settings: Settings, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], datetime]) -> EncryptedInstallationStore:
    assert settings.slack_client_id
    inner = AsyncSQLAlchemyInstallationStore(client_id=settings.slack_client_id, engine=engine_of(sessions), logger=log)
    return EncryptedInstallationStore(inner, TokenCipher.from_settings(settings), on_install=installer_hook(settings, sessions, clock))


def authorization_url(settings: Settings) -> str | None:
    """Slack's authorize page, or the local stand-in's when SLACK_API_URL points at one."""
    api = settings.slack_api_url.rstrip("/")
    if api.endswith("/api") and "slack.com" not in api:
        return api[: -len("/api")] + "/oauth/v2/authorize"
    return None


def build_oauth(settings: Settings, sessions: async_sessionmaker[AsyncSession], client: Any,
                clock: Callable[[], datetime]) -> tuple[AsyncOAuthSettings, AsyncInstallationStoreAuthorize]:
    """Bolt's OAuth settings over Tamio's database, and an authorize that caches auth.test per token."""
    store = build_store(settings, sessions, clock)
    oauth = AsyncOAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret,
        scopes=list(BOT_SCOPES),
        user_scopes=[],
        redirect_uri=settings.public_url.rstrip("/") + REDIRECT_PATH,
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        authorization_url=authorization_url(settings),
        installation_store=store,
        installation_store_bot_only=True,  # Tamio acts as its bot only; it never uses user tokens
        state_store=AsyncSQLAlchemyOAuthStateStore(expiration_seconds=STATE_LIFETIME_SECONDS, engine=engine_of(sessions), logger=log),
        logger=log,
    )
    authorize = AsyncInstallationStoreAuthorize(
        logger=log, installation_store=store, client_id=settings.slack_client_id, client_secret=settings.slack_client_secret,
        cache_enabled=True, client=client, bot_only=True, token_rotation_expiration_minutes=ROTATE_MINUTES_BEFORE,
    )
    return oauth, authorize


class BotTokens(Protocol):
    """Where the delivery worker finds the bot token of an account's workspace."""

    async def token_for(self, *, team_id: str | None, enterprise_id: str | None) -> str | None: ...


class SingleWorkspaceToken:
    def __init__(self, token: str | None) -> None:
        self._token = token

    async def token_for(self, *, team_id: str | None, enterprise_id: str | None) -> str | None:
        return self._token


class InstalledTokens:
    """The stored bot token of a workspace (or of its Enterprise Grid org, installed org-wide), rotated
    with Bolt's rotator (slack-sdk's ``AsyncTokenRotator``) when the app rotates tokens and it is due."""

    def __init__(self, store: AsyncInstallationStore, rotator: AsyncTokenRotator | None = None,
                 minutes_before_expiration: int = ROTATE_MINUTES_BEFORE) -> None:
        self._store = store
        self._rotator = rotator
        self._minutes = minutes_before_expiration

    async def token_for(self, *, team_id: str | None, enterprise_id: str | None) -> str | None:
        bot = await self._store.async_find_bot(enterprise_id=enterprise_id, team_id=team_id)
        if bot is None and enterprise_id:
            bot = await self._store.async_find_bot(enterprise_id=enterprise_id, team_id=None, is_enterprise_install=True)
        if bot is None:
            return None
        if bot.bot_refresh_token and self._rotator is not None:
            refreshed = await self._rotator.perform_bot_token_rotation(bot=bot, minutes_before_expiration=self._minutes)
            if refreshed is not None:
                await self._store.async_save_bot(refreshed)
                bot = refreshed
        return bot.bot_token

"""The server secret (``TAMIO_SECRET_KEY``): it signs links, keys the audit chain and encrypts tokens.

``TAMIO_SECRET_KEY`` holds one or more keys, comma-separated, newest first. Each is a Fernet key
(``ServerSecret.generate()``: 32 random bytes, url-safe base64) or a passphrase of at least
``MIN_PASSPHRASE`` characters, stretched with scrypt (a slow, memory-hard function: a guessed
passphrase costs an attacker as much as it costs the server once at start-up). The newest key
signs and encrypts; every key is tried when checking or decrypting, so putting a new key in front
keeps what the old one wrote readable until it is rotated away.

A value that cannot work (empty, a stray comma, a short passphrase) is a ``SecretKeyInvalid`` whose
message is one line naming what to change. Each use gets its own key, derived from the key
material with HMAC-SHA256 and a purpose label, so a chart link's key is not the audit chain's.

    secret = ServerSecret.parse("first-key,older-key")
    secret.key("chart-links")            # 32 bytes, from the newest key
    secret.keys_for("audit-chain")       # one per key, newest first

A SQLite database used without ``TAMIO_SECRET_KEY`` (the local sandbox, the command line on one
machine) gets a generated key in a file beside it (``local_secret``); ``tamio serve`` never does:
it refuses to start without ``TAMIO_SECRET_KEY``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from tamio.config import normalize_database_url
from tamio.errors import TamioError

MIN_PASSPHRASE = 16
GENERATE_HINT = (
    "make a key with `python -c \"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())\"`"
)
# A fixed salt: every replica must derive the same key from the same passphrase. Its job (making
# precomputed tables useless) is done by being specific to Tamio; the passphrase's length does the rest.
_SCRYPT_SALT = b"tamio server secret v1"
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**15, 8, 1

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


class SecretKeyInvalid(TamioError):
    """TAMIO_SECRET_KEY is missing where it is needed, or holds a value that cannot be a key."""

    status = 500
    title = "Server secret not usable"


@lru_cache(maxsize=16)
def _stretch(passphrase: str) -> bytes:
    return hashlib.scrypt(
        passphrase.encode(), salt=_SCRYPT_SALT, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, maxmem=64 * 1024 * 1024, dklen=32
    )


def _fernet_material(text: str) -> bytes | None:
    """The 32 bytes of a Fernet key written as url-safe base64, or None when ``text`` is not one."""
    if len(text) != 44:
        return None
    try:
        raw = base64.urlsafe_b64decode(text.encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None
    return raw if len(raw) == 32 else None


@dataclass(frozen=True)
class ServerSecret:
    """Key material (32 bytes each), newest first."""

    materials: tuple[bytes, ...]

    @classmethod
    def parse(cls, text: str, *, name: str = "TAMIO_SECRET_KEY") -> ServerSecret:
        if not text or not text.strip():
            raise SecretKeyInvalid(f"{name} is empty; {GENERATE_HINT}.")
        parts = text.split(",")
        materials: list[bytes] = []
        for number, raw in enumerate(parts, start=1):
            part = raw.strip()
            where = f"key {number} of {len(parts)}" if len(parts) > 1 else "the key"
            if not part:
                raise SecretKeyInvalid(
                    f"{name} has an empty key ({where}): separate keys with single commas, newest first, with none at either end."
                )
            fernet = _fernet_material(part)
            if fernet is not None:
                materials.append(fernet)
            elif len(part) < MIN_PASSPHRASE:
                raise SecretKeyInvalid(
                    f"{name}: {where} is neither a Fernet key nor a passphrase of at least {MIN_PASSPHRASE} characters "
                    f"(it has {len(part)}); {GENERATE_HINT}."
                )
            else:
                materials.append(_stretch(part))
        return cls(tuple(materials))

    @classmethod
    def from_value(cls, value: str | None) -> ServerSecret | None:
        """None when unset; otherwise the parsed secret (or ``SecretKeyInvalid``)."""
        return None if value is None else cls.parse(value)

    @staticmethod
    def generate() -> str:
        """A new Fernet key, as ``TAMIO_SECRET_KEY`` takes it."""
        return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")

    def fernet_keys(self) -> list[bytes]:
        """Each key as Fernet takes it (url-safe base64 of 32 bytes), newest first."""
        return [base64.urlsafe_b64encode(material) for material in self.materials]

    def key(self, purpose: str) -> bytes:
        """The newest key's subkey for one use (``chart-links``, ``audit-chain``, ...)."""
        return self.keys_for(purpose)[0]

    def keys_for(self, purpose: str) -> tuple[bytes, ...]:
        return tuple(hmac.new(material, b"tamio:" + purpose.encode(), hashlib.sha256).digest() for material in self.materials)


# -- the session's secret -------------------------------------------------------------------------

SESSION_INFO_KEY = "tamio.server_secret"
"""Where ``tamio.db.make_session_factory`` puts the secret in each session's ``info``."""


def session_secret(db: AsyncSession) -> ServerSecret | None:
    """The server secret the entry point gave this session's factory (None: it gave none)."""
    found = db.info.get(SESSION_INFO_KEY)
    return found if isinstance(found, ServerSecret) else None


# -- a local secret for one machine -----------------------------------------------------------------


def local_secret_path(database_url: str) -> Path | None:
    """Where a SQLite database file's local secret lives (``var/tamio.db`` -> ``var/tamio.db.key``)."""
    url = normalize_database_url(database_url)
    if not url.startswith("sqlite") or ":///" not in url:
        return None
    path = url.split(":///", 1)[1].split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    return Path(path + ".key")


def local_secret(database_url: str) -> str | None:
    """The key in the file beside a SQLite database, made on first use (readable by its owner only).

    None for PostgreSQL or an in-memory database: those need ``TAMIO_SECRET_KEY``.
    """
    path = local_secret_path(database_url)
    if path is None:
        return None
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it a moment ago: read theirs
        else:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(ServerSecret.generate() + "\n")
    return path.read_text().strip()

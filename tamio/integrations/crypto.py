"""Integration tokens are stored encrypted, so a copy of the database does not hand out Xero access.

``TAMIO_SECRET_KEY`` holds one or more keys, comma-separated, newest first. Each is a Fernet key
(``TokenCipher.generate_key()``) or any passphrase, from which a key is derived (HKDF-SHA256).
Encryption always uses the newest key; decryption tries every key, so adding a new key in front
keeps old ciphertexts readable, and ``rotate`` (or ``tamio integrations reencrypt``) re-encrypts
them with the newest one, after which the old key can be dropped.

    cipher = TokenCipher.from_settings(settings)          # TAMIO_SECRET_KEY="new-key,old-key"
    stored = cipher.encrypt("refresh-token")
    cipher.decrypt(stored)                                # 'refresh-token'
    stored = cipher.rotate(stored)                        # now under new-key
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import datetime

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tamio.config import Settings
from tamio.errors import TamioError

_KDF_INFO = b"tamio integration tokens v1"


class SecretKeyMissing(TamioError):
    """No key to encrypt integration tokens with."""

    status = 500
    title = "Secret key missing"


class UnreadableSecret(TamioError):
    """A stored secret no key can open: the key it was written with was removed."""

    status = 500
    title = "Unreadable secret"


def _fernet_key(text: str) -> bytes:
    """A Fernet key as given, or one derived from a passphrase."""
    raw = text.strip().encode()
    try:
        if len(base64.urlsafe_b64decode(raw)) == 32:
            return raw
    except (binascii.Error, ValueError):
        pass
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KDF_INFO).derive(raw)
    return base64.urlsafe_b64encode(derived)


def parse_keys(secret_key: str | None) -> list[str]:
    """The comma-separated keys of ``TAMIO_SECRET_KEY``, newest first, blanks dropped."""
    return [part.strip() for part in (secret_key or "").split(",") if part.strip()]


class TokenCipher:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise SecretKeyMissing(
                "There is no key to encrypt integration tokens with.",
                hint="Set TAMIO_SECRET_KEY (make one with `python -c \"from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())\"`).",
            )
        self._newest = Fernet(_fernet_key(keys[0]))
        self._all = MultiFernet([Fernet(_fernet_key(key)) for key in keys])

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenCipher:
        return cls(parse_keys(settings.secret_key))

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode("ascii")

    def encrypt(self, plaintext: str) -> str:
        return self._newest.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._all.decrypt(ciphertext.encode("ascii")).decode()
        except (InvalidToken, UnicodeError) as exc:
            raise UnreadableSecret(
                "A stored integration token can't be decrypted with any key in TAMIO_SECRET_KEY.",
                hint="Put the key it was written with back in TAMIO_SECRET_KEY (after the new one), or reconnect.",
            ) from exc

    def is_current(self, ciphertext: str) -> bool:
        """Whether the newest key wrote this ciphertext (nothing to rotate)."""
        try:
            self._newest.decrypt(ciphertext.encode("ascii"))
        except InvalidToken:
            return False
        return True

    def rotate(self, ciphertext: str) -> str:
        """The same secret, encrypted with the newest key."""
        try:
            return self._all.rotate(ciphertext.encode("ascii")).decode("ascii")
        except InvalidToken as exc:
            raise UnreadableSecret(
                "A stored integration token can't be decrypted with any key in TAMIO_SECRET_KEY, so it can't be rotated.",
            ) from exc

    def seal(self, plaintext: str, *, now: datetime) -> str:
        """A tamper-proof token dated ``now`` (the OAuth ``state``); ``open_sealed`` checks its age."""
        return self._newest.encrypt_at_time(plaintext.encode(), int(now.timestamp())).decode("ascii")

    def open_sealed(self, token: str, *, ttl_seconds: int, now: datetime) -> str:
        try:
            return self._all.decrypt_at_time(token.encode("ascii"), ttl_seconds, int(now.timestamp())).decode()
        except (InvalidToken, UnicodeError) as exc:
            raise UnreadableSecret("That link has expired or was not made by Tamio.", hint="Start again.") from exc

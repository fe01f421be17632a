"""Integration tokens are stored encrypted, so a copy of the database does not hand out Xero access.

``TAMIO_SECRET_KEY`` holds one or more keys, comma-separated, newest first. Each is a Fernet key
(``TokenCipher.generate_key()``) or a passphrase stretched with scrypt (``tamio.server_secret``).
Encryption always uses the newest key; decryption tries every key, so adding a new key in front
keeps old ciphertexts readable, and ``rotate`` (or ``tamio integrations reencrypt``) re-encrypts
them with the newest one, after which the old key can be dropped.

    cipher = TokenCipher.from_settings(settings)          # TAMIO_SECRET_KEY="new-key,old-key"
    stored = cipher.encrypt("refresh-token")
    cipher.decrypt(stored)                                # 'refresh-token'
    stored = cipher.rotate(stored)                        # now under new-key
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from tamio.config import Settings
from tamio.errors import TamioError
from tamio.server_secret import ServerSecret


class SecretKeyMissing(TamioError):
    """No key to encrypt integration tokens with."""

    status = 500
    title = "Secret key missing"


class UnreadableSecret(TamioError):
    """A stored secret no key can open: the key it was written with was removed."""

    status = 500
    title = "Unreadable secret"


class TokenCipher:
    def __init__(self, keys: Sequence[str]) -> None:
        """``keys``: Fernet keys or passphrases, newest first (as ``TAMIO_SECRET_KEY`` lists them)."""
        if not keys:
            raise SecretKeyMissing(
                "There is no key to encrypt integration tokens with.",
                hint="Set TAMIO_SECRET_KEY (make one with `python -c \"from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())\"`).",
            )
        fernet_keys = ServerSecret.parse(",".join(keys)).fernet_keys()
        self._newest = Fernet(fernet_keys[0])
        self._all = MultiFernet([Fernet(key) for key in fernet_keys])

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenCipher:
        return cls([settings.secret_key] if settings.secret_key is not None else [])

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

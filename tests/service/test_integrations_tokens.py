"""Integration tokens at rest: the database holds ciphertext only, and a new key still reads old rows
until they are re-encrypted, after which the old key can go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from tamio.integrations.connections import read_tokens, reencrypt_connections
from tamio.integrations.crypto import SecretKeyMissing, TokenCipher, UnreadableSecret
from tamio.integrations.models import IntegrationConnection
from tamio.server_secret import SecretKeyInvalid
from tests.service.test_xero_sync_fixtures import KEY, World, make_settings, world_fixture  # noqa: F401

NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_keys_are_newest_first_and_a_passphrase_is_a_key_too() -> None:
    with pytest.raises(SecretKeyInvalid, match="empty key"):
        TokenCipher([" new-passphrase-long-enough , old-passphrase-long-enough ,, "])
    old = TokenCipher(["correct horse battery staple"])
    both = TokenCipher(["another passphrase", "correct horse battery staple"])
    sealed = old.encrypt("rt-123")
    assert both.decrypt(sealed) == "rt-123" and not both.is_current(sealed)
    assert both.is_current(both.rotate(sealed)) and both.decrypt(both.rotate(sealed)) == "rt-123"
    with pytest.raises(UnreadableSecret, match="TAMIO_SECRET_KEY"):
        TokenCipher(["another passphrase"]).decrypt(sealed)
    with pytest.raises(SecretKeyMissing, match="TAMIO_SECRET_KEY"):
        TokenCipher([])


def test_a_sealed_state_opens_only_while_fresh_and_untouched() -> None:
    cipher = TokenCipher([KEY])
    state = cipher.seal("acct_1", now=NOON)
    assert cipher.open_sealed(state, ttl_seconds=900, now=NOON + timedelta(minutes=14)) == "acct_1"
    with pytest.raises(UnreadableSecret, match="expired"):
        cipher.open_sealed(state, ttl_seconds=900, now=NOON + timedelta(minutes=16))
    with pytest.raises(UnreadableSecret):
        cipher.open_sealed(state[:-4] + "AAAA", ttl_seconds=900, now=NOON)


async def test_tokens_are_ciphertext_at_rest_and_survive_a_key_rotation(world: World) -> None:
    connection = await world.connect()
    tokens = read_tokens(connection, world.cipher)
    async with world.sessions() as db:
        raw = (
            await db.execute(
                text("SELECT access_token_encrypted, refresh_token_encrypted FROM integration_connections WHERE id = :id"),
                {"id": connection.id},
            )
        ).one()
    assert tokens.access_token not in raw[0] and tokens.refresh_token not in raw[1]
    assert tokens.access_token.startswith("at-") and tokens.refresh_token.startswith("rt-")

    new_key = TokenCipher.generate_key()
    rotated = TokenCipher.from_settings(make_settings(world.xero, secret_key=f"{new_key},{KEY}"))
    assert read_tokens(connection, rotated) == tokens  # old rows still read under the new key list
    async with world.sessions() as db, db.begin():
        assert await reencrypt_connections(db, cipher=rotated) == 1
        assert await reencrypt_connections(db, cipher=rotated) == 0  # nothing left to rotate
    only_new = TokenCipher([new_key])
    stored = await world.connection()
    assert read_tokens(stored, only_new) == tokens
    with pytest.raises(UnreadableSecret):
        read_tokens(stored, TokenCipher([KEY]))

    # A sync under the new key alone works, and what it stores is under the new key.
    world.settings = make_settings(world.xero, secret_key=new_key)
    world.xero.add_contact(name="Harbour Cafe", is_customer=True)
    world.clock.advance(minutes=40)
    assert (await world.service().sync()).counts == {"clients created": 1}
    row = await world.connection()
    assert isinstance(row, IntegrationConnection) and only_new.is_current(row.refresh_token_encrypted or "")

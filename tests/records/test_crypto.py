"""Field encryption: round trip, wrong key, rotation, key configuration."""

from __future__ import annotations

import stat
from dataclasses import replace

import pytest

from firstpoint.records.crypto import (
    CryptoConfigError,
    DecryptionError,
    FieldCipher,
    cipher_from_settings,
    generate_key,
)
from firstpoint.settings import settings_from_env


def test_round_trip_and_none() -> None:
    cipher = FieldCipher(generate_key())
    secret = "Jo Bloggs, 07700 900123, flat 2 — worried about my neighbour's child"
    token = cipher.encrypt(secret)
    assert token is not None and token != secret
    assert "Bloggs" not in token and "07700" not in token
    assert cipher.decrypt(token) == secret
    assert cipher.encrypt(None) is None and cipher.decrypt(None) is None
    # Fernet tokens are randomised: the same value never encrypts the same way twice
    assert cipher.encrypt(secret) != token


def test_wrong_key_fails_clearly() -> None:
    token = FieldCipher(generate_key()).encrypt("private")
    with pytest.raises(DecryptionError, match="wrong FIRSTPOINT_DATA_KEY"):
        FieldCipher(generate_key()).decrypt(token)


def test_tampered_token_fails() -> None:
    cipher = FieldCipher(generate_key())
    token = cipher.encrypt("private")
    assert token is not None
    tampered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    with pytest.raises(DecryptionError):
        cipher.decrypt(tampered)


def test_rotation_first_key_encrypts_all_keys_decrypt() -> None:
    old, new = generate_key(), generate_key()
    old_token = FieldCipher(old).encrypt("before rotation")
    rotating = FieldCipher(f"{new}, {old}")
    assert rotating.decrypt(old_token) == "before rotation"
    new_token = rotating.encrypt("after rotation")
    assert FieldCipher(new).decrypt(new_token) == "after rotation"
    with pytest.raises(DecryptionError):
        FieldCipher(old).decrypt(new_token)
    rotated = rotating.rotate(old_token)
    assert FieldCipher(new).decrypt(rotated) == "before rotation"


@pytest.mark.parametrize("key", [None, "", " , "])
def test_no_key_is_a_clear_error(key) -> None:
    with pytest.raises(CryptoConfigError, match="FIRSTPOINT_DATA_KEY"):
        FieldCipher(key)


def test_invalid_key_names_which_key() -> None:
    with pytest.raises(CryptoConfigError, match="key #2 of 2"):
        FieldCipher(f"{generate_key()},not-a-key")


def test_settings_key_is_used(tmp_path) -> None:
    key = generate_key()
    settings = settings_from_env({"FIRSTPOINT_VAR_DIR": str(tmp_path), "FIRSTPOINT_DATA_KEY": key})
    token = cipher_from_settings(settings).encrypt("x")
    assert FieldCipher(key).decrypt(token) == "x"
    assert not (tmp_path / "data.key").exists()


def test_sqlite_default_creates_a_private_key_file_and_reuses_it(tmp_path) -> None:
    settings = settings_from_env({"FIRSTPOINT_VAR_DIR": str(tmp_path / "var")})
    assert settings.sqlite_default and settings.data_key is None
    token = cipher_from_settings(settings).encrypt("kept")
    key_file = tmp_path / "var" / "data.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert cipher_from_settings(settings).decrypt(token) == "kept"
    assert FieldCipher(key_file.read_text().strip()).decrypt(token) == "kept"


def test_postgres_without_key_refuses(tmp_path) -> None:
    settings = replace(
        settings_from_env({"FIRSTPOINT_VAR_DIR": str(tmp_path)}),
        database_url="postgresql://postgres@127.0.0.1/firstpoint",
    )
    with pytest.raises(CryptoConfigError, match="FIRSTPOINT_DATA_KEY must be set"):
        cipher_from_settings(settings)
    assert not (tmp_path / "data.key").exists()

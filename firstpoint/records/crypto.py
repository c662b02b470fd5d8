"""Field encryption for personal data in the records (Fernet, with key rotation).

Keys are Fernet keys (urlsafe base64 of 32 bytes; make one with
``python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"``).
``FIRSTPOINT_DATA_KEY`` may hold several keys separated by commas: the FIRST key
encrypts, every key can decrypt, so a new key is rotated in by putting it first
and keeping the old one after it until :meth:`FieldCipher.rotate` has re-encrypted
the old values.

Production must set ``FIRSTPOINT_DATA_KEY`` (and keep it out of the database
backups). Only the embedded SQLite default falls back to a local key file,
``<var_dir>/data.key`` (mode 0600), created on first use so a trial install
works without configuration.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from firstpoint.secrets import key_file
from firstpoint.settings import Settings

KEY_FILE_NAME = "data.key"


class CryptoConfigError(RuntimeError):
    """No usable data key is configured."""


class DecryptionError(ValueError):
    """A stored value could not be decrypted (wrong key, or the data was altered)."""


def generate_key() -> str:
    """A new random Fernet key, as text."""
    return Fernet.generate_key().decode("ascii")


class FieldCipher:
    """Encrypts and decrypts text fields; ``key`` is one or more comma-separated Fernet keys."""

    def __init__(self, key: str | None) -> None:
        keys = [part.strip() for part in (key or "").split(",") if part.strip()]
        if not keys:
            raise CryptoConfigError(
                "no data key configured: set FIRSTPOINT_DATA_KEY to a Fernet key "
                "(see firstpoint/records/crypto.py for how to make one)"
            )
        fernets = []
        for number, value in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(value.encode("ascii")))
            except (ValueError, UnicodeEncodeError) as exc:
                raise CryptoConfigError(
                    f"data key #{number} of {len(keys)} is not a valid Fernet key "
                    "(32 url-safe base64-encoded bytes)"
                ) from exc
        self._fernet = MultiFernet(fernets)

    def encrypt(self, value: str | None) -> str | None:
        """Encrypt ``value`` with the first key (``None`` stays ``None``)."""
        if value is None:
            return None
        return self._fernet.encrypt(value.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str | None) -> str | None:
        """Decrypt a stored value with any configured key (``None`` stays ``None``)."""
        if token is None:
            return None
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeEncodeError) as exc:
            raise DecryptionError(
                "cannot decrypt a stored field: wrong FIRSTPOINT_DATA_KEY or altered data"
            ) from exc

    def rotate(self, token: str | None) -> str | None:
        """Re-encrypt a stored value under the first (newest) key."""
        if token is None:
            return None
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken as exc:
            raise DecryptionError("cannot rotate a stored field: no configured key opens it") \
                from exc


def cipher_from_settings(settings: Settings) -> FieldCipher:
    """The cipher for this install: ``settings.data_key``, else the SQLite-only key file.

    Raises :class:`CryptoConfigError` for a non-SQLite database without a key.
    """
    if settings.data_key:
        return FieldCipher(settings.data_key)
    if settings.sqlite_default:
        return FieldCipher(key_file(
            Path(settings.var_dir) / KEY_FILE_NAME, generate_key, what="data key file",
            created="created a local data key for the SQLite database; production must "
                    "set FIRSTPOINT_DATA_KEY"))
    raise CryptoConfigError(
        "no data key configured: FIRSTPOINT_DATA_KEY must be set when the database is not "
        "the embedded SQLite default"
    )

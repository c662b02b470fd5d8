"""The HMAC keys that turn a Rasa sender id into the contact log's conversation key."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

from firstpoint.secrets import key_file
from firstpoint.settings import Settings

KEY_FILE_NAME = "contact_log.key"
_KEY_PURPOSE = b"firstpoint contact log conversation key v1"


def _derive(secret: bytes) -> bytes:
    """A key for this one purpose, so the data key itself is never used as the HMAC key."""
    return hmac.new(secret, _KEY_PURPOSE, hashlib.sha256).digest()




def _local_key_file(path: Path) -> bytes:
    """The secret in ``path`` (hex), creating it with mode 0600 if it does not exist."""
    return bytes.fromhex(key_file(
        path, lambda: secrets.token_hex(32), what="contact-log key file",
        created="created the contact-log key file; set FIRSTPOINT_DATA_KEY in production "
                "(and back this file up: without it, subject-access lookups cannot find "
                "earlier contacts)"))


def contact_keys_from_settings(settings: Settings) -> list[bytes]:
    """Every HMAC key this install may have used, newest first.

    One per comma-separated ``settings.data_key`` (rotation keeps older keys after
    the new one, so subject-access lookups still find older contacts); without a
    data key, the secret in ``<var_dir>/contact_log.key`` (created 0600 if missing).
    """
    parts = [p.strip() for p in (settings.data_key or "").split(",") if p.strip()]
    if parts:
        return [_derive(p.encode("utf-8")) for p in parts]
    return [_derive(_local_key_file(Path(settings.var_dir) / KEY_FILE_NAME))]


def contact_key_from_settings(settings: Settings) -> bytes:
    """The HMAC key for conversation keys: derived from the first data key, else the key file."""
    return contact_keys_from_settings(settings)[0]

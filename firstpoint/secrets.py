"""Per-install secrets kept in private files: one routine for every key and token file.

:func:`key_file` reads a secret from a file, creating it (mode 0600, in a directory
made 0700) on first use. The data key (``records.crypto``), the contact log's HMAC
secret (``records.contacts.keys``) and the tokens the processes of one stack share
(:func:`local_secret`: action server, reports API, Rasa's HTTP API) all go through
it. A file is created by hard-linking a private temporary file into place, so two
processes starting together agree on one secret and never read half of one.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)


def key_file(path: Path, make: Callable[[], str], *, what: str = "secret file",
             created: str | None = None, force_private: bool = False) -> str:
    """The secret in ``path`` (stripped), creating it with ``make()`` if it is missing.

    ``created`` is logged as a warning (with the path) when this call made the file.
    An existing file readable by others is made 0600 when ``force_private``, else
    reported as ``what``.
    """
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(make() + "\n")
        try:
            os.link(tmp, path)  # atomic: a concurrent creator's secret wins
            if created:
                log.warning("%s: %s", created, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    if force_private:
        os.chmod(path, 0o600)
    else:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            log.warning("%s %s is readable by other users (mode %o); chmod 600 it",
                        what, path, mode)
    return path.read_text(encoding="ascii").strip()


def local_secret(path: Path, nbytes: int = 32) -> str:
    """The token in ``path``, creating it (url-safe, ``nbytes`` of randomness) if missing."""
    token = key_file(path, lambda: secrets.token_urlsafe(nbytes), force_private=True)
    if not token:
        raise ValueError(f"{path}: the secret file is empty")
    return token

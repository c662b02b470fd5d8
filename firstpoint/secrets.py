"""Per-install secrets kept in private files (tokens the processes of one stack share).

:func:`local_secret` reads a token from a file, creating it (random, mode 0600, in
a 0700 directory) on first use. Used for the action server token, the reports API
token and Rasa's HTTP API token when they are not set in the environment. A file
is created by hard-linking a private temporary file into place, so two processes
starting together agree on one token.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def local_secret(path: Path, nbytes: int = 32) -> str:
    """The token in ``path``, creating it (url-safe, ``nbytes`` of randomness) if missing."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(nbytes) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    os.chmod(path, 0o600)
    token = path.read_text(encoding="ascii").strip()
    if not token:
        raise ValueError(f"{path}: the secret file is empty")
    return token

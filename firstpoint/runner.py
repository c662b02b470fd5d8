"""Starting FirstPoint's processes: the action server, the Rasa server, the API and
(with ``with_web``) the demo council page that embeds the web widget.

Used by ``firstpoint run`` and by the tests that talk to the real servers.

Hardening (issue 13): the action server listens on loopback and needs a bearer
token (``firstpoint.actionserver``; Rasa sends it from ``endpoints.yml``); the
reports API needs its token (``var/api.token`` unless ``FIRSTPOINT_API_TOKEN``);
``var/`` is 0700 and everything the children write is 0600 (umask 077); each
child's output goes to a size-rotated log (``Settings.log_max_bytes``, three old
files kept); and a scheduled ``firstpoint purge --every`` applies retention.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from firstpoint.model import ensure_model, rasa_command, rasa_env
from firstpoint.secrets import local_secret
from firstpoint.settings import Settings, get_settings

LOG_BACKUPS = 3
PRIVATE_UMASK = 0o077


def secure_dir(path: Path) -> None:
    """Make ``path`` (and its sub-directories) 0700 and every file under it 0600."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    for root, dirs, files in os.walk(path):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o700)
        for name in files:
            full = os.path.join(root, name)
            if not os.path.islink(full):
                os.chmod(full, 0o600)


class RotatingLog:
    """Copies a child's output into ``path``, rotating at ``max_bytes`` (``path.1`` ...)."""

    def __init__(self, path: Path, max_bytes: int, backups: int = LOG_BACKUPS) -> None:
        self.path = Path(path)
        self.max_bytes = max(4096, int(max_bytes))
        self.backups = backups
        self._handle = self._open()

    def _open(self):  # noqa: ANN202 - a binary file object
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return os.fdopen(fd, "ab", buffering=0)

    def _rotate(self) -> None:
        self._handle.close()
        for number in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{number}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{number + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        self._handle = self._open()

    def write(self, chunk: bytes) -> None:
        """Append ``chunk``, rotating first when the file is full."""
        if self._handle.tell() + len(chunk) > self.max_bytes and self._handle.tell() > 0:
            self._rotate()
        self._handle.write(chunk)

    def pump(self, stream) -> threading.Thread:  # noqa: ANN001 - a child's stdout pipe
        """Copy ``stream`` line by line on a daemon thread until it closes."""
        def run() -> None:
            try:
                for line in iter(stream.readline, b""):
                    self.write(line)
            finally:
                self._handle.close()

        thread = threading.Thread(target=run, name=f"log-{self.path.name}", daemon=True)
        thread.start()
        return thread


def install_secrets(settings: Settings) -> dict[str, str]:
    """The tokens a stack's processes share: from settings, else private files in ``var/``."""
    secrets_dir = Path(settings.var_dir) / "secrets"
    return {
        "FIRSTPOINT_ACTION_TOKEN": settings.action_token
        or local_secret(secrets_dir / "action.token"),
        "FIRSTPOINT_API_TOKEN": settings.api_token or local_secret(secrets_dir / "api.token"),
        "FIRSTPOINT_RASA_API_TOKEN": settings.rasa_api_token
        or local_secret(secrets_dir / "rasa-api.token"),
    }


def action_server_command(port: int, host: str = "127.0.0.1") -> list[str]:
    """How every stack starts an action server: loopback, token required."""
    return [sys.executable, "-m", "firstpoint.actionserver", "--actions", "bot.actions",
            "--host", host, "--port", str(port)]


def spawn_logged(stack: Stack, name: str, cmd: list[str], *, cwd: Path, env: dict[str, str],
                 log_dir: Path) -> subprocess.Popen:
    """Start ``cmd`` as ``name`` with a private umask and a rotated log in ``log_dir``."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, umask=PRIVATE_UMASK)
    RotatingLog(log_dir / f"{name}.log", stack.settings.log_max_bytes).pump(proc.stdout)
    stack.processes[name] = proc
    return proc


@dataclass
class Stack:
    """Running child processes and where to reach them."""

    settings: Settings
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    #: The shared tokens (``FIRSTPOINT_ACTION_TOKEN``, ``_API_TOKEN``, ``_RASA_API_TOKEN``).
    secrets: dict[str, str] = field(default_factory=dict)

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.rasa_port}"

    @property
    def webhook_url(self) -> str:
        return f"{self.rasa_url}/webhooks/rest/webhook"

    @property
    def action_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.action_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.api_port}"

    @property
    def console_url(self) -> str:
        """The supervisor console (served by the API process)."""
        return f"{self.api_url}/console/"

    @property
    def web_url(self) -> str:
        """The demo council page (embeds the web widget with one script tag)."""
        return f"http://127.0.0.1:{self.settings.web_port}"

    @property
    def widget_url(self) -> str:
        """The widget's script, served by the Rasa server's socket.io channel."""
        return f"{self.rasa_url}/webhooks/socketio/widget.js"

    def channel_url(self, name: str) -> str:
        """A channel's webhook on the Rasa server (``facebook``, ``botframework``, ``rest``)."""
        return f"{self.rasa_url}/webhooks/{name}/webhook"

    def stop(self, timeout: float = 15.0) -> None:
        """Terminate every child (SIGTERM, then SIGKILL after ``timeout``)."""
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.processes.values():
            remaining = max(0.1, deadline - time.monotonic())
            try:
                proc.wait(remaining)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def failed(self) -> str | None:
        """Name of a child that has exited, if any."""
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                return name
        return None


def _wait_http(url: str, stack: Stack, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dead = stack.failed()
        if dead:
            code = stack.processes[dead].returncode
            raise RuntimeError(f"{dead} exited while starting (exit code {code})")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - localhost only
                if resp.status < 500:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s")


def channel_env(settings: Settings) -> dict[str, str]:
    """The channel settings (connectors/) as environment for the Rasa process.

    Unset secrets are passed blank, so a test's settings never inherit a developer's
    real Facebook or Bot Framework credentials from the environment.
    """
    values: dict[str, str | None] = {
        "FIRSTPOINT_DEV_MODE": "1" if settings.dev_mode else "0",
        "FIRSTPOINT_WEB_PORT": str(settings.web_port),
        "FIRSTPOINT_WEB_ORIGINS": ",".join(settings.web_origins),
        "FIRSTPOINT_FACEBOOK_VERIFY_TOKEN": settings.facebook_verify_token,
        "FIRSTPOINT_FACEBOOK_APP_SECRET": settings.facebook_app_secret,
        "FIRSTPOINT_FACEBOOK_PAGE_TOKEN": settings.facebook_page_token,
        "FIRSTPOINT_FACEBOOK_GRAPH_URL": settings.facebook_graph_url,
        "FIRSTPOINT_BOTFRAMEWORK_APP_ID": settings.botframework_app_id,
        "FIRSTPOINT_BOTFRAMEWORK_APP_PASSWORD": settings.botframework_app_password,
        "FIRSTPOINT_BOTFRAMEWORK_OPENID_URL": settings.botframework_openid_url,
        "FIRSTPOINT_BOTFRAMEWORK_TOKEN_URL": settings.botframework_token_url,
        "FIRSTPOINT_BOTFRAMEWORK_TENANT_IDS": ",".join(settings.botframework_tenant_ids),
    }
    return {k: v or "" for k, v in values.items()}


def start_stack(
    settings: Settings | None = None,
    model: Path | None = None,
    with_api: bool = True,
    log_dir: Path | None = None,
    timeout: float = 180.0,
    with_web: bool = False,
) -> Stack:
    """Start the action server, the Rasa server (every channel in credentials.yml), the
    outbox worker, the API and, with ``with_web``, the demo council page.

    Returns once each answers on its port; raises (after stopping what started)
    if one exits or does not answer within ``timeout`` seconds.
    """
    settings = settings or get_settings()
    root = settings.project_root
    model = model or ensure_model(settings)
    secure_dir(Path(settings.var_dir))
    log_dir = log_dir or settings.var_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    env = rasa_env(settings)
    env.update(install_secrets(settings))
    env["SANIC_HOST"] = "127.0.0.1"  # rasa-sdk's own default is 0.0.0.0
    env["FIRSTPOINT_VAR_DIR"] = str(settings.var_dir)
    env["FIRSTPOINT_DATABASE_URL"] = settings.database_url
    env["FIRSTPOINT_ACTION_PORT"] = str(settings.action_port)
    env["FIRSTPOINT_RASA_PORT"] = str(settings.rasa_port)
    env["FIRSTPOINT_API_PORT"] = str(settings.api_port)
    env["FIRSTPOINT_TRACKER_DB"] = str(settings.var_dir / "tracker.db")
    env["FIRSTPOINT_CONTENT_DIR"] = str(settings.content_dir)
    env["FIRSTPOINT_SMTP_HOST"] = settings.smtp_host
    env["FIRSTPOINT_SMTP_PORT"] = str(settings.smtp_port)
    if settings.data_key:
        env["FIRSTPOINT_DATA_KEY"] = settings.data_key
    env.update(channel_env(settings))
    stack = Stack(settings, secrets={k: env[k] for k in install_secrets(settings)})

    def spawn(name: str, cmd: list[str]) -> None:
        spawn_logged(stack, name, cmd, cwd=root, env=env, log_dir=log_dir)

    try:
        spawn("actions", action_server_command(settings.action_port))
        spawn(
            "rasa",
            [*rasa_command(), "run", "--model", str(model),
             "--endpoints", str(root / "endpoints.yml"),
             "--credentials", str(root / "credentials.yml"),
             "--port", str(settings.rasa_port), "--interface", "127.0.0.1",
             # Rasa's HTTP API, token-protected: the console's live takeover uses it
             "--enable-api", "--auth-token", env["FIRSTPOINT_RASA_API_TOKEN"]],
        )
        spawn("outbox", [sys.executable, "-m", "firstpoint.cli", "outbox", "run",
                         "--interval", "5"])
        spawn("retention", [sys.executable, "-m", "firstpoint.cli", "purge",
                            "--tracker-url", f"sqlite:///{settings.var_dir / 'tracker.db'}",
                            "--every", str(settings.purge_every_seconds)])
        if with_api:
            spawn("api", [sys.executable, "-m", "firstpoint.cli", "api",
                          "--port", str(settings.api_port)])
        if with_web:
            spawn("web", [sys.executable, "-m", "connectors.web.demo",
                          "--port", str(settings.web_port), "--rasa-url", stack.rasa_url])
        _wait_http(f"{stack.action_url}/health", stack, timeout)
        _wait_http(f"{stack.rasa_url}/", stack, timeout)
        if with_api:
            _wait_http(f"{stack.api_url}/health", stack, timeout)
        if with_web:
            _wait_http(f"{stack.web_url}/health", stack, timeout)
    except BaseException:
        stack.stop()
        raise
    return stack

"""Starting FirstPoint's processes: the action server, the Rasa server, the API and
(with ``with_web``) the demo council page that embeds the web widget.

Used by ``firstpoint run`` and by the tests that talk to the real servers.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from firstpoint.model import ensure_model, rasa_command, rasa_env
from firstpoint.settings import Settings, get_settings


@dataclass
class Stack:
    """Running child processes and where to reach them."""

    settings: Settings
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

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
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    log_dir = log_dir or settings.var_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    env = rasa_env(settings)
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
    stack = Stack(settings)

    def spawn(name: str, cmd: list[str]) -> None:
        log = open(log_dir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the child
        stack.processes[name] = subprocess.Popen(
            cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT
        )

    try:
        spawn(
            "actions",
            [*rasa_command(), "run", "actions", "--actions", "bot.actions",
             "--port", str(settings.action_port)],
        )
        spawn(
            "rasa",
            [*rasa_command(), "run", "--model", str(model),
             "--endpoints", str(root / "endpoints.yml"),
             "--credentials", str(root / "credentials.yml"),
             "--port", str(settings.rasa_port), "--interface", "127.0.0.1"],
        )
        spawn("outbox", [sys.executable, "-m", "firstpoint.cli", "outbox", "run",
                         "--interval", "5"])
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

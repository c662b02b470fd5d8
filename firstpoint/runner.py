"""Starting FirstPoint's processes: the action server, the Rasa server and the API.

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


def start_stack(
    settings: Settings | None = None,
    model: Path | None = None,
    with_api: bool = True,
    log_dir: Path | None = None,
    timeout: float = 180.0,
) -> Stack:
    """Start the action server, the Rasa server (REST channel), the outbox worker and the API.

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
        _wait_http(f"{stack.action_url}/health", stack, timeout)
        _wait_http(f"{stack.rasa_url}/", stack, timeout)
        if with_api:
            _wait_http(f"{stack.api_url}/health", stack, timeout)
    except BaseException:
        stack.stop()
        raise
    return stack

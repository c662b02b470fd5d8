"""Private PostgreSQL and RabbitMQ servers for the fault tests.

The fault tests restart PostgreSQL and stop RabbitMQ for a minute. Doing that to
the machine's shared servers (standard ports) would break every other test run
and every other engineer's session on the same machine, so each fault-test run
starts its own instance of the SAME server binaries (Debian's PostgreSQL and
RabbitMQ) on free loopback ports, in a temporary directory, and breaks those:
a real ``pg_ctl restart`` and a real broker shutdown, not a simulation.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float, up: bool = True) -> bool:
    """Wait until ``port`` accepts (``up``) or refuses connections; True if it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                if up:
                    return True
        except OSError:
            if not up:
                return True
        time.sleep(0.2)
    return False


class PrivatePostgres:
    """A PostgreSQL cluster of our own (``initdb`` + ``pg_ctl``), trust auth on loopback."""

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not found:
            raise RuntimeError("PostgreSQL server binaries not found (/usr/lib/postgresql)")
        self.bin = Path(found[-1]).parent
        # its own directory straight under the temp dir: the postgres user must reach it
        # (pytest's temp dirs are private to root)
        self.dir = Path(tempfile.mkdtemp(prefix="fp-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # postgres refuses to run as root
            self.as_user = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        """Admin URL (database ``postgres``)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *cmd: str, timeout: float = 60) -> None:
        subprocess.run([*self.as_user, *cmd], check=True, timeout=timeout,
                       stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def start(self) -> None:
        """initdb (first time) and start; returns once it accepts connections."""
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.as_user:
            shutil.chown(self.dir, "postgres", "postgres")
        if not self.data.exists():
            self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust",
                      "-U", "postgres", "--no-sync")
        self._pg_ctl("start")

    def _pg_ctl(self, action: str, *extra: str) -> None:
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c max_connections=200")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options,
                  "-l", str(self.dir / "server.log"), "-w", *extra, action, timeout=120)

    def restart(self) -> None:
        """A real restart (fast shutdown: every connection is cut)."""
        self._pg_ctl("restart", "-m", "fast")

    def stop(self) -> None:
        """Stop the server (immediate) and delete its files."""
        with contextlib.suppress(subprocess.SubprocessError):
            self._pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivateRabbitMQ:
    """A RabbitMQ node of our own: its own name, ports and data directory, no plugins."""

    def __init__(self, directory: Path) -> None:
        self.dir = Path(directory)
        self.port = free_port()
        self.name = f"fpfault{self.port}@localhost"
        self.proc: subprocess.Popen | None = None
        server = "/usr/lib/rabbitmq/bin/rabbitmq-server"
        self.server = server if os.path.exists(server) else shutil.which("rabbitmq-server")
        if not self.server:
            raise RuntimeError("rabbitmq-server not found")

    @property
    def url(self) -> str:
        """AMQP URL (guest may log in from loopback)."""
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def _env(self) -> dict[str, str]:
        self.dir.mkdir(parents=True, exist_ok=True)
        plugins = self.dir / "enabled_plugins"
        plugins.touch()
        env = dict(os.environ)
        env.update({
            "RABBITMQ_NODENAME": self.name, "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(plugins),
            "RABBITMQ_PID_FILE": str(self.dir / "pid"),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "none"),
        })
        return env

    def start(self, timeout: float = 60) -> None:
        """Start the node; returns once it accepts AMQP connections."""
        out = open(self.dir / "stdout.log", "ab") if self.dir.exists() else None  # noqa: SIM115
        if out is None:
            self.dir.mkdir(parents=True, exist_ok=True)
            out = open(self.dir / "stdout.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen([str(self.server)], env=self._env(), stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        if not wait_port(self.port, timeout):
            raise RuntimeError(f"private RabbitMQ did not start; see {self.dir}/stdout.log")

    def stop(self, timeout: float = 30) -> None:
        """Shut the broker down (every connection closes; durable queues persist)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(10)
        wait_port(self.port, 10, up=False)
        self.proc = None

"""The production stack on one machine: Rasa's own scaling pieces, started together.

``firstpoint production`` (and the fault tests in ``tests/production/``) start:

* N action servers (``firstpoint.actionserver``: loopback, bearer token) behind nginx;
* N Rasa replicas (``rasa run --enable-api --auth-token``) with
  ``deploy/endpoints.production.yml``: the encrypted PostgreSQL tracker store
  (:mod:`firstpoint.records.tracker_store`), Rasa's Redis lock store (one
  conversation's messages in order across replicas) and Rasa's RabbitMQ (Pika)
  event broker;
* the contact-log consumer (``firstpoint contacts consume``, one per queue), the
  outbox worker, scheduled retention (``firstpoint purge --every``) and the
  reports API (token required), all on PostgreSQL;
* nginx (Debian's package) on the public port: ``/webhooks/`` to the replicas
  (least connections), ``/socket.io/`` sticky per client, ``/api/`` to the reports
  API; a second loopback server balances Rasa's calls over the action servers.

PostgreSQL, Redis and RabbitMQ are the machine's own services (standard local
ports by default). The data key must come from ``FIRSTPOINT_DATA_KEY`` or a file
outside the data directory (``FIRSTPOINT_DATA_KEY_FILE``); for a local trial one
is made in ``Settings.secrets_dir`` (``~/.config/firstpoint``), never in ``var/``.
"""

from __future__ import annotations

import os
import shutil
import string
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from firstpoint.model import ensure_model, rasa_command, rasa_env
from firstpoint.runner import (
    Stack,
    _wait_http,
    action_server_command,
    install_secrets,
    secure_dir,
    spawn_logged,
)
from firstpoint.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy" / "nginx.conf.template"
ENDPOINTS = ROOT / "deploy" / "endpoints.production.yml"


class ProductionConfigError(RuntimeError):
    """The production stack cannot start as configured (the message says why)."""


@dataclass
class Plan:
    """Names and ports of one production stack (tests use unique names per run)."""

    settings: Settings
    replicas: int = 2
    records_db: str = "firstpoint"
    tracker_db: str = "firstpoint_rasa"
    queue: str = "firstpoint_events"
    exchange: str = "rasa-exchange"
    redis_db: int = 1
    redis_prefix: str = "firstpoint"
    public_port: int = 5005
    action_port: int = 5055
    replica_ports: list[int] = field(default_factory=list)
    action_ports: list[int] = field(default_factory=list)
    api_port: int = 8080
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/%2F"
    redis_url: str = "redis://127.0.0.1:6379/0"
    postgres_url: str = "postgresql://postgres@127.0.0.1:5432/firstpoint"
    rasa_threads: int = 1

    def __post_init__(self) -> None:
        if not self.replica_ports:
            self.replica_ports = [self.public_port + 10 + i for i in range(self.replicas)]
        if not self.action_ports:
            self.action_ports = [self.action_port + 10 + i for i in range(self.replicas)]

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: object) -> Plan:
        """The default plan for ``settings`` (ports, services), with ``overrides``."""
        database = settings.database_url if settings.database_url.startswith("postgres") \
            else settings.postgres_url
        values: dict[str, object] = {
            "settings": settings, "replicas": settings.replicas,
            "public_port": settings.rasa_port, "action_port": settings.action_port,
            "api_port": settings.api_port, "amqp_url": settings.rabbitmq_url,
            "redis_url": settings.redis_url, "postgres_url": database,
            "queue": settings.rabbitmq_queue,
            "records_db": urllib.parse.urlsplit(database).path.lstrip("/") or "firstpoint",
        }
        values.update(overrides)
        if "tracker_db" not in overrides:
            values["tracker_db"] = f"{values['records_db']}_rasa"
        return cls(**values)  # type: ignore[arg-type]

    def database_url(self, name: str) -> str:
        """``postgres_url`` with its database replaced by ``name``."""
        parts = urllib.parse.urlsplit(self.postgres_url)
        return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))

    @property
    def records_url(self) -> str:
        """The contact log, handoffs and outbox."""
        return self.database_url(self.records_db)

    @property
    def tracker_url(self) -> str:
        """Rasa's tracker store (events, encrypted)."""
        return self.database_url(self.tracker_db)


@dataclass
class ProductionStack(Stack):
    """A running production stack: ``processes`` by name, ``plan``, how to restart one."""

    plan: Plan | None = None
    commands: dict[str, list[str]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    log_dir: Path | None = None

    @property
    def rasa_url(self) -> str:
        """The public entry point (nginx)."""
        assert self.plan is not None
        return f"http://127.0.0.1:{self.plan.public_port}"

    @property
    def api_url(self) -> str:
        """The reports API itself (also reachable through nginx at ``/api/``)."""
        assert self.plan is not None
        return f"http://127.0.0.1:{self.plan.api_port}"

    def replica_url(self, index: int) -> str:
        """Rasa replica ``index`` (0-based), directly, bypassing nginx."""
        assert self.plan is not None
        return f"http://127.0.0.1:{self.plan.replica_ports[index]}"

    def kill(self, name: str) -> None:
        """SIGKILL one process (a crash, for the fault tests)."""
        proc = self.processes[name]
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)

    def restart(self, name: str) -> None:
        """Start ``name`` again with its original command (after :meth:`kill`)."""
        assert self.log_dir is not None
        spawn_logged(self, name, self.commands[name], cwd=self.settings.project_root,
                     env=self.env, log_dir=self.log_dir)


def data_key_for(settings: Settings) -> str:
    """The data key, refusing one kept inside the data directory it protects."""
    var_dir = Path(settings.var_dir).resolve()
    if settings.data_key_file is not None:
        key_file = Path(settings.data_key_file).resolve()
        if key_file == var_dir or var_dir in key_file.parents:
            raise ProductionConfigError(
                f"FIRSTPOINT_DATA_KEY_FILE {key_file} is inside the data directory {var_dir}: "
                "keep the key apart from the data it protects")
    if settings.data_key:
        return settings.data_key
    from cryptography.fernet import Fernet

    key_file = Path(settings.secrets_dir) / "data.key"
    if key_file == var_dir or var_dir in key_file.resolve().parents:
        raise ProductionConfigError(f"the secrets directory {key_file.parent} is inside {var_dir}")
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(Fernet.generate_key().decode("ascii") + "\n")
        print(f"firstpoint production: made a data key in {key_file} (outside {var_dir}); "
              "back it up, or set FIRSTPOINT_DATA_KEY / FIRSTPOINT_DATA_KEY_FILE", flush=True)
    os.chmod(key_file, 0o600)
    return key_file.read_text(encoding="ascii").strip()


def ensure_databases(plan: Plan) -> None:
    """Create the records and tracker databases on the PostgreSQL server if missing."""
    from sqlalchemy import create_engine, text

    admin = create_engine(plan.database_url("postgres"), isolation_level="AUTOCOMMIT",
                          future=True)
    try:
        with admin.connect() as conn:
            for name in (plan.records_db, plan.tracker_db):
                exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                      {"n": name}).first()
                if not exists:
                    conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()


def drop_databases(plan: Plan) -> None:
    """Drop the stack's two databases (tests clean up with this)."""
    from sqlalchemy import create_engine, text

    admin = create_engine(plan.database_url("postgres"), isolation_level="AUTOCOMMIT",
                          future=True)
    try:
        with admin.connect() as conn:
            for name in (plan.records_db, plan.tracker_db):
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE datname = :n AND pid <> pg_backend_pid()"), {"n": name})
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    finally:
        admin.dispose()


def nginx_binary() -> str:
    """Debian's nginx, or a clear error naming the package."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists()
                                       else None)
    if not found:
        raise ProductionConfigError("nginx is not installed (as root: apt-get install nginx; "
                                    "scripts/install.sh does this)")
    return found


def render_nginx(plan: Plan, prefix: Path) -> Path:
    """Write the nginx configuration for ``plan`` under ``prefix``; returns its path."""
    prefix.mkdir(parents=True, exist_ok=True, mode=0o700)
    for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / sub).mkdir(exist_ok=True, mode=0o700)
    servers = "\n".join(f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=5s;"
                        for port in plan.replica_ports)
    actions = "\n".join(f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=5s;"
                        for port in plan.action_ports)
    text = string.Template(TEMPLATE.read_text(encoding="utf-8")).safe_substitute(
        # as root, workers drop to Debian's www-data; they never write temp files
        # (bodies over 64k are refused, proxy temp files are off)
        user_line="user www-data;" if os.geteuid() == 0 else "",
        prefix=str(prefix), rasa_servers=servers, action_servers=actions,
        api_port=plan.api_port, public_port=plan.public_port, action_port=plan.action_port,
    )
    path = prefix / "nginx.conf"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def production_env(plan: Plan, data_key: str, tokens: dict[str, str]) -> dict[str, str]:
    """The environment every process of the stack shares (fills endpoints.production.yml)."""
    settings = plan.settings
    pg = urllib.parse.urlsplit(plan.postgres_url)
    amqp = urllib.parse.urlsplit(plan.amqp_url)
    redis = urllib.parse.urlsplit(plan.redis_url)
    env = rasa_env(settings)
    env.update(tokens)
    env.update({
        "SANIC_HOST": "127.0.0.1",
        "FIRSTPOINT_VAR_DIR": str(settings.var_dir),
        "FIRSTPOINT_CONTENT_DIR": str(settings.content_dir),
        "FIRSTPOINT_DATABASE_URL": plan.records_url,
        "FIRSTPOINT_DATA_KEY": data_key,
        "FIRSTPOINT_API_PORT": str(plan.api_port),
        "FIRSTPOINT_ACTION_URL": f"http://127.0.0.1:{plan.action_port}/webhook",
        "FIRSTPOINT_PG_HOST": pg.hostname or "127.0.0.1",
        "FIRSTPOINT_PG_PORT": str(pg.port or 5432),
        "FIRSTPOINT_PG_DB": plan.tracker_db,
        "FIRSTPOINT_PG_USER": urllib.parse.unquote(pg.username or "postgres"),
        "FIRSTPOINT_PG_PASSWORD": urllib.parse.unquote(pg.password or ""),
        "FIRSTPOINT_REDIS_HOST": redis.hostname or "127.0.0.1",
        "FIRSTPOINT_REDIS_PORT": str(redis.port or 6379),
        "FIRSTPOINT_REDIS_DB": str(plan.redis_db),
        "FIRSTPOINT_REDIS_PREFIX": plan.redis_prefix,
        "FIRSTPOINT_RABBITMQ_HOST": amqp.hostname or "127.0.0.1",
        "FIRSTPOINT_RABBITMQ_PORT": str(amqp.port or 5672),
        "FIRSTPOINT_RABBITMQ_USER": urllib.parse.unquote(amqp.username or "guest"),
        "FIRSTPOINT_RABBITMQ_PASSWORD": urllib.parse.unquote(amqp.password or "guest"),
        "FIRSTPOINT_RABBITMQ_EXCHANGE": plan.exchange,
        "FIRSTPOINT_RABBITMQ_QUEUE": plan.queue,
        "FIRSTPOINT_RABBITMQ_URL": plan.amqp_url,
        "FIRSTPOINT_SMTP_HOST": settings.smtp_host,
        "FIRSTPOINT_SMTP_PORT": str(settings.smtp_port),
        # Two replicas share the cores: one TensorFlow thread each (Rasa reads these).
        "TF_INTRA_OP_PARALLELISM_THREADS": str(plan.rasa_threads),
        "TF_INTER_OP_PARALLELISM_THREADS": str(plan.rasa_threads),
        "OMP_NUM_THREADS": str(plan.rasa_threads),
    })
    from firstpoint.runner import channel_env

    env.update(channel_env(settings))
    return env


def start_production(plan: Plan, *, model: Path | None = None, timeout: float = 300.0,
                     with_consumer: bool = True) -> ProductionStack:
    """Start the whole production stack for ``plan``; returns once nginx answers.

    Raises :class:`ProductionConfigError` for a configuration that must not run
    (no nginx, a key inside the data directory) and stops what started on failure.
    """
    settings = plan.settings
    root = settings.project_root
    nginx = nginx_binary()
    data_key = data_key_for(settings)
    model = model or ensure_model(settings)
    secure_dir(Path(settings.var_dir))
    log_dir = Path(settings.var_dir) / "logs"
    log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    ensure_databases(plan)
    from firstpoint.records.migrate import upgrade

    upgrade(plan.records_url)
    tokens = install_secrets(settings)
    env = production_env(plan, data_key, tokens)
    stack = ProductionStack(settings, secrets=tokens, plan=plan, env=env, log_dir=log_dir)
    py = sys.executable

    def spawn(name: str, cmd: list[str]) -> None:
        stack.commands[name] = cmd
        spawn_logged(stack, name, cmd, cwd=root, env=env, log_dir=log_dir)

    try:
        for i, port in enumerate(plan.action_ports, start=1):
            spawn(f"actions-{i}", action_server_command(port))
        for i, port in enumerate(plan.replica_ports, start=1):
            spawn(f"rasa-{i}", [*rasa_command(), "run", "--model", str(model),
                                "--endpoints", str(ENDPOINTS),
                                "--credentials", str(root / "credentials.yml"),
                                "--port", str(port), "--interface", "127.0.0.1",
                                "--enable-api",
                                "--auth-token", tokens["FIRSTPOINT_RASA_API_TOKEN"]])
        if with_consumer:
            spawn("consumer", [py, "-m", "firstpoint.cli", "contacts", "consume",
                               "--queue", plan.queue, "--retry-seconds", "2"])
        spawn("outbox", [py, "-m", "firstpoint.cli", "outbox", "run", "--interval", "2"])
        spawn("retention", [py, "-m", "firstpoint.cli", "purge", "--tracker-url",
                            plan.tracker_url, "--every", str(settings.purge_every_seconds)])
        spawn("api", [py, "-m", "firstpoint.cli", "api", "--port", str(plan.api_port)])
        conf = render_nginx(plan, Path(settings.var_dir) / "nginx")
        spawn("nginx", [nginx, "-c", str(conf), "-p", str(conf.parent), "-g", "daemon off;"])
        for port in plan.action_ports:
            _wait_http(f"http://127.0.0.1:{port}/health", stack, timeout)
        deadline = time.monotonic() + timeout
        for port in plan.replica_ports:
            _wait_http(f"http://127.0.0.1:{port}/", stack, max(5.0, deadline - time.monotonic()))
        _wait_http(f"http://127.0.0.1:{plan.api_port}/health", stack, timeout)
        _wait_http(f"{stack.rasa_url}/webhooks/rest/", stack, 30)
    except BaseException:
        stack.stop()
        raise
    return stack


def wait_processes(stack: Stack, poll: float = 1.0) -> str | None:
    """Block until a process exits; returns its name (``None`` if interrupted)."""
    try:
        while True:
            dead = stack.failed()
            if dead:
                return dead
            time.sleep(poll)
    except KeyboardInterrupt:
        return None


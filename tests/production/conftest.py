"""The production stack for the fault, fuzz and hardening tests, started once per run.

nginx + 2 Rasa replicas + 2 action servers, the contact-log consumer, the outbox
worker, retention and the reports API (``firstpoint.production``), on a private
PostgreSQL and a private RabbitMQ (``tests/production/services.py``: the fault
tests break them) and the machine's Redis (a unique key prefix). Every name is
unique to the run: databases, queue, exchange, lock prefix, ports.

Skips (fails under FIRSTPOINT_REQUIRE_SERVICES=1) when nginx, the PostgreSQL or
RabbitMQ server binaries, or Redis are missing.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from firstpoint.settings import get_settings
from tests.services import require_port, service_missing

ROOT = Path(__file__).resolve().parents[2]


def load_client() -> Any:
    """``benchmarks/load_client.py`` as a module (benchmarks/ is not a package)."""
    name = "firstpoint_load_client"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / "load_client.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class Mailbox:
    """Every e-mail the outbox delivered, by handoff reference."""

    messages: list[tuple[str, str]] = field(default_factory=list)  # (reference, recipients)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        """aiosmtpd hook: keep (reference, recipients) of each message."""
        email = message_from_bytes(envelope.content)
        with self.lock:
            self.messages.append((str(email.get("X-FirstPoint-Reference") or ""),
                                  ",".join(sorted(envelope.rcpt_tos))))
        return "250 OK"

    def count(self, reference: str) -> dict[str, int]:
        """Deliveries of ``reference`` per recipient list."""
        with self.lock:
            seen: dict[str, int] = {}
            for ref, rcpt in self.messages:
                if ref == reference:
                    seen[rcpt] = seen.get(rcpt, 0) + 1
            return seen


@pytest.fixture(scope="package")
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    """A local SMTP server catching the outbox's e-mail."""
    from aiosmtpd.controller import Controller

    from tests.production.services import free_port

    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@dataclass
class Services:
    """The private servers behind the stack."""

    postgres: Any
    rabbitmq: Any


@pytest.fixture(scope="package")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """A private PostgreSQL and RabbitMQ for this run (the fault tests break them)."""
    from tests.production.services import PrivatePostgres, PrivateRabbitMQ

    for tool, package in (("nginx", "nginx"), ("rabbitmq-server", "rabbitmq-server")):
        if not (shutil.which(tool) or Path(f"/usr/sbin/{tool}").exists()):
            service_missing(tool, f"Debian package {package} is not installed")
    require_port("redis")
    base = tmp_path_factory.mktemp("fp-services")
    try:
        postgres = PrivatePostgres()
        rabbitmq = PrivateRabbitMQ(base / "mq")
    except RuntimeError as exc:
        service_missing("postgresql/rabbitmq servers", str(exc))
    postgres.start()
    try:
        rabbitmq.start()
    except BaseException:
        postgres.stop()
        raise
    try:
        yield Services(postgres, rabbitmq)
    finally:
        rabbitmq.stop()
        postgres.stop()


@pytest.fixture(scope="package")
def fakes() -> Iterator[Any]:
    """Fake Graph API and Bot Framework (OpenID metadata, keys, tokens) on loopback."""
    from tests.connectors.fakes import FakeServices

    services = FakeServices().start()
    try:
        yield services
    finally:
        services.stop()


@pytest.fixture(scope="package")
def prod(services: Services, mailbox: tuple[Mailbox, int], fakes: Any,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The running production stack (:class:`firstpoint.production.ProductionStack`)."""
    from firstpoint.production import Plan, start_production
    from tests.production.services import free_port

    run = uuid.uuid4().hex[:8]
    var_dir = tmp_path_factory.mktemp("fp-prod-var")
    settings = replace(
        get_settings(), var_dir=var_dir, secrets_dir=tmp_path_factory.mktemp("fp-secrets"),
        database_url=services.postgres.url.rsplit("/", 1)[0] + f"/fp_{run}",
        data_key=Fernet.generate_key().decode(), data_key_file=None,
        rasa_port=free_port(), action_port=free_port(), api_port=free_port(),
        smtp_host="127.0.0.1", smtp_port=mailbox[1], rabbitmq_url=services.rabbitmq.url,
        rabbitmq_queue=f"fp_events_{run}", dev_mode=False, purge_every_seconds=3600,
        action_token=None, api_token=None, rasa_api_token=None,
        # Facebook and the Bot Framework configured against the fakes (tests/connectors/
        # fakes.py), so fuzzing reaches the parsers behind their signature / token checks
        facebook_app_secret="fuzz-app-secret", facebook_verify_token="fuzz-verify",
        facebook_page_token="fuzz-page", facebook_graph_url=fakes.graph_url,
        botframework_app_id="fuzz-app-id", botframework_app_password="fuzz-password",
        botframework_openid_url=f"{fakes.url}/openid",
        botframework_token_url=f"{fakes.url}/token",
        botframework_tenant_ids=(),
    )
    plan = Plan.from_settings(
        settings, replicas=2, exchange=f"fp-exchange-{run}", redis_prefix=f"fp{run}",
        replica_ports=[free_port(), free_port()], action_ports=[free_port(), free_port()],
    )
    started = time.monotonic()
    # FIRSTPOINT_TEST_MODEL: a trained model to use as it is (a shared tree whose
    # training inputs keep changing would otherwise retrain here); 900 s because on
    # 2 cores shared with other test runs two replicas have needed over 400 s to load
    model = os.environ.get("FIRSTPOINT_TEST_MODEL")
    stack = start_production(plan, timeout=900, model=Path(model) if model else None)
    stack.started_in = time.monotonic() - started  # type: ignore[attr-defined]
    try:
        yield stack
    finally:
        stack.stop()

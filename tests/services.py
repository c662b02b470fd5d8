"""Skip-or-fail helpers for tests that need PostgreSQL, Redis or RabbitMQ.

On a newcomer's laptop without the service the test skips with a clear
message; with FIRSTPOINT_REQUIRE_SERVICES=1 (set by .ci/run) it fails instead.
"""

from __future__ import annotations

import socket

import pytest

from firstpoint.settings import get_settings

STANDARD_PORTS = {"postgresql": 5432, "redis": 6379, "rabbitmq": 5672}


def service_missing(name: str, reason: str) -> None:
    """Skip (or fail, when services are required) because ``name`` is unavailable."""
    message = f"{name} is not available ({reason})"
    if get_settings().require_services:
        pytest.fail(f"{message}; FIRSTPOINT_REQUIRE_SERVICES=1 makes this a failure", pytrace=False)
    pytest.skip(f"{message}; start it on its standard local port to run this test")


def require_port(name: str, host: str = "127.0.0.1", port: int | None = None) -> None:
    """Skip/fail unless something listens on the service's port."""
    port = port or STANDARD_PORTS[name]
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return
    except OSError as exc:
        service_missing(name, f"nothing answers on {host}:{port}: {exc}")


def require_service(name: str, exc: BaseException) -> None:
    """Skip/fail because connecting to ``name`` raised ``exc``."""
    service_missing(name, f"{type(exc).__name__}: {exc}")

"""The Kubernetes files (deploy/kubernetes/) parse and say what the guide says.

No cluster runs here (and ``kubectl --dry-run=client`` still wants one), so these
check what can be checked on this machine: the YAML, the production properties
(replicas, one consumer, locked-down containers, secrets by reference), and that
the endpoints the Rasa chart renders from our values are valid for Rasa itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

K8S = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"


def _docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc["spec"]
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return list(spec["template"]["spec"]["containers"])


def test_manifests_are_locked_down_and_use_the_secret() -> None:
    docs = _docs("firstpoint.yaml")
    kinds = [d["kind"] for d in docs]
    assert kinds.count("Deployment") == 3 and "CronJob" in kinds and "NetworkPolicy" in kinds
    for doc in docs:
        if doc["kind"] not in ("Deployment", "CronJob"):
            continue
        for container in _containers(doc):
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] and not context["allowPrivilegeEscalation"]
            for env in container.get("env", []):
                if "KEY" in env["name"] or "URL" in env["name"] and "DATABASE" in env["name"]:
                    assert "valueFrom" in env, env["name"]  # never a literal secret


def test_one_consumer_per_queue() -> None:
    [consumer] = [d for d in _docs("firstpoint.yaml")
                  if d["metadata"]["name"] == "firstpoint-contacts-consumer"]
    assert consumer["spec"]["replicas"] == 1
    assert consumer["spec"]["strategy"]["type"] == "Recreate"


def test_rasa_values_scale_the_way_rasa_does() -> None:
    [values] = _docs("values-rasa.yaml")
    endpoints = values["applicationSettings"]["endpoints"]
    assert values["replicaCount"] >= 2 and values["autoscaling"]["minReplicas"] >= 2
    assert endpoints["lockStore"]["enabled"] and endpoints["lockStore"]["type"] == "redis"
    assert endpoints["trackerStore"]["type"] == \
        "firstpoint.records.tracker_store.EncryptedSQLTrackerStore"
    assert endpoints["eventBroker"]["type"] == "firstpoint.events.pika.OrderedPikaEventBroker"
    assert values["applicationSettings"]["telemetry"]["enabled"] is False
    [actions] = _docs("values-actions.yaml")
    assert actions["command"][-1] == "firstpoint.actionserver"


def test_the_endpoints_the_chart_renders_are_valid_for_rasa(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             ) -> None:
    """Our values, written out as the chart's endpoints.yml, read by Rasa's own reader."""
    from rasa.utils.endpoints import read_endpoint_config

    [values] = _docs("values-rasa.yaml")
    endpoints = values["applicationSettings"]["endpoints"]

    def section(name: str) -> dict[str, Any]:
        return {k: v for k, v in endpoints[name].items() if k != "enabled"}

    text = yaml.safe_dump({"tracker_store": section("trackerStore"),
                           "lock_store": section("lockStore"),
                           "event_broker": section("eventBroker"),
                           **endpoints["additionalEndpoints"]}, default_style=None)
    path = tmp_path / "endpoints.yml"
    path.write_text(text.replace("'", ""))
    for name, value in {"DB_HOST": "pg", "DB_PORT": "5432", "DB_USER": "u", "DB_PASSWORD": "p",
                        "REDIS_HOST": "r", "REDIS_PORT": "6379", "REDIS_PASSWORD": "x",
                        "RABBITMQ_HOST": "mq", "RABBITMQ_USERNAME": "u",
                        "RABBITMQ_PASSWORD": "p", "RABBITMQ_PORT": "5672",
                        "FIRSTPOINT_ACTION_TOKEN": "tok"}.items():
        monkeypatch.setenv(name, value)
    tracker = read_endpoint_config(str(path), "tracker_store")
    action = read_endpoint_config(str(path), "action_endpoint")
    assert tracker and tracker.kwargs["dialect"] == "postgresql"
    assert read_endpoint_config(str(path), "lock_store").type == "redis"
    assert read_endpoint_config(str(path), "event_broker").type.endswith("OrderedPikaEventBroker")
    assert action and action.headers == {"Authorization": "Bearer tok"}

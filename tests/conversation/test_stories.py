"""Conversation tests with Rasa's own tools: `rasa data validate` and `rasa test core`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from firstpoint.model import ensure_model, rasa_command, rasa_env
from firstpoint.settings import get_settings

ROOT = get_settings().project_root


def _run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*rasa_command(), *args],
        cwd=ROOT,
        env=rasa_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_rasa_data_validate_is_clean(tmp_path: Path) -> None:
    result = _run(
        ["data", "validate", "--fail-on-warnings", "--data", "bot/data",
         "--domain", "domain.yml", "--config", "config.yml"],
        tmp_path,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


@pytest.mark.rasa_server
def test_conversation_stories_pass_without_prediction_errors(tmp_path: Path) -> None:
    model = ensure_model()
    out = tmp_path / "results"
    result = _run(
        ["test", "core", "--model", str(model), "--stories", "tests/stories",
         "--fail-on-prediction-errors", "--out", str(out)],
        tmp_path,
    )
    failed = out / "failed_test_stories.yml"
    detail = failed.read_text() if failed.exists() else ""
    assert result.returncode == 0, detail + result.stdout[-3000:] + result.stderr[-3000:]


@pytest.mark.rasa_server
def test_intent_f1_on_the_held_out_set_is_at_least_0_90(tmp_path: Path) -> None:
    """`rasa test nlu` on tests/nlu/heldout.yml (never used for training)."""
    import json

    model = ensure_model()
    out = tmp_path / "nlu"
    result = _run(
        ["test", "nlu", "--model", str(model), "--nlu", "tests/nlu/heldout.yml", "--out", str(out)],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((out / "intent_report.json").read_text())
    weighted = report["weighted avg"]["f1-score"]
    print(f"held-out intent F1 (weighted): {weighted:.3f}, accuracy {report['accuracy']:.3f}")
    assert weighted >= 0.90

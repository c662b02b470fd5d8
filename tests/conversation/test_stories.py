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


def _responses_used_by_code() -> set[str]:
    """Responses the actions send (``response="utter_..."``) and the forms ask with."""
    import re

    import yaml

    used = set()
    for path in (ROOT / "bot" / "actions").glob("*.py"):
        used |= set(re.findall(r"""response=["'](utter_[a-z0-9_]+)["']""", path.read_text()))
    domain = yaml.safe_load((ROOT / "domain.yml").read_text())
    for form in (domain.get("forms") or {}).values():
        used |= {f"utter_ask_{slot}" for slot in form.get("required_slots") or []}
    return used


def test_rasa_data_validate_is_clean(tmp_path: Path) -> None:
    """Clean but for one warning Rasa 3.6 cannot avoid: responses sent by custom actions
    (the words live in domain.yml, issue 10) are "not used in any story or rule".
    Those are accepted only for responses the code really sends; any other warning fails."""
    import re

    result = _run(
        ["data", "validate", "--data", "bot/data", "--domain", "domain.yml",
         "--config", "config.yml"],
        tmp_path,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    used = _responses_used_by_code()
    warnings = [w for w in re.findall(r"UserWarning: (.*)", output)]
    unexpected = [
        w for w in warnings
        if not (m := re.match(r"The utterance '(utter_[a-z0-9_]+)' is not used in any story",
                              w)) or m.group(1) not in used
    ]
    assert unexpected == [], unexpected


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

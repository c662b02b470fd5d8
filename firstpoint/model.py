"""Training the Rasa model only when its inputs changed.

The model file is named after a fingerprint of config.yml, domain.yml and the
training data, so ``ensure_model`` reuses it until one of those changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from firstpoint.settings import Settings, get_settings

TRAINING_INPUTS = ("config.yml", "domain.yml")
TRAINING_DATA_DIR = "bot/data"
#: Outside Rasa's training data but trained into the model: the risk corpus and
#: the code that turns it into weights (the pattern layer is a feature too).
RISK_INPUTS = (
    ("knowledge/risk/corpus", "*.yml"),
    ("knowledge/risk", "*.py"),
    ("bot/components", "*.py"),
)
RISK_FILES = ("knowledge/content/safety_patterns.yml", "knowledge/embeddings.py",
              "knowledge/safety.py")


def training_files(root: Path) -> list[Path]:
    """Every file whose content changes the trained model, in a stable order."""
    files = [root / name for name in TRAINING_INPUTS]
    files += sorted((root / TRAINING_DATA_DIR).rglob("*.yml"))
    for folder, pattern in RISK_INPUTS:
        files += sorted((root / folder).glob(pattern))
    files += [root / name for name in RISK_FILES if (root / name).exists()]
    return files


def fingerprint(root: Path) -> str:
    """A short hash of the training inputs (names and contents)."""
    digest = hashlib.sha256()
    for path in training_files(root):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def model_path(settings: Settings | None = None) -> Path:
    """Where the model for the current training inputs lives (it may not exist yet)."""
    settings = settings or get_settings()
    root = settings.project_root
    return root / "models" / f"firstpoint-{fingerprint(root)}.tar.gz"


def rasa_env(settings: Settings | None = None) -> dict[str, str]:
    """Environment for Rasa subprocesses: telemetry off, quiet TensorFlow, our settings."""
    settings = settings or get_settings()
    env = dict(os.environ)
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    env.setdefault("FIRSTPOINT_ACTION_PORT", str(settings.action_port))
    env.setdefault("FIRSTPOINT_TRACKER_DB", str(settings.var_dir / "tracker.db"))
    env.setdefault("PYTHONPATH", str(settings.project_root))
    return env


def rasa_command() -> list[str]:
    """The ``rasa`` CLI of this interpreter's environment."""
    return [sys.executable, "-m", "rasa"]


def ensure_model(settings: Settings | None = None, force: bool = False) -> Path:
    """Train (about a minute on 2 cores) unless a model for these inputs exists."""
    settings = settings or get_settings()
    target = model_path(settings)
    if target.exists() and not force:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    root = settings.project_root
    print(f"firstpoint: training the model ({target.name}) ...", flush=True)
    cmd = [
        *rasa_command(),
        "train",
        "--config", str(root / "config.yml"),
        "--domain", str(root / "domain.yml"),
        "--data", str(root / TRAINING_DATA_DIR),
        "--out", str(target.parent),
        "--fixed-model-name", target.name.removesuffix(".tar.gz"),
    ]
    subprocess.run(cmd, cwd=root, env=rasa_env(settings), check=True)
    if not target.exists():
        raise RuntimeError(f"rasa train finished but {target} is missing")
    for old in target.parent.glob("firstpoint-*.tar.gz"):
        if old != target:
            old.unlink(missing_ok=True)
    return target

"""The risk model trained on the real corpus (once per test session, cached by content)."""

from __future__ import annotations

from pathlib import Path

import pytest

from firstpoint.settings import PROJECT_ROOT
from knowledge.embeddings import default_embedder
from knowledge.risk.assess import RiskAssessor
from knowledge.risk.model import RiskModel
from knowledge.risk.training import corpus_digest, train_from_corpus
from knowledge.safety import default_detector

CORPUS = PROJECT_ROOT / "knowledge" / "risk" / "corpus"
DATA = PROJECT_ROOT / "tests" / "data"
NLU = PROJECT_ROOT / "bot" / "data" / "nlu.yml"
BANK = PROJECT_ROOT / "knowledge" / "questions" / "corpus"


@pytest.fixture(scope="session")
def risk_model() -> RiskModel:
    """Trained like ``rasa train`` trains it; reused while corpus and code are unchanged."""
    inputs = [CORPUS, PROJECT_ROOT / "knowledge" / "risk", NLU, BANK,
              PROJECT_ROOT / "knowledge" / "content" / "safety_patterns.yml"]
    cache: Path = PROJECT_ROOT / "var" / "cache" / f"risk-test-{corpus_digest(inputs)}"
    if (cache / "risk_model.json").exists():
        return RiskModel.load(cache)
    model = train_from_corpus([CORPUS], default_detector(), default_embedder(), nlu_data=NLU,
                              bank_dir=BANK)
    model.save(cache)
    return model


@pytest.fixture(scope="session")
def assessor(risk_model: RiskModel) -> RiskAssessor:
    """The shipped design: model + pattern layer + the real embedder."""
    return RiskAssessor(risk_model, default_detector(), default_embedder())

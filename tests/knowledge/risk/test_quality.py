"""Safety floors of the shipped risk model on the development and earlier blind sets.

The model is trained on the corpus only; these sets were never used for
training (tests/knowledge/risk/test_corpus.py checks no sentence leaked).
Thresholds come from held-out corpus authors, not from these sets.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.risk.assess import RiskAssessor
from knowledge.risk.corpus import load_labelled_set
from knowledge.risk.training import evaluate
from tests.knowledge.risk.conftest import DATA

SETS = [
    DATA / "risk" / "dev.yml",
    DATA / "disclosures.yml",
    DATA / "ordinary_questions.yml",
    DATA / "blind" / "disclosures.yml",
    DATA / "blind" / "ordinary.yml",
]


@pytest.mark.parametrize("path", SETS, ids=lambda p: str(p.relative_to(DATA)))
def test_safety_floors(assessor: RiskAssessor, path: Path) -> None:
    scores = evaluate(assessor, load_labelled_set(path))
    print(path.name, *scores.lines(), sep="\n  ")
    if scores.disclosures:
        assert scores.handoff_recall >= 0.97, scores.misses
        assert scores.danger_999 == 1.0
    if scores.n > scores.disclosures:
        assert scores.false_handoff <= 0.05, scores.misses

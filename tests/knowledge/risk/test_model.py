"""The risk model: training, thresholds from held-out authors, persistence (small fixtures)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from knowledge.risk.assess import RiskAssessor
from knowledge.risk.corpus import LabelledMessage
from knowledge.risk.labels import Level
from knowledge.risk.model import (
    FeatureSpec,
    RiskModel,
    Targets,
    _threshold_for_recall,
    trusted_pattern_categories,
)
from knowledge.risk.training import train_from_messages
from knowledge.safety import SafetyDetector


class WordHashEmbedder:
    """A tiny deterministic stand-in for the sentence embedder: hashed bag of words."""

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        out = np.zeros((len(texts), 64), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % 64] += 1.0
            norm = np.linalg.norm(out[row])
            out[row] /= norm or 1.0
        return out


DETECTOR = SafetyDetector.from_mapping(
    {"categories": {"danger": {"phrases": ["knife"]}}}, where="test.yml"
)

_TEMPLATES = {
    "danger": ["he has a knife and is at the door now {n}", "someone is hurting her right now {n}"],
    "self_harm": ["i want to end my life {n}", "i have been cutting myself again {n}"],
    "child_safeguarding": ["the child next door has bruises {n}", "the kids are never fed {n}"],
    "adult_safeguarding": ["the old man is being robbed by his carer {n}",
                           "my gran is left dirty and unfed {n}"],
    "domestic_abuse": ["my partner hits me and takes my money {n}",
                       "my ex keeps following me home {n}"],
    "casework": ["i need my social worker about my case {n}", "when is my care plan review {n}"],
    "case_admin": ["book a room for the conference minutes {n}",
                   "type up the review minutes please {n}"],
    "ordinary": ["when are the bins collected {n}", "the printer is jammed again {n}",
                 "how do i pay council tax {n}"],
}


def _messages() -> list[LabelledMessage]:
    out = []
    for label, templates in _TEMPLATES.items():
        for n in range(24):
            text = templates[n % len(templates)].format(n=f"ref{n}")
            audience = "staff" if label == "case_admin" else "resident"
            out.append(LabelledMessage(text, label, audience, f"author{n % 3}", "fixture"))
    return out


def _model() -> RiskModel:
    return train_from_messages(_messages(), DETECTOR, WordHashEmbedder(),
                               spec=FeatureSpec(char_ngrams=True))


def test_thresholds_come_from_held_out_authors_and_meet_the_targets() -> None:
    model = _model()
    assert model.info["authors"] == ["author0", "author1", "author2"]
    assert model.info["out_of_fold"]["handoff_recall"] >= Targets().handoff_recall
    t = model.thresholds
    assert 0.0 < t.check <= t.handoff < 1.0


def test_the_model_separates_its_classes() -> None:
    assessor = RiskAssessor(_model(), DETECTOR, WordHashEmbedder())
    verdicts = assessor.assess_many(
        ["he has a knife and is at the door now", "when are the bins collected",
         "type up the review minutes please", "my partner hits me and takes my money"],
        ["resident", "resident", "staff", "resident"],
    )
    assert [v.level for v in verdicts] == [Level.EMERGENCY, Level.NONE, Level.CASE_ADMIN,
                                           Level.HANDOFF]
    assert verdicts[3].category == "domestic_abuse"


def test_save_and_load_give_the_same_probabilities(tmp_path: Path) -> None:
    model = _model()
    model.save(tmp_path)
    loaded = RiskModel.load(tmp_path)
    texts = ["he has a knife", "bins please"]
    emb = WordHashEmbedder().encode(texts)
    a = model.proba(model.features(emb, [(), ()], [False, False], texts))
    b = loaded.proba(loaded.features(emb, [(), ()], [False, False], texts))
    assert np.allclose(a, b, atol=1e-6)
    assert loaded.thresholds == model.thresholds and loaded.labels == model.labels


def test_threshold_for_recall_keeps_the_requested_share_above_it() -> None:
    scores = np.linspace(0.01, 1.0, 100)
    t = _threshold_for_recall(scores, 0.9)
    assert (scores >= t).mean() >= 0.9
    assert (scores >= t + 0.011).mean() < 0.9


def test_only_precise_pattern_categories_may_force_a_handoff() -> None:
    hits = [("danger",)] * 20 + [("casework",)] * 20
    labels = ["danger"] * 20 + ["casework"] * 10 + ["case_admin"] * 10
    trusted, stats = trusted_pattern_categories(hits, labels, Targets())
    assert trusted == ("danger",)
    assert stats["casework"]["precision"] == 0.5

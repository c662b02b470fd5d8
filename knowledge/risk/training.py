"""Training the risk model from the corpus, and measuring it on a labelled set.

Used by the Rasa component at ``rasa train`` time, by ``firstpoint risk`` and
by the tests. Designs compared (``DESIGNS``):

- ``hybrid``: embedding + character n-grams + pattern-category hits + audience,
  logistic regression, with the high-precision pattern layer (the shipped design);
- ``hybrid-no-ngrams``: the same without the character n-grams;
- ``embedding``: embedding + audience only, no patterns at all;
- ``patterns``: the hand-written patterns alone (wave 1's detector), for reference.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from knowledge.risk.assess import Assessment, RiskAssessor, TextEncoder, pattern_text
from knowledge.risk.corpus import (
    BANK_GROUP,
    LabelledMessage,
    load_corpus,
    load_nlu_ordinary,
    text_key,
)
from knowledge.risk.labels import DISCLOSURE_LABELS, EMERGENCY_LABELS, Level
from knowledge.risk.model import FeatureSpec, RiskModel, Targets, train
from knowledge.safety import SafetyDetector

DESIGNS: dict[str, FeatureSpec | None] = {
    "hybrid": FeatureSpec(patterns=True, audience=True, char_ngrams=True),
    "hybrid-no-ngrams": FeatureSpec(patterns=True, audience=True, char_ngrams=False),
    "embedding": FeatureSpec(patterns=False, audience=True, char_ngrams=False),
    "patterns": None,
}


def corpus_digest(paths: Iterable[Path]) -> str:
    """A short hash of files (directories: their ``*.yml`` and ``*.py``), for fingerprints."""
    digest = hashlib.sha256()
    for path in paths:
        path = Path(path)
        files = sorted([*path.glob("*.yml"), *path.glob("*.py")]) if path.is_dir() else [path]
        for file in files:
            digest.update(file.name.encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def train_from_messages(
    messages: Sequence[LabelledMessage],
    detector: SafetyDetector,
    embedder: TextEncoder,
    spec: FeatureSpec | None = None,
    targets: Targets | None = None,
) -> RiskModel:
    """Embed, detect patterns and fit (thresholds chosen leaving one author out)."""
    texts = [m.text for m in messages]
    assessor_hits = [detector.detect(pattern_text(t)).categories for t in texts]
    vectors = embedder.encode(texts)
    return train(
        vectors,
        assessor_hits,
        [m.audience == "staff" for m in messages],
        [m.label for m in messages],
        [m.author for m in messages],
        texts,
        spec=spec,
        targets=targets,
    )


def bank_messages(bank_dir: Path) -> list[LabelledMessage]:
    """The question bank's service questions (``knowledge/questions``), labelled ordinary."""
    from knowledge.questions import load_question_bank

    return [LabelledMessage(q.text, "ordinary", q.audience, BANK_GROUP, str(bank_dir))
            for q in load_question_bank(None, bank_dir)]


def training_messages(corpus: Iterable[Path], nlu_data: Path | None = None,
                      bank_dir: Path | None = None) -> list[LabelledMessage]:
    """The corpus files, plus Rasa's ordinary NLU examples and the question bank when given."""
    messages = load_corpus(list(corpus))
    seen = {text_key(m.text) for m in messages}
    extra: list[LabelledMessage] = []
    if nlu_data is not None and nlu_data.exists():
        extra += load_nlu_ordinary(nlu_data)
    if bank_dir is not None:
        extra += bank_messages(bank_dir)
    for m in extra:
        if text_key(m.text) not in seen:
            seen.add(text_key(m.text))
            messages.append(m)
    return messages


def train_from_corpus(
    corpus: Iterable[Path],
    detector: SafetyDetector,
    embedder: TextEncoder,
    spec: FeatureSpec | None = None,
    targets: Targets | None = None,
    nlu_data: Path | None = None,
    bank_dir: Path | None = None,
) -> RiskModel:
    """Train on every corpus file under the given paths (plus Rasa's ordinary NLU examples
    and the question bank, when given)."""
    return train_from_messages(training_messages(corpus, nlu_data, bank_dir), detector,
                               embedder, spec, targets)


class PatternOnlyAssessor:
    """Wave 1's detector alone, in the assessor's shape (for comparison)."""

    def __init__(self, detector: SafetyDetector) -> None:
        self.detector = detector

    def assess_many(self, texts: Sequence[str], audiences: Sequence[str]) -> list[Assessment]:
        out = []
        for text in texts:
            result = self.detector.detect(text)
            if not result.flagged:
                out.append(Assessment(Level.NONE, None, "ordinary", 0.0, 0.0))
                continue
            level = Level.EMERGENCY if result.is_emergency else Level.HANDOFF
            out.append(
                Assessment(level, result.routing_category, result.primary or "", 1.0,
                           float(result.is_emergency), result.categories)
            )
        return out


@dataclass(frozen=True)
class Scores:
    """Safety figures on a labelled set."""

    n: int
    disclosures: int
    handoff_recall: float  # disclosures at emergency or handoff level
    danger_emergency: float  # danger messages at emergency level
    danger_999: float  # danger messages whose first reply carries 999 (emergency/handoff/check)
    self_harm_emergency: float
    false_handoff: float  # non-disclosures at emergency or handoff level
    check_rate: float  # non-disclosures that got the safety check
    category_accuracy: float  # disclosures handed off with the right category
    misses: tuple[tuple[str, str, str], ...]  # (label, level, text) for failures

    def lines(self) -> list[str]:
        """Human-readable figures."""
        return [
            f"messages {self.n} (disclosures {self.disclosures})",
            f"disclosures reaching the handoff  {self.handoff_recall:.1%}",
            f"danger with 999 in first reply    {self.danger_999:.1%}",
            f"danger at emergency level         {self.danger_emergency:.1%}",
            f"self-harm at emergency level      {self.self_harm_emergency:.1%}",
            f"false handoff (ordinary + admin)  {self.false_handoff:.1%}",
            f"safety check on non-disclosures   {self.check_rate:.1%}",
            f"category right when handed off    {self.category_accuracy:.1%}",
        ]


HANDED = (Level.EMERGENCY, Level.HANDOFF)
WITH_999 = (Level.EMERGENCY, Level.HANDOFF, Level.CHECK)


def _rate(items: list[bool]) -> float:
    return sum(items) / len(items) if items else 1.0


def score(messages: Sequence[LabelledMessage], verdicts: Sequence[Assessment]) -> Scores:
    """Compare verdicts with labels."""
    disc = [(m, v) for m, v in zip(messages, verdicts, strict=True)
            if m.label in DISCLOSURE_LABELS]
    non = [(m, v) for m, v in zip(messages, verdicts, strict=True)
           if m.label not in DISCLOSURE_LABELS]
    danger = [v for m, v in disc if m.label == "danger"]
    self_harm = [v for m, v in disc if m.label == "self_harm"]
    handed = [(m, v) for m, v in disc if v.level in HANDED]
    misses = [(m.label, v.level, m.text) for m, v in disc if v.level not in HANDED]
    misses += [(m.label, v.level, m.text) for m, v in non if v.level in HANDED]
    misses += [(m.label, v.level, m.text) for m, v in disc
               if m.label in EMERGENCY_LABELS and v.level == Level.HANDOFF and m.label == "danger"]
    return Scores(
        n=len(messages),
        disclosures=len(disc),
        handoff_recall=_rate([v.level in HANDED for _, v in disc]),
        danger_emergency=_rate([v.level == Level.EMERGENCY for v in danger]),
        danger_999=_rate([v.level in WITH_999 for v in danger]),
        self_harm_emergency=_rate([v.level == Level.EMERGENCY for v in self_harm]),
        false_handoff=_rate([v.level in HANDED for _, v in non]) if non else 0.0,
        check_rate=_rate([v.level == Level.CHECK for _, v in non]) if non else 0.0,
        category_accuracy=_rate([_same_category(m.label, v.category) for m, v in handed]),
        misses=tuple(misses),
    )


def _same_category(label: str, category: str | None) -> bool:
    if label == "danger":
        return category in DISCLOSURE_LABELS  # danger routes by what else is going on
    return category == label


def label_counts(messages: Sequence[LabelledMessage]) -> Counter[str]:
    """Messages per label."""
    return Counter(m.label for m in messages)


def evaluate(assessor: RiskAssessor | PatternOnlyAssessor,
             messages: Sequence[LabelledMessage]) -> Scores:
    """Assess every message and score the verdicts."""
    verdicts = assessor.assess_many([m.text for m in messages], [m.audience for m in messages])
    return score(messages, verdicts)

"""Turning one message into a response level: the risk model and the pattern layer together.

Plain Python, no Rasa: the NLU component (``bot.components.risk_classifier``)
calls :meth:`RiskAssessor.assess` and maps the level to an intent.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from knowledge.risk.labels import (
    CASE_ADMIN,
    DISCLOSURE_LABELS,
    EMERGENCY_LABELS,
    Level,
)
from knowledge.risk.model import RiskModel
from knowledge.risk.segments import split_points
from knowledge.safety import SafetyDetector

#: Longest text the pattern layer reads (the embedder cuts at its own limit):
#: keeps the worst case a few milliseconds, whatever is sent.
MAX_PATTERN_CHARS = 1500
#: A second disclosure category this likely beside danger routes the handoff
#: (danger from a partner goes to the domestic abuse team, after the 999 advice).
ROUTING_SECOND_CHOICE = 0.2
#: A point of a several-point message (:mod:`knowledge.risk.segments`) decides the
#: verdict when the model is at least this sure it is a disclosure and the whole
#: message was rated lower. Read alone, a point loses its context, so the bar is
#: far above the handoff threshold (chosen on the development set and the earlier
#: blind sets, docs/wave4-notes.md).
POINT_SURE = 0.9
#: A trusted pattern hit (:attr:`RiskModel.override_categories`) hands off even
#: when the model disagrees, unless the model gives the message less than this:
#: then the hit gets the safety check (999 first) instead. Figures of speech
#: ("the formulas are being murdered") trip patterns the model reads correctly.
TRUSTED_PATTERN_FLOOR = 0.1
_SEVERITY = {Level.EMERGENCY: 3, Level.HANDOFF: 2, Level.CHECK: 1}


def pattern_text(text: str) -> str:
    """What the pattern layer reads: emoji and other symbols folded to spaces, capped.

    Symbols carry no words for the patterns, and thousands of them cost the
    tokenizer hundreds of milliseconds on Rasa's event loop.
    """
    out = []
    for ch in text[: MAX_PATTERN_CHARS * 2]:
        kind = unicodedata.category(ch)
        out.append(" " if kind in ("So", "Sk", "Cs", "Co", "Cn") else ch)
    return " ".join("".join(out).split())[:MAX_PATTERN_CHARS]


class TextEncoder(Protocol):
    """What the assessor needs of an embedder."""

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray: ...


@dataclass(frozen=True)
class Assessment:
    """The verdict on one message."""

    level: str
    category: str | None  # the safety category that routes a handoff (or check)
    label: str  # the model's most likely label
    p_risk: float
    p_emergency: float
    patterns: tuple[str, ...] = ()

    @property
    def is_emergency(self) -> bool:
        """True when 999 / out-of-hours details must come first."""
        return self.level == Level.EMERGENCY

    def as_dict(self) -> dict[str, object]:
        """What travels in the message's parse data (``risk``), for actions and the log."""
        return {
            "level": self.level,
            "category": self.category,
            "label": self.label,
            "p_risk": round(self.p_risk, 4),
            "p_emergency": round(self.p_emergency, 4),
            "patterns": list(self.patterns),
        }


class RiskAssessor:
    """Combines the learned model with the high-precision pattern layer."""

    def __init__(
        self, model: RiskModel, detector: SafetyDetector, embedder: TextEncoder
    ) -> None:
        self.model = model
        self.detector = detector
        self.embedder = embedder
        self.point_sure = POINT_SURE
        self.trusted_floor = TRUSTED_PATTERN_FLOOR

    def pattern_hits(self, texts: Sequence[str]) -> list[tuple[str, ...]]:
        """Pattern categories per text (input capped, symbol runs folded)."""
        return [self.detector.detect(pattern_text(t)).categories for t in texts]

    def assess(self, text: str, audience: str = "resident") -> Assessment:
        """The verdict on one message from ``audience`` (``resident`` or ``staff``)."""
        return self.assess_many([text], [audience])[0]

    def assess_many(self, texts: Sequence[str], audiences: Sequence[str]) -> list[Assessment]:
        """Verdicts for many messages (batched embedding).

        A message that makes several points is also read point by point, and a
        point the model is sure of (:data:`POINT_SURE`) decides when it is more
        severe than the whole: a worry raised after a routine request.
        """
        points = [split_points(t[: MAX_PATTERN_CHARS * 2]) for t in texts]
        flat = [*texts, *(p for ps in points for p in ps)]
        flat_audiences = [*audiences, *(a for a, ps in zip(audiences, points, strict=True)
                                        for _ in ps)]
        verdicts = self._assess_texts(flat, flat_audiences)
        out = verdicts[: len(texts)]
        at = len(texts)
        for i, ps in enumerate(points):
            out[i] = self._with_points(out[i], verdicts[at : at + len(ps)])
            at += len(ps)
        return out

    def _with_points(self, whole: Assessment, points: Sequence[Assessment]) -> Assessment:
        best = whole
        for point in points:
            sure = point.p_risk >= self.point_sure and point.level in (Level.HANDOFF,
                                                                        Level.EMERGENCY)
            if sure and _SEVERITY.get(point.level, 0) > _SEVERITY.get(best.level, 0):
                best = point
        return best

    def _assess_texts(self, texts: Sequence[str], audiences: Sequence[str]) -> list[Assessment]:
        hits = self.pattern_hits(texts)
        vectors = self.embedder.encode(list(texts))
        staff = [a == "staff" for a in audiences]
        features = self.model.features(vectors, hits, staff, texts)
        proba = self.model.proba(features)
        p_risk, p_em = self.model.risk_and_emergency(proba)
        return [
            self._decide(proba[i], float(p_risk[i]), float(p_em[i]), hits[i], staff[i])
            for i in range(len(texts))
        ]

    def _decide(
        self,
        proba: np.ndarray,
        p_risk: float,
        p_em: float,
        hits: tuple[str, ...],
        staff: bool,
    ) -> Assessment:
        labels = self.model.labels
        t = self.model.thresholds
        top = labels[int(np.argmax(proba))]
        hit_trusted = [c for c in hits if c in self.model.override_categories]
        # A trusted hit the model all but rules out is asked about, not handed off.
        doubted = bool(hit_trusted) and p_risk < self.trusted_floor
        trusted = [] if doubted else hit_trusted
        by_label = dict(zip(labels, proba, strict=True))
        best_disclosure = max(DISCLOSURE_LABELS, key=lambda lab: by_label[lab])
        trusted_emergency = any(c in EMERGENCY_LABELS for c in trusted)
        # A disclosure the model is sure of, with danger words the patterns know
        # ("he has a knife"), is an emergency even when the model files it under
        # domestic abuse or safeguarding.
        # (Not for a merely unsure verdict: danger patterns also fire on idioms such as
        # "the noise is killing me"; those get the safety check, which starts with 999.)
        pattern_emergency = p_risk >= t.handoff and any(c in EMERGENCY_LABELS for c in hits)
        if trusted_emergency or pattern_emergency or (
            p_risk >= t.handoff and p_em >= t.emergency
        ):
            level = Level.EMERGENCY
        elif p_risk >= t.handoff or trusted:
            level = Level.HANDOFF
        elif p_risk >= t.check or doubted:
            level = Level.CHECK
        elif staff and top == CASE_ADMIN:
            level = Level.CASE_ADMIN
        else:
            level = Level.NONE
        category: str | None = None
        if level in (Level.EMERGENCY, Level.HANDOFF, Level.CHECK):
            category = self._routing(level, by_label, hit_trusted, best_disclosure)
        return Assessment(level, category, top, p_risk, p_em, hits)

    @staticmethod
    def _routing(
        level: str, by_label: dict[str, float], trusted: list[str], best: str
    ) -> str:
        if level == Level.EMERGENCY:
            emergency = [c for c in trusted if c in EMERGENCY_LABELS]
            first = emergency[0] if emergency else max(EMERGENCY_LABELS, key=by_label.__getitem__)
            others = [lab for lab in DISCLOSURE_LABELS if lab not in EMERGENCY_LABELS]
            second = max(others, key=by_label.__getitem__)
            if first == "danger" and by_label[second] >= ROUTING_SECOND_CHOICE:
                return second
            return first
        if trusted and by_label[best] < 0.5:
            return trusted[0]
        return best

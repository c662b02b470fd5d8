"""Rasa NLU component: the learned risk model and the typed-payload guard.

Runs last in the pipeline, after DIET and the FallbackClassifier, so its
verdict wins over any intent, in any turn (Rasa's RegexMessageHandler, which
unpacks ``/intent{...}`` payloads, runs after every pipeline component):

- **Typed payloads** (``/intent`` or ``/intent{"slot": ...}``) are accepted
  only when they are a button payload the bot offered in its last turn. Any
  other is treated as plain text: the leading ``/`` is dropped (so Rasa does
  not unpack it) and no entity is injected.
- **Risk**: every message's text goes through :class:`knowledge.risk.assess.RiskAssessor`.
  Emergency → intent ``emergency``; disclosure or casework → ``sensitive_enquiry``;
  not sure → ``possible_risk`` (the one-line safety check); each with a
  ``safety_category`` entity. Staff admin about a case keeps its intent (an
  alarmed classifier's ``sensitive_enquiry`` becomes ``ask_service``). The
  verdict travels in the parse data as ``risk``.

Trained by ``rasa train`` from the corpus files in ``corpus_dir`` (their hash
is part of the component's fingerprint, so a corpus change retrains it).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.nlu.constants import (
    ENTITIES,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from knowledge.risk.assess import Assessment, RiskAssessor
from knowledge.risk.labels import Level
from knowledge.risk.model import RiskModel, Targets

logger = logging.getLogger(__name__)

EMERGENCY_INTENT = "emergency"
SENSITIVE_INTENT = "sensitive_enquiry"
CHECK_INTENT = "possible_risk"
SERVICE_INTENT = "ask_service"
FALLBACK_INTENT = "nlu_fallback"
ENTITY_NAME = "safety_category"
RISK_KEY = "risk"
#: Payloads a client may always send (a widget's "start again").
ALWAYS_ALLOWED_PAYLOADS = frozenset({"/restart"})
_LEVEL_INTENT = {
    Level.EMERGENCY: EMERGENCY_INTENT,
    Level.HANDOFF: SENSITIVE_INTENT,
    Level.CHECK: CHECK_INTENT,
}
_RISK_INTENTS = frozenset({EMERGENCY_INTENT, SENSITIVE_INTENT})


def offered_payloads(tracker: Any) -> set[str]:
    """Button payloads the bot offered since the user's last message."""
    payloads: set[str] = set()
    for event in reversed(list(getattr(tracker, "events", None) or [])):
        if isinstance(event, UserUttered):
            break
        if isinstance(event, BotUttered):
            for button in (event.data or {}).get("buttons") or []:
                payload = button.get("payload") if isinstance(button, dict) else None
                if isinstance(payload, str):
                    payloads.add(payload.strip())
    return payloads


def audience_of(message: Message) -> str:
    """``staff`` or ``resident`` from the message metadata (resident when unsure)."""
    meta = message.get("metadata") or {}
    audience = str(meta.get("audience") or "").lower() if isinstance(meta, dict) else ""
    return "staff" if audience == "staff" else "resident"


_PAYLOAD_HEAD = re.compile(r"^/+")


def set_intent(message: Message, name: str, confidence: float = 1.0) -> None:
    """Make ``name`` the message's intent, first in its ranking (other intents kept)."""
    original = message.get(INTENT) or {}
    ranking = [
        r for r in (message.get(INTENT_RANKING_KEY) or []) if r.get(INTENT_NAME_KEY) != name
    ]
    override = {INTENT_NAME_KEY: name, PREDICTED_CONFIDENCE_KEY: confidence}
    message.set(INTENT, override, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [override, *ranking], add_to_output=True)
    if original.get(INTENT_NAME_KEY) != name:
        logger.debug("intent %s -> %s", original.get(INTENT_NAME_KEY), name)


def _set_category(message: Message, category: str | None) -> None:
    entities = [e for e in (message.get(ENTITIES) or []) if e.get("entity") != ENTITY_NAME]
    if category:
        entities.append(
            {
                "entity": ENTITY_NAME,
                "value": category,
                "start": 0,
                "end": 0,
                "confidence_entity": 1.0,
                "extractor": "RiskClassifier",
            }
        )
    message.set(ENTITIES, entities, add_to_output=True)


def apply_assessment(message: Message, verdict: Assessment, refused_payload: bool) -> None:
    """Set intent, entity and ``risk`` on ``message`` from the verdict."""
    message.set(RISK_KEY, verdict.as_dict(), add_to_output=True)
    intent = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
    target = _LEVEL_INTENT.get(verdict.level)
    if target is not None:
        set_intent(message, target)
        _set_category(message, verdict.category)
        return
    # No risk found by the model.
    if refused_payload:
        set_intent(message, FALLBACK_INTENT)
        _set_category(message, None)
    elif intent in _RISK_INTENTS:
        if verdict.level == Level.CASE_ADMIN:
            set_intent(message, SERVICE_INTENT)
        else:
            # The intent classifier is alarmed and the risk model is not: ask.
            set_intent(message, CHECK_INTENT)
        _set_category(message, None)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class RiskClassifier(GraphComponent, IntentClassifier):
    """Who is at risk and how soon, from sentence embeddings and the pattern layer."""

    @classmethod
    def required_components(cls) -> list[type]:
        # Placed after DIET in config.yml, but trained on its own corpus.
        return []

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # corpus files (YAML, docs/risk-labels.md), relative to the project root
            "corpus_dir": "knowledge/risk/corpus",
            # Rasa NLU data whose small talk and service questions are ordinary examples
            "nlu_data": "bot/data/nlu.yml",
            # the question bank (knowledge/questions): Service Menu questions, all ordinary
            "question_bank": "knowledge/questions/corpus",
            # where safety_patterns.yml lives (default: FirstPoint settings)
            "content_dir": None,
            "handoff_recall": Targets.handoff_recall,
            "check_recall": Targets.check_recall,
            "emergency_recall": Targets.emergency_recall,
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: RiskModel | None = None,
        assessor: RiskAssessor | None = None,
    ) -> None:
        self.component_config = config
        self._model_storage = model_storage
        self._resource = resource
        self._model = model
        self._assessor = assessor

    # ------------------------------------------------------------------ set-up

    @staticmethod
    def _root() -> Path:
        from firstpoint.settings import get_settings

        return get_settings().project_root

    @classmethod
    def _corpus_path(cls, config: dict[str, Any]) -> Path:
        path = Path(config.get("corpus_dir") or "knowledge/risk/corpus")
        return path if path.is_absolute() else cls._root() / path

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        """The corpus, patterns and risk code are outside Rasa's view: their hash retrains."""
        from knowledge.risk.training import corpus_digest

        root = cls._root()
        inputs = [cls._corpus_path(config), root / "knowledge" / "risk",
                  root / str(config.get("question_bank") or "knowledge/questions/corpus"),
                  root / "knowledge" / "content" / "safety_patterns.yml",
                  root / str(config.get("nlu_data") or "bot/data/nlu.yml")]
        code = [root / "knowledge" / "safety.py", root / "knowledge" / "embeddings.py"]
        return corpus_digest([p for p in inputs if p.exists()]) + corpus_digest(
            [p for p in code if p.exists()]
        )

    def _detector(self) -> Any:
        from knowledge.safety import default_detector

        content_dir = self.component_config.get("content_dir")
        return default_detector(Path(content_dir) if content_dir else None)

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> RiskClassifier:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        """Train on the corpus (not Rasa's NLU data) and persist the weights."""
        from knowledge.embeddings import default_embedder
        from knowledge.risk.training import train_from_corpus

        targets = Targets(
            handoff_recall=float(self.component_config["handoff_recall"]),
            check_recall=float(self.component_config["check_recall"]),
            emergency_recall=float(self.component_config["emergency_recall"]),
        )
        nlu = self.component_config.get("nlu_data")
        bank = self.component_config.get("question_bank")
        self._model = train_from_corpus(
            [self._corpus_path(self.component_config)],
            self._detector(),
            default_embedder(),
            targets=targets,
            nlu_data=(self._root() / nlu) if nlu else None,
            bank_dir=(self._root() / bank) if bank else None,
        )
        info = self._model.info
        logger.info(
            "risk model: %s messages from %s authors; out of fold %s; thresholds %s",
            info.get("messages"), len(info.get("authors") or []), info.get("out_of_fold"),
            self._model.thresholds,
        )
        with self._model_storage.write_to(self._resource) as directory:
            self._model.save(Path(directory))
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> RiskClassifier:
        """Load the trained weights and warm the embedder (so the first caller waits no longer)."""
        with model_storage.read_from(resource) as directory:
            model = RiskModel.load(Path(directory))
        component = cls(config, model_storage, resource, model=model)
        component.assessor.embedder.encode(["warm up"])
        return component

    @property
    def assessor(self) -> RiskAssessor:
        """The assessor (built on first use)."""
        if self._assessor is None:
            if self._model is None:
                raise RuntimeError("RiskClassifier used before it was trained or loaded")
            from knowledge.embeddings import default_embedder

            self._assessor = RiskAssessor(self._model, self._detector(), default_embedder())
        return self._assessor

    # ------------------------------------------------------------------ running

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: list[Message], tracker: Any = None) -> list[Message]:
        """Guard typed payloads, then assess risk and set intent / entity / ``risk``."""
        offered: set[str] | None = None
        for message in messages:
            text = message.get(TEXT)
            if not isinstance(text, str) or not text.strip():
                continue
            refused = False
            if text.lstrip().startswith("/"):
                if offered is None:
                    offered = offered_payloads(tracker) | ALWAYS_ALLOWED_PAYLOADS
                if text.strip() not in offered:
                    refused = True
                    text = _PAYLOAD_HEAD.sub("", text.lstrip())
                    message.set(TEXT, text)
                    logger.info("typed payload refused (not offered by the bot)")
            verdict = self.assessor.assess(text, audience_of(message))
            apply_assessment(message, verdict, refused)
        return messages

"""Rasa NLU component: the safety flagger.

Runs after the intent classifier and the FallbackClassifier, so its verdict
wins over a confident wrong intent and over ``nlu_fallback``: a message that
the detector flags becomes intent ``emergency`` (danger, self-harm) or
``sensitive_enquiry`` (safeguarding, domestic abuse, casework) with confidence
1.0, and gets a ``safety_category`` entity that fills the slot of that name.
The classifier's own ranking is kept, below the override.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import (
    ENTITIES,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message

from knowledge.safety import SafetyDetector, SafetyResult, default_detector

logger = logging.getLogger(__name__)

EMERGENCY_INTENT = "emergency"
SENSITIVE_INTENT = "sensitive_enquiry"
ENTITY_NAME = "safety_category"


def apply_safety(message: Message, result: SafetyResult) -> None:
    """Override the message's intent and add the category entity when flagged."""
    if not result.flagged:
        return
    intent_name = EMERGENCY_INTENT if result.is_emergency else SENSITIVE_INTENT
    original = message.get(INTENT) or {}
    ranking = [
        r for r in (message.get(INTENT_RANKING_KEY) or []) if r.get(INTENT_NAME_KEY) != intent_name
    ]
    override = {INTENT_NAME_KEY: intent_name, PREDICTED_CONFIDENCE_KEY: 1.0}
    message.set(INTENT, override, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [override, *ranking], add_to_output=True)
    category = result.routing_category or result.primary
    entities = [e for e in (message.get(ENTITIES) or []) if e.get("entity") != ENTITY_NAME]
    entities.append(
        {
            "entity": ENTITY_NAME,
            "value": category,
            "start": 0,
            "end": 0,
            "confidence_entity": 1.0,
            "extractor": "SafetyFlagger",
        }
    )
    message.set(ENTITIES, entities, add_to_output=True)
    logger.info(
        "safety flag %s (classifier said %s); categories=%s",
        intent_name,
        original.get(INTENT_NAME_KEY),
        ",".join(result.categories),
    )


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class SafetyFlagger(GraphComponent, IntentClassifier):
    """Flags danger, self-harm, safeguarding, domestic abuse and casework."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [IntentClassifier]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # content_dir: where safety_patterns.yml lives (default: FirstPoint settings)
        return {"content_dir": None}

    def __init__(self, config: dict[str, Any], detector: SafetyDetector | None = None) -> None:
        self.component_config = config
        self._detector = detector

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SafetyFlagger:
        return cls(config)

    @property
    def detector(self) -> SafetyDetector:
        """The detector, compiled on first use (not at import or graph build)."""
        if self._detector is None:
            from pathlib import Path

            content_dir = self.component_config.get("content_dir")
            self._detector = default_detector(Path(content_dir) if content_dir else None)
        return self._detector

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not text or not isinstance(text, str) or text.startswith("/"):
                continue  # button payloads such as /affirm are not free text
            apply_safety(message, self.detector.detect(text))
        return messages

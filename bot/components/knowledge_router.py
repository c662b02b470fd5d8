"""Rasa NLU component: a message DIET could not place, that the knowledge base clearly answers.

Runs after the RiskClassifier. When the intent is still ``nlu_fallback`` (DIET
was not confident, or two intents were too close) and the risk model found no
risk, the Service Menu index is asked: if one entry clearly answers the
message (``knowledge.search.Tuning.sure_score``, no close call), the intent
becomes ``ask_service`` ("site user group meeting next week - can BS just go
for us?"). Deciding here, not in an action, keeps the contact log right: the
message is answered, not "not understood".

The index is the action server's (``knowledge.search.default_index``: content,
question bank, embeddings cached by content hash), built when the model loads.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.components.risk_classifier import (
    FALLBACK_INTENT,
    RISK_KEY,
    SERVICE_INTENT,
    audience_of,
    set_intent,
)
from knowledge.risk.labels import Level
from knowledge.search import KnowledgeIndex

logger = logging.getLogger(__name__)

#: Risk levels after which a message may still be a plain service question.
_NO_RISK = frozenset({Level.NONE, Level.CASE_ADMIN})


def route_to_knowledge(message: Message, index: KnowledgeIndex) -> bool:
    """Make an unplaced, risk-free message ``ask_service`` when ``index`` clearly answers it."""
    intent = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
    risk = message.get(RISK_KEY) or {}
    text = message.get(TEXT)
    if intent != FALLBACK_INTENT or risk.get("level") not in _NO_RISK:
        return False
    if not isinstance(text, str) or not text.strip() or text.lstrip().startswith("/"):
        return False
    hit = index.sure_hit(text, audience_of(message))
    if hit is None:
        return False
    set_intent(message, SERVICE_INTENT, round(hit.score, 4))
    logger.debug("nlu_fallback -> ask_service (%s, %.3f)", hit.entry.id, hit.score)
    return True


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class KnowledgeRouter(GraphComponent, IntentClassifier):
    """Sends ``nlu_fallback`` messages the knowledge base clearly answers to ``ask_service``."""

    def __init__(self, config: dict[str, Any], index: KnowledgeIndex | None = None) -> None:
        self.component_config = config
        self._index = index

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> KnowledgeRouter:
        return cls(config)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> KnowledgeRouter:
        """Build the index now, so the first caller does not wait for it."""
        component = cls(config)
        _ = component.index
        return component

    @property
    def index(self) -> KnowledgeIndex:
        """The Service Menu index (the process-wide default unless one was given)."""
        if self._index is None:
            from knowledge.search import default_index

            self._index = default_index()
        return self._index

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Route each unplaced, risk-free message the index clearly answers."""
        for message in messages:
            try:
                route_to_knowledge(message, self.index)
            except Exception as exc:  # noqa: BLE001 - a search failure must not stop replies
                logger.warning("knowledge routing skipped: %s", exc)
        return messages

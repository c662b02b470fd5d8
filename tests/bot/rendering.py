"""What the caller would read: actions' messages rendered from the real domain.yml.

Actions send ``utter_message(response=..., **values)``; Rasa's own
``TemplatedNaturalLanguageGenerator`` fills the domain.yml response with the
values and the conversation's slots (conditional variations included), the
same way the Rasa server does for a remote action.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

DOMAIN_FILE = Path(__file__).resolve().parents[2] / "domain.yml"


@lru_cache(maxsize=1)
def domain() -> Domain:
    """The real domain.yml, loaded once."""
    return Domain.load(str(DOMAIN_FILE))


async def rendered(messages: list[dict[str, Any]], slots: dict[str, Any] | None = None
                   ) -> list[str]:
    """The text of each dispatcher message as Rasa would send it."""
    dom = domain()
    names = {s.name for s in dom.slots}
    tracker = DialogueStateTracker.from_events(
        "test", [SlotSet(k, v) for k, v in (slots or {}).items() if k in names], dom.slots
    )
    nlg = TemplatedNaturalLanguageGenerator(dom.responses)
    texts = []
    for message in messages:
        values = dict(message)
        name = values.pop("response", None)
        if not name:
            texts.append(str(values.get("text") or ""))
            continue
        draft = await nlg.generate(name, tracker, "rest", **values)
        assert draft is not None, f"{name} is not a response in domain.yml"
        text = str(draft.get("text") or "")
        assert "{" not in text, f"{name}: a placeholder was not filled: {text}"
        texts.append(text)
    return texts

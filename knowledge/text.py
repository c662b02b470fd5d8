"""The shared spaCy text pipeline: blank English plus the lookup lemmatizer.

No model is downloaded: ``spacy.blank("en")`` and the lemma tables shipped in
the ``spacy-lookups-data`` package are all it needs. The pipeline is built
lazily, once per process, on first use (never at import time).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from spacy.language import Language

_lock = threading.Lock()
_nlp: Language | None = None

#: Longest text we process; longer input is cut (and the cut is reported by callers).
MAX_TEXT_CHARS = 5000

_SPACE = re.compile(r"\s+")
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"), None)


def normalise(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """NFKC-normalise, drop control and zero-width characters, fold spaces, cut to ``limit``."""
    text = unicodedata.normalize("NFKC", text or "").translate(_ZERO_WIDTH)
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    return _SPACE.sub(" ", text).strip()[:limit]


def get_nlp() -> Language:
    """The process-wide blank English pipeline with a lookup lemmatizer."""
    global _nlp
    if _nlp is None:
        with _lock:
            if _nlp is None:
                import spacy

                nlp = spacy.blank("en")
                nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
                nlp.initialize()
                _nlp = nlp
    return _nlp


_lemma_table: Any = None


def _lookup_table() -> Any:
    """spaCy's lemma lookup Table (keys are hashed; ``.get(str, default)`` works)."""
    global _lemma_table
    if _lemma_table is None:
        lemmatizer: Any = get_nlp().get_pipe("lemmatizer")
        _lemma_table = lemmatizer.lookups.get_table("lemma_lookup")
    return _lemma_table


def lemma_tokens(text: str) -> list[str]:
    """Lower-case lemmas of every token except punctuation and spaces.

    Case-insensitive (looked up on the lower-cased word), so "Children" and
    "children" both give "child". Apostrophe pieces ("'s", "n't") are kept.
    """
    table = _lookup_table()
    out = []
    for tok in get_nlp().make_doc(normalise(text)):
        if tok.is_space or (tok.is_punct and "'" not in tok.text):
            continue
        low = tok.lower_
        out.append(table.get(low, low).lower())
    return out

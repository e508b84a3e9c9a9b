"""llama.cpp's own tokenizer on a GGUF's vocabulary alone, for choosing and checking a trim.

The trim decides from the token ids llama.cpp produces (not a re-implementation), and checks
its output the same way: a text is "unchanged" when the trimmed model tokenizes it to exactly
the full model's ids, mapped to their new positions.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np

from outreach.errors import QuantizeError


class VocabOnly:
    """A GGUF's tokenizer without its weights (llama.cpp ``vocab_only``: ~0.3 s to load)."""

    def __init__(self, path: Path) -> None:
        try:
            import llama_cpp as lc
        except ImportError as exc:
            raise QuantizeError("llama-cpp-python is not installed: "
                                "pip install 'miniature-outreach[worker]'") from exc
        from generation.sampling import TokenText

        self._lc = lc
        # llama.cpp logs every metadata key at load; keep errors only (as workers/ does)
        logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)
        lc.llama_backend_init()
        params = lc.llama_model_default_params()
        params.vocab_only = True
        self._model = lc.llama_model_load_from_file(str(path).encode(), params)
        if not self._model:
            raise QuantizeError(f"llama.cpp cannot load the vocabulary of {path}")
        self._text = TokenText(self._model)
        self.n_vocab = int(lc.llama_vocab_n_tokens(lc.llama_model_get_vocab(self._model)))

    def tokenize(self, text: str, add_bos: bool = False) -> list[int]:
        return self._text.tokenize(text, add_bos=add_bos)

    def close(self) -> None:
        if self._model:
            self._lc.llama_model_free(self._model)
            self._model = None

    def __enter__(self) -> VocabOnly:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def corpus_ids(path: Path, texts: Iterable[str]) -> set[int]:
    """Every token id llama.cpp uses for ``texts`` with ``path``'s vocabulary."""
    used: set[int] = set()
    with VocabOnly(path) as vocab:
        for text in texts:
            used.update(vocab.tokenize(text))
    return used


@dataclass(frozen=True)
class Coverage:
    texts: int
    unchanged: int  # texts the trimmed vocabulary tokenizes to the mapped full-vocabulary ids
    tokens_full: int
    tokens_trimmed: int
    tokens_dropped: int = 0  # full-vocabulary tokens of the texts that the trim dropped

    @property
    def unchanged_share(self) -> float:
        return self.unchanged / self.texts if self.texts else 1.0

    @property
    def growth(self) -> float:
        """Trimmed tokens / full tokens - 1 (0.05 = 5% more tokens)."""
        return self.tokens_trimmed / self.tokens_full - 1 if self.tokens_full else 0.0

    def as_dict(self) -> dict[str, float]:
        return {"texts": self.texts, "unchanged": self.unchanged,
                "unchanged_share": round(self.unchanged_share, 4),
                "tokens_full": self.tokens_full, "tokens_trimmed": self.tokens_trimmed,
                "token_growth": round(self.growth, 4),
                # a model can only pick a kept token: the share of the full model's tokens on
                # these texts that the trimmed one cannot write as one token
                "dropped_token_share": round(self.tokens_dropped / self.tokens_full, 5)
                if self.tokens_full else 0.0}


def coverage(full: Path, trimmed: Path, keep: np.ndarray, texts: Sequence[str]) -> Coverage:
    """How ``texts`` tokenize on the trimmed model against the full one (ids mapped)."""
    new_id = np.full(int(keep.max()) + 1, -1, dtype=np.int64)
    new_id[keep] = np.arange(len(keep))
    unchanged = n_full = n_trim = n_dropped = 0
    with VocabOnly(full) as big, VocabOnly(trimmed) as small:
        if small.n_vocab != len(keep):
            raise QuantizeError(f"{trimmed} has {small.n_vocab} tokens, expected {len(keep)}")
        for text in texts:
            ids = np.array(big.tokenize(text), dtype=np.int64)
            got = small.tokenize(text)
            n_full, n_trim = n_full + len(ids), n_trim + len(got)
            mapped = np.where(ids < len(new_id), new_id[np.minimum(ids, len(new_id) - 1)], -1)
            n_dropped += int(np.sum(mapped < 0))
            if mapped.tolist() == got:
                unchanged += 1
    return Coverage(len(texts), unchanged, n_full, n_trim, n_dropped)

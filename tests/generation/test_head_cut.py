"""A vocabulary trim served as a head cut (generation/head_cut.py), on the real models: the
default Gemma 3 270M GGUF, the served 16k trim (rebuilt from its committed manifest, ~12 s)
and the served campaign adapter. No mocks."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("llama_cpp")
pytest.importorskip("gguf")

from outreach.settings import load_settings  # noqa: E402
from generation.batch import BatchEngine, GenRequest  # noqa: E402
from generation.batch_context import LlamaContext, decode_tokens  # noqa: E402
from generation.model import default_model_path  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TRIM_MANIFEST = REPO / "models/gemma3-270m-trim16k/vocab-trim.json"
LEAD_SEED = 77  # not the corpus's: these names are unseen by the trim
# Leads of that run with names in four scripts (Павло, 直子, นัฐพล, فردوس) and two Latin ones.
LEAD_INDEXES = (2, 3, 9, 10, 0, 6)


@pytest.fixture(scope="module")
def settings():
    return load_settings(REPO / "outreach.yaml")


@pytest.fixture(scope="module")
def trim() -> Path:
    """The served trim, as ./setup.sh built it (rebuilt there, checked against the manifest's
    sha256, when missing: ~40 s)."""
    from quantize.trim.vocab import trim_like

    return trim_like(default_model_path(), TRIM_MANIFEST, REPO / "model-cache" / "trim")


@pytest.fixture(scope="module")
def adapter(settings) -> Path:
    return REPO / settings.model.lora_path


@pytest.fixture(scope="module")
def prompts(settings) -> list[str]:
    from quantize.trim.corpus import campaigns
    from training.leads import generated
    from generation.prompt import build_prompt

    campaign = campaigns([REPO / "campaigns"])[0]
    leads = generated(max(LEAD_INDEXES) + 1, LEAD_SEED, "head-test")
    return [build_prompt(leads[i], campaign, None, settings).text for i in LEAD_INDEXES]


def _last_scores(llm: LlamaContext, prompt: str) -> tuple[np.ndarray, object]:
    tokens = llm.text.tokenize(prompt)
    extras = llm.extras(tokens, prompt)
    decode_tokens(llm, tokens[:-1], 0, 0, want_last=False)
    llm.put(0, tokens[-1], len(tokens) - 1, 0, True)
    llm.batch.n_tokens = 1
    assert llm.decode()[0] == 0
    return np.array(llm.output_rows(1, [extras])[0]), extras


def test_head_cut_scores_are_the_source_models(settings, trim, adapter, prompts):
    """Fed the source's embedding rows, the trimmed network computes the source's hidden state:
    the kept tokens' logits are the same numbers, and the dropped tokens the prompt may copy
    (the Cyrillic name's pieces) are scored from that state within llama.cpp's own rounding of
    its Q8_0 head (activations quantized to 8 bits)."""
    source = default_model_path()
    kw = dict(n_seq=1, ctx_per_seq=1024, n_batch=512, lora_path=adapter, n_threads=2)
    full = LlamaContext(source, settings.model, **kw)
    try:
        want, _ = _last_scores(full, prompts[0])
    finally:
        full.close()
    head = LlamaContext(source, settings.model, trimmed_path=trim, **kw)
    try:
        got, extras = _last_scores(head, prompts[0])
        keep = head.head.keep
        assert head.n_vocab == len(want) == 262_144 and head.n_out == len(keep) < 45_000
    finally:
        head.close()
    assert len(extras.ids) > 0, "precondition: the prompt uses tokens the trim dropped"
    np.testing.assert_array_equal(got[:len(keep)], want[keep])
    np.testing.assert_allclose(got[len(keep):len(keep) + len(extras.ids)], want[extras.ids],
                               atol=0.5)
    allowed = np.concatenate([keep, extras.ids])
    assert int(np.argmax(got[:len(allowed)])) == int(np.argmax(want[allowed]))


def test_extras_hold_each_words_start_of_line_tokens(settings, trim):
    """SentencePiece marks a word start with the space, so a prompt's " Juul" does not hold the
    token of "Juul" at the start of a line (where a sign-off puts a name): both are added."""
    head = LlamaContext(default_model_path(), settings.model, n_seq=1, ctx_per_seq=256,
                        n_batch=64, trimmed_path=trim, n_threads=2)
    try:
        text = "Lead: Juul Kaliciak, Rotterdam"
        prompt = head.text.tokenize(text)
        extras = set(head.extras(prompt, text).ids.tolist())
        keep = set(head.head.keep.tolist())
        line_start = {t for w in ("Juul", "Kaliciak") for t in head.text.tokenize(w, False)}
        assert line_start - set(prompt) - keep, "precondition: a dropped token only there"
        assert line_start - keep <= extras
        assert set(prompt) - keep <= extras and not extras & keep
    finally:
        head.close()


@pytest.fixture(scope="module")
def greedy_pair(settings, trim, adapter, prompts):
    """Greedy emails of the untrimmed model and of its head cut for the same prompts."""
    requests = [GenRequest(p, max_tokens=48, temperature=0.0) for p in prompts]
    out = {}
    for name, cfg in (("full", settings.model),
                      ("head", settings.model.model_copy(update={"trimmed_path": trim}))):
        with BatchEngine(default_model_path(), cfg, slots=4, lora_path=adapter) as engine:
            out[name] = engine.generate_many(requests)
            if name == "head":
                out["allowed"] = [set(engine._llama.head.keep.tolist())
                                  | set(engine._llama.extras(engine._text.tokenize(p), p)
                                        .ids.tolist()) for p in prompts]
                out["keep"] = set(engine._llama.head.keep.tolist())
    return out


def test_head_cut_writes_the_untrimmed_models_email_and_copies_dropped_tokens(greedy_pair):
    """Greedy output equals the untrimmed model's until the untrimmed model picks a token the
    head cut cannot write (neither kept nor in the prompt); names spelled with dropped tokens
    are copied as the untrimmed model copies them (a plain trim spelled them in smaller
    pieces: "Juul" came out "Jul")."""
    copied = 0
    for full, head, allowed in zip(greedy_pair["full"], greedy_pair["head"],
                                   greedy_pair["allowed"]):
        upto = next((i for i, t in enumerate(full.tokens) if t not in allowed), len(full.tokens))
        assert head.tokens[:upto] == full.tokens[:upto]
        copied += sum(t not in greedy_pair["keep"] for t in head.tokens[:upto])
    assert sum(h.tokens == f.tokens for h, f in zip(greedy_pair["head"], greedy_pair["full"])) \
        >= len(greedy_pair["full"]) - 1
    assert copied > 0, "the emails copy a name the trim dropped"


def test_grammar_in_a_head_cut(settings, trim, adapter, prompts):
    gbnf = 'root ::= "Subject: " ("Hello" | "Привет") " " [a-z]+'
    cfg = settings.model.model_copy(update={"trimmed_path": trim})
    with BatchEngine(default_model_path(), cfg, slots=2, lora_path=adapter) as engine:
        # 40 tokens: in a 16k trim "Привет" is 12 byte tokens (a 12-token limit cut it mid-word).
        result = engine.submit(GenRequest(prompts[0], max_tokens=40, temperature=0.0,
                                          grammar=gbnf)).result(timeout=120)
    assert re.fullmatch(r"Subject: (Hello|Привет) [a-z]+", result.text), result.text


@pytest.mark.slow  # the decode limits of both models and two engines: ~1-2 min on 2 cores
def test_bench_measures_the_head_cut_beside_the_untrimmed_engine(settings, trim, tmp_path):
    """`outreach bench` rows tc (the head cut, as served) and c in one run, with the ratio and
    the trimmed network's own decode ceiling (figures are the bench's, not this test's)."""
    from bench import run_bench

    report = run_bench(settings, emails=2, concurrency=2, out_dir=tmp_path, max_tokens=4,
                       rows=("c",), trimmed=trim, progress=False)
    head = report.row("tc")
    assert head is not None and head.emails == 2 and "head cut" in head.label
    assert 0 < head.completion_tokens <= 8 and head.prompt_tokens == report.row("c").prompt_tokens
    assert "tc/c" in report.ratios()
    assert report.ceiling["trim_logits_all_tok_s"] > 0
    assert report.trim_weight_bytes < report.weight_bytes

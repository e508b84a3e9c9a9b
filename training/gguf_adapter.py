"""Write a peft LoRA as a GGUF LoRA adapter that llama.cpp loads next to the GGUF base.

Layout (the one llama.cpp's own convert_lora_to_gguf writes): general.type "adapter",
adapter.type "lora", adapter.lora.alpha; for each adapted module the base tensor's GGUF name
(gguf's tensor name map: model.layers.3.self_attn.q_proj -> blk.3.attn_q.weight) plus
".lora_a" with shape [r, in] and ".lora_b" with shape [out, r]. llama.cpp scales by alpha / r
like peft does, so the served model is the trained one. f16 halves the file (r=8 on all seven
Gemma 3 linear layers: 3.8 MB instead of 7.6 MB) at no measurable cost in output.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from outreach.errors import TrainingError

_KEY = re.compile(r"^(?:base_model\.model\.)?(?P<module>.+)\.lora_(?P<ab>[AB])(?:\.default)?\.weight$")
ARCHES = {"gemma3_text": "GEMMA3", "gemma3": "GEMMA3", "llama": "LLAMA", "qwen2": "QWEN2"}


def gguf_names(state: dict[str, Any], model_type: str, n_layers: int) -> dict[str, tuple[str, str]]:
    """peft state-dict key -> (GGUF base tensor name, "a" or "b")."""
    import gguf

    arch_name = ARCHES.get(model_type)
    if arch_name is None:
        raise TrainingError(f"no GGUF tensor mapping for model type {model_type!r}")
    name_map = gguf.get_tensor_name_map(getattr(gguf.MODEL_ARCH, arch_name), n_layers)
    result = {}
    for key in state:
        match = _KEY.match(key)
        if not match:
            continue
        base = name_map.get_name(match["module"] + ".weight", try_suffixes=(".weight",))
        if base is None:
            raise TrainingError(f"module {match['module']} has no GGUF tensor name")
        result[key] = (base, match["ab"].lower())
    if not result:
        raise TrainingError("the state dict holds no LoRA weights")
    return result


def export(state: dict[str, Any], out_path: Path, *, model_type: str, n_layers: int,
           alpha: float, dtype: str = "f16") -> dict[str, Any]:
    """Write ``out_path``; returns {"tensors": pairs, "bytes": size}."""
    import gguf

    names = gguf_names(state, model_type, n_layers)
    arch = gguf.MODEL_ARCH_NAMES[getattr(gguf.MODEL_ARCH, ARCHES[model_type])]
    np_dtype = np.float16 if dtype == "f16" else np.float32
    out_path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(out_path), arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    for key in sorted(names, key=lambda k: names[k]):
        base, ab = names[key]
        tensor = state[key].detach().float().cpu().numpy().astype(np_dtype)
        writer.add_tensor(f"{base}.lora_{ab}", tensor)
    try:
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    except OSError as exc:
        raise TrainingError(f"cannot write {out_path}: {exc}") from exc
    finally:
        writer.close()
    return {"tensors": len(names) // 2, "bytes": out_path.stat().st_size, "dtype": dtype}

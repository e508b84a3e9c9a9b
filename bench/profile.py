"""Where a BatchEngine's wall time goes, per decode step: llama_decode of the step, sampling
(picking + accepting each sequence's token), the rest of the step in Python, and per email the
admission (tokenize, sampler, prefix copy, prompt prefill, first token).

Read from the engine's own counters (EngineStats) over a measured window, so the same profile
comes with every bench row (c) and tc, and from ``python -m bench.profile_run``.
"""

from __future__ import annotations

from collections.abc import Mapping

from generation.batch import EngineStats


def stats_delta(before: EngineStats, after: EngineStats) -> dict[str, float]:
    """The engine's counters over a window."""
    return {k: getattr(after, k) - getattr(before, k) for k in after.__dataclass_fields__}


def step_profile(d: Mapping[str, float], wall_seconds: float, emails: int) -> dict[str, float]:
    """Milliseconds per step (decode, sampling, python) and per email (admission, prefill),
    plus the share of the window's wall time each part took; ``d`` holds the engine's
    counters over the window (stats_delta, or a bench row's pooled details)."""
    steps = max(1, d["steps"])
    step_decode = d["decode_seconds"] - d["prefill_seconds"]
    step_busy = d["busy_seconds"] - d["prefill_seconds"]  # _prefill adds its own busy time
    step_python = max(0.0, step_busy - step_decode - d["sample_seconds"])
    admit_other = max(0.0, d["admit_seconds"] - d["prefill_seconds"])
    idle = max(0.0, wall_seconds - step_busy - d["admit_seconds"])
    wall = max(wall_seconds, 1e-9)
    return {
        "steps": d["steps"], "width": round(d["decoded_tokens"] / steps, 2),
        "step_decode_ms": round(1e3 * step_decode / steps, 2),
        "step_sampling_ms": round(1e3 * d["sample_seconds"] / steps, 2),
        "step_python_ms": round(1e3 * step_python / steps, 2),
        "prefill_ms_per_email": round(1e3 * d["prefill_seconds"] / max(1, emails), 1),
        "prefill_tokens_per_email": round(d["prefill_tokens"] / max(1, emails), 1),
        # Prompt tokens copied from a shared prefix (campaign block, campaign + evidence).
        "reused_tokens_per_email": round(d.get("reused_tokens", 0) / max(1, emails), 1),
        "admit_other_ms_per_email": round(1e3 * admit_other / max(1, emails), 1),
        "share_decode": round(step_decode / wall, 3),
        "share_sampling": round(d["sample_seconds"] / wall, 3),
        "share_python": round(step_python / wall, 3),
        "share_prefill": round(d["prefill_seconds"] / wall, 3),
        "share_admit_other": round(admit_other / wall, 3),
        "share_idle": round(idle / wall, 3),
        "generated_tok_s": round(d["decoded_tokens"] / wall, 1),
    }

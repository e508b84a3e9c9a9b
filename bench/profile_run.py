"""``python -m bench.profile_run [--gguf PATH]``: one BatchEngine window on the bench
workload, printed as the per-step profile of bench/profile.py (decode, sampling,
Python, prefill)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from bench.profile import stats_delta, step_profile


def profile_engine(model: Path, settings: Any, emails: int, slots: int,
                   lora: Path | None, max_tokens: int | None = None,
                   shared_slots: int | None = None) -> dict[str, Any]:
    """Run ``emails`` bench prompts through a BatchEngine of ``slots`` and profile it
    (``shared_slots``: campaign + evidence prefixes kept; default model.shared_prefix_slots)."""
    from generation.batch import BatchEngine
    from bench import build_workload

    work = build_workload(settings, emails, max_tokens=max_tokens)
    with BatchEngine(model, settings.model, slots=slots, lora_path=lora,
                     shared_slots=shared_slots) as engine:
        if work.prefix:
            engine.set_prefix(work.prefix)
        before, started = engine.stats(), time.perf_counter()
        engine.generate_many([work.request(i, p) for i, p in enumerate(work.prompts)])
        wall = time.perf_counter() - started
        return step_profile(stats_delta(before, engine.stats()), wall, emails) | {
            "wall_s": round(wall, 2)}


def main(argv: list[str] | None = None) -> None:
    from outreach.settings import load_settings
    from generation.model import resolve_model

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gguf", type=Path, help="Model (default: the configured one).")
    parser.add_argument("--emails", type=int, default=32)
    parser.add_argument("--slots", type=int, default=16)
    parser.add_argument("--max-tokens", type=int)
    parser.add_argument("--shared-slots", type=int,
                        help="Campaign + evidence prefixes kept (0 = off; default: settings).")
    args = parser.parse_args(argv)
    settings = load_settings(None)
    info = resolve_model(settings)
    print(json.dumps(profile_engine(args.gguf or info.path, settings, args.emails, args.slots,
                                    info.lora_path, args.max_tokens, args.shared_slots),
                     indent=2))


if __name__ == "__main__":
    main()

"""The gate's baseline: the tier's current champion, scored on the candidate's own held-out rows.

Stored gate metrics of the champion came from another run's held-out set, so comparing them
with the candidate's would compare two samples of 12 leads; scoring both on the same rows costs
~12 generations (~30 s on 2 cores) and makes the difference mean something.

- A released champion: its GGUF from the registry (sha256-verified), trained prompt, no LoRA.
- No release yet: what the workers serve from settings.model (the base GGUF + the committed LoRA
  adapter with the configured prompt style), which is the champion the first release must beat.
"""

from __future__ import annotations

from typing import Any, cast

import redis

from outreach.errors import RegistryError
from outreach.releases import read_pointer
from outreach.settings import Settings
from outreach.store import sync_client
from schemas.records import ModelRelease


def champion_metrics(settings: Settings, tier: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    from releases.gate import evaluate_candidate

    try:
        with sync_client(settings.redis_url) as client:
            release = read_pointer(client, settings, tier, "champion")
    except redis.RedisError as exc:
        raise RegistryError(f"cannot read the {tier} champion: {exc}") from exc
    if release is not None:
        from releases.registry import Registry

        gguf = Registry(settings).fetch(cast(ModelRelease, release))  # what publish wrote
        metrics = evaluate_candidate(gguf, rows, settings, reference_f16=None)
        return metrics | {"source": f"release {release['release_id']}",
                          "model_version": release["model_version"]}
    from generation.model import resolve_model

    configured = resolve_model(settings)
    style = "fewshot" if settings.model.prompt_style == "few_shot" else "trained"
    metrics = evaluate_candidate(configured.path, rows, settings, reference_f16=None,
                                 lora=configured.lora_path, style=style)
    return metrics | {"source": "configured model (no release yet)",
                      "model_version": configured.version or configured.model_id,
                      "lora": str(configured.lora_path) if configured.lora_path else None}

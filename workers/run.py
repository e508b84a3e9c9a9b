"""Which loop serves a tier: a local GGUF (workers/worker.py) or an OpenAI-compatible endpoint
for tier llm (workers/llm_worker.py). The CLI and ``python -m workers`` start workers here."""

from __future__ import annotations

import threading

from outreach.settings import Settings
from workers.reload import EventHook
from workers.worker import WorkerStats, run_worker


def run_tier(settings: Settings, stop: threading.Event | None = None,
             max_messages: int | None = None, on_event: EventHook | None = None) -> WorkerStats:
    """Consume email.requests.<settings.worker.tier> until stopped (see run_worker)."""
    if settings.worker.tier == "llm":  # an OpenAI-compatible endpoint, no local model
        from workers.llm_worker import run_llm_worker

        return run_llm_worker(settings, stop, max_messages, on_event)
    return run_worker(settings, stop, max_messages, on_event)

"""A batched worker takes model.batch_slots + worker.queue_depth requests at once, so that a
sequence's slot is refilled from the engine's queue, and exports its engine's counters on
/metrics (the bench's pipeline rows read their mean width from there). Real model and broker."""

from __future__ import annotations

import threading
import time
import urllib.request

import pytest

from apps.campaigns import publish_campaign
from outreach.stack import free_port
from outreach.topics import requests_topic
from schemas.codec import AvroCodec
from tests.support.worker_helpers import (committed_everything, make_request, produce,
                                          sample_campaign, sample_leads)
from workers.metrics import ENGINE_PREFIX
from workers.worker import loop_width, run_worker

pytestmark = pytest.mark.integration
TOPIC = requests_topic("small")


def _engine_counters(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return {line.split()[0].removeprefix(ENGINE_PREFIX).removesuffix("_total"):
            float(line.split()[1]) for line in text.splitlines()
            if line.startswith(ENGINE_PREFIX)}


def test_a_batched_worker_queues_past_its_slots_and_exports_its_engine(worker_settings,
                                                                       model_info, generator):
    pytest.importorskip("llama_cpp")
    from generation.batched_generator import BatchedGenerator

    settings = worker_settings.model_copy(deep=True)
    settings.model.batch_slots, settings.model.max_tokens = 2, 24
    settings.worker.queue_depth = 2
    settings.worker.max_attempts, settings.worker.grammar_on_retry = 1, False
    settings.escalation.llm = settings.escalation.review = False
    settings.worker.metrics_port = port = free_port()
    publish_campaign(settings, sample_campaign())
    assert loop_width(settings, generator) == 1  # llama-cpp-python's Llama: one at a time
    codec = AvroCodec()
    requests = [make_request(lead) for lead in sample_leads()[:5]]
    produce(settings, TOPIC, [(r["lead"]["lead_id"].encode(),
                               codec.encode("GenerationRequest", r)) for r in requests])
    events: list[dict] = []
    stop = threading.Event()
    with BatchedGenerator(model_info, settings) as batched:
        assert loop_width(settings, batched) == 4  # 2 decoding, 2 waiting in the queue
        thread = threading.Thread(target=run_worker, daemon=True, kwargs=dict(
            settings=settings, stop=stop, on_event=events.append, generator=batched))
        thread.start()
        try:
            deadline = time.monotonic() + 600
            while len(events) < len(requests) and time.monotonic() < deadline:
                time.sleep(0.2)
            exported = _engine_counters(port)  # while the worker serves
            engine = batched.stats()
        finally:
            stop.set()
            thread.join(timeout=60)
        assert not thread.is_alive()
    assert sorted(e["request_id"] for e in events) == sorted(r["request_id"] for r in requests)
    assert committed_everything(settings, TOPIC)
    assert exported["steps"] == engine.steps > 0
    assert exported["decoded_tokens"] == engine.decoded_tokens
    assert 1 < engine.decoded_tokens / engine.steps <= 2  # mean width: two slots

"""Hot reload against the real stack and the real Gemma 3 270M GGUF: releases published by the
registry (releases/registry.py) or announced by hand reach a running worker over model.updates.

The releases are byte-identical copies of the default GGUF under new release ids and versions
(cheap: nothing to train). A released model runs with the trained prompt, which the untuned
base does not follow, so most outcomes here are dead letters: the tests count outcomes (draft
or dead letter) per request, and read which model wrote each one from the worker's events,
which carry the model version for both kinds (drafts also carry it in the record).
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from pathlib import Path

import pytest
import redis
from prometheus_client import REGISTRY

from outreach.kafka import make_producer, produce_sync
from outreach.hashing import file_sha256
from outreach.releases import pointer_key, to_json
from outreach.settings import VariantSpec
from outreach.topics import MODEL_UPDATES, requests_topic
from releases.registry import Registry
from schemas.codec import AvroCodec
from tests.support.worker_helpers import Outcomes, committed_everything, make_request, produce, sample_leads
from generation.model import default_model_path
from workers.worker import run_worker


@pytest.fixture(scope="module", autouse=True)
def campaign(worker_settings):
    """The sample leads' campaign ("autumn-test"): workers write only for published campaigns."""
    from apps.campaigns import publish_campaign
    from tests.support.worker_helpers import sample_campaign

    return publish_campaign(worker_settings, sample_campaign())


pytestmark = pytest.mark.integration
TOPIC = requests_topic("small")
OUTCOMES = ("draft", "dead_letter")


@pytest.fixture()
def hr_settings(worker_settings, tmp_path):
    """Fast generation (24 tokens, one attempt), a Redis prefix of the test's own (so release
    pointers of one test never reach another's worker) and a registry in tmp_path. The Kafka
    group stays the module's: each test consumes every request it produces."""
    settings = worker_settings.model_copy(deep=True)
    settings.model.max_tokens = 24
    settings.worker.max_attempts = 1
    settings.worker.grammar_on_retry = False
    # No rung above the miniature: each request ends as a draft or a dead letter (OUTCOMES).
    settings.escalation.llm = settings.escalation.review = False
    settings.redis.key_prefix = f"hr{uuid.uuid4().hex[:8]}"
    settings.registry.uri = str(tmp_path / "registry")
    return settings


class RunningWorker:
    """run_worker on a thread, its events collected (from the worker and follower threads)."""

    def __init__(self, settings, generator=None) -> None:
        self.events: list[dict] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=run_worker, daemon=True, kwargs=dict(
            settings=settings, stop=self.stop, on_event=self._event, generator=generator))
        self.thread.start()

    def _event(self, event: dict) -> None:
        self.events.append({**event, "at": time.monotonic()})

    def outcomes(self) -> dict[str, list[dict]]:
        found: dict[str, list[dict]] = {}
        for event in list(self.events):
            if event["kind"] in OUTCOMES:
                found.setdefault(event["request_id"], []).append(event)
        return found

    def wait(self, done, timeout_s: float = 180.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout_s
        while not done() and time.monotonic() < deadline:
            assert self.thread.is_alive(), "the worker died"
            time.sleep(0.1)
        assert done(), f"timed out waiting for {what}; events: {self.events[-5:]}"

    def first(self, kind: str, **match) -> dict | None:
        for event in list(self.events):
            if event["kind"] == kind and all(event.get(k) == v for k, v in match.items()):
                return event
        return None

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=120)
        assert not self.thread.is_alive()


def request_for(index: int, tag: str, variant: str = "control") -> dict:
    lead = dict(sample_leads()[index % 20], lead_id=f"lead-{tag}-{index:03d}")
    return dict(make_request(lead), variant=variant)


def send(settings, requests: list[dict]) -> None:
    codec = AvroCodec()
    produce(settings, TOPIC, [(r["lead"]["lead_id"].encode(), codec.encode("GenerationRequest", r))
                              for r in requests])


def copy_of_default(tmp_path, name: str):
    path = tmp_path / name
    shutil.copyfile(default_model_path(), path)
    return path


def check_one_outcome_each(settings, request_ids: set[str]) -> list[dict]:
    """Exactly one draft or dead letter per request on Kafka; returns the drafts."""
    seen = Outcomes(settings)
    seen.wait(lambda o: request_ids <= set(o.by_request()), timeout_s=60)
    seen.wait(lambda o: False, timeout_s=2).close()  # a duplicate would show up here
    mine = {rid: records for rid, records in seen.by_request().items() if rid in request_ids}
    assert set(mine) == request_ids, "lost outcomes"
    assert all(len(records) == 1 for records in mine.values()), "duplicated outcomes"
    return [d for d in seen.drafts if d["request_id"] in request_ids]


def test_tampered_gguf_is_refused_and_the_worker_keeps_serving(hr_settings, generator, tmp_path):
    good = copy_of_default(tmp_path, "good.gguf")
    tampered = copy_of_default(tmp_path, "tampered.gguf")
    with tampered.open("r+b") as handle:  # one flipped bit in the tensor data: it would load
        handle.seek(tampered.stat().st_size // 2)
        byte = handle.read(1)
        handle.seek(-1, 1)
        handle.write(bytes([byte[0] ^ 0x01]))
    refused_before = REGISTRY.get_sample_value("outreach_worker_model_reloads_total", {
        "tier": "small", "slot": "champion", "result": "sha256_mismatch"}) or 0.0

    worker = RunningWorker(hr_settings, generator)
    try:
        with Registry(hr_settings) as registry:
            good_release = registry.publish(good, {"quant_type": "Q4_K_M"}, "small", "CHAMPION",
                                            "gemma3-270m-release", "v1")
        worker.wait(lambda: worker.first("model_loaded", model_version="v1"), what="v1 loaded")

        # The tampered copy is pointed to and announced with the original's sha256, as if the
        # registry's blob had been swapped after the gate (inside the registry: a release
        # naming a file elsewhere is refused before any read).
        tampered = tampered.replace(Path(hr_settings.registry.uri) / "tampered.gguf")
        bad = {**good_release, "release_id": "small-tampered", "model_version": "v2",
               "uri": str(tampered)}
        redis.Redis.from_url(hr_settings.redis_url).set(
            pointer_key(hr_settings, "small", "champion"), to_json(bad))
        produce_sync(make_producer(hr_settings), MODEL_UPDATES,
                     AvroCodec().encode("ModelRelease", bad), key="small")
        worker.wait(lambda: worker.first("model_error", release_id="small-tampered"),
                    what="the refusal")
        error = worker.first("model_error", release_id="small-tampered")
        assert error["error_type"] == "sha256_mismatch" and error["serving_version"] == "v1"
        assert REGISTRY.get_sample_value("outreach_worker_model_reloads_total", {
            "tier": "small", "slot": "champion", "result": "sha256_mismatch"}) == refused_before + 1

        requests = [request_for(i, "tamper") for i in range(2)]
        send(hr_settings, requests)
        ids = {r["request_id"] for r in requests}
        worker.wait(lambda: ids <= set(worker.outcomes()), what="2 outcomes")
    finally:
        worker.close()
    for request_id, events in worker.outcomes().items():
        assert [e["model_version"] for e in events] == ["v1"], request_id
        assert events[0]["model_sha256"] == file_sha256(good)
    for draft in check_one_outcome_each(hr_settings, ids):
        assert draft["model_version"] == "v1" and draft["model_id"] == "gemma3-270m-release"
    assert committed_everything(hr_settings, TOPIC)


def test_hot_reload_while_requests_stream_in_loses_and_duplicates_none(hr_settings, tmp_path):
    hr_settings.model.batch_slots = 4  # the concurrent loop: requests are in flight at the swap
    hr_settings.model.model_version = "v1"
    release_copy = copy_of_default(tmp_path, "release.gguf")
    worker = RunningWorker(hr_settings)  # loads the configured model itself (owned)
    produced: list[tuple[str, float]] = []  # (request_id, acknowledged at)
    producing_done = threading.Event()

    def stream() -> None:
        # One request every 0.25 s until 6 were acknowledged after the new model took over.
        for index in range(80):
            request = request_for(index, "stream")
            send(hr_settings, [request])
            produced.append((request["request_id"], time.monotonic()))
            loaded = worker.first("model_loaded", model_version="v2")
            if loaded and sum(1 for _, at in produced if at > loaded["at"]) >= 6:
                break
            time.sleep(0.25)
        producing_done.set()

    producer = threading.Thread(target=stream, daemon=True)
    try:
        producer.start()
        worker.wait(lambda: len(worker.outcomes()) >= 3, what="3 outcomes from v1")
        with Registry(hr_settings) as registry:
            release = registry.publish(release_copy, {"quant_type": "Q4_K_M"}, "small",
                                       "CHAMPION", "gemma3-270m-release", "v2")
        worker.wait(producing_done.is_set, what="the stream")
        ids = {request_id for request_id, _ in produced}
        worker.wait(lambda: ids <= set(worker.outcomes()), what="every outcome")
    finally:
        worker.close()
        producer.join(timeout=10)

    loaded = worker.first("model_loaded", model_version="v2")
    assert loaded["release_id"] == release["release_id"]
    outcomes = worker.outcomes()
    assert set(outcomes) == ids and all(len(events) == 1 for events in outcomes.values())
    versions = {rid: events[0]["model_version"] for rid, events in outcomes.items()}
    assert "v1" in versions.values() and "v2" in versions.values()
    for request_id, at in produced:
        if at > loaded["at"]:  # produced after the swap: it can only have started on v2
            assert versions[request_id] == "v2", request_id
    drafts = check_one_outcome_each(hr_settings, ids)
    for draft in drafts:
        assert draft["model_version"] == versions[draft["request_id"]]
    assert len({d["draft_id"] for d in drafts}) == len(drafts)
    assert committed_everything(hr_settings, TOPIC)


def test_late_worker_serves_the_pointed_releases_and_follows_promote_and_rollback(
        hr_settings, generator, tmp_path):
    """A worker started after two publishes serves them (pointers), routes the challenger arm
    to the challenger, and follows a promotion (no reload) and a rollback (a reload)."""
    hr_settings.abtest.variants = [VariantSpec(name="control"),
                                   VariantSpec(name="mini-v4", model_role="challenger")]
    hr_settings.abtest.champion = "control"
    with Registry(hr_settings) as registry:
        registry.publish(copy_of_default(tmp_path, "v3.gguf"), {}, "small", "CHAMPION",
                         "gemma3-270m-release", "v3")
        registry.publish(copy_of_default(tmp_path, "v4.gguf"), {}, "small", "CHALLENGER",
                         "gemma3-270m-release", "v4")
        worker = RunningWorker(hr_settings, generator)
        try:
            def serve(tag: str) -> dict[str, str]:
                requests = [request_for(0, tag), request_for(1, tag, variant="mini-v4")]
                send(hr_settings, requests)
                ids = [r["request_id"] for r in requests]
                worker.wait(lambda: set(ids) <= set(worker.outcomes()), what=tag)
                outcomes = worker.outcomes()
                return {variant: outcomes[rid][0]["model_version"]
                        for variant, rid in zip(("control", "mini-v4"), ids)}

            assert serve("late") == {"control": "v3", "mini-v4": "v4"}
            registry.promote("small")
            worker.wait(lambda: worker.first("model_loaded", promoted=True), what="promotion")
            assert serve("promoted") == {"control": "v4", "mini-v4": "v4"}
            registry.rollback("small")
            worker.wait(lambda: worker.first("model_loaded", role="ROLLBACK"), what="rollback")
            assert serve("rolled-back") == {"control": "v3", "mini-v4": "v3"}
        finally:
            worker.close()
    assert not [e for e in worker.events if e["kind"] == "model_error"]
    assert committed_everything(hr_settings, TOPIC)

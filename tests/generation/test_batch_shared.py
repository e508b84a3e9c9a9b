"""Campaign + evidence prefixes kept from requests (GenRequest.share_chars), on the real default
model (Gemma 3 270M Q4_K_M): no mocks. Prefill savings are counted by the engine, not timed.
"""

from __future__ import annotations

import pytest

from generation.batched_generator import shared_chars

LEAD = "Lead: {name}, {company}\nEmail: Hi {name}, I noticed that"
PREFIX = (
    "Cold emails written by Sam, an account executive at Miniature Outreach. Each email is "
    "short, greets the lead by first name, uses one fact from the Evidence line and asks for "
    "a short call.\n\n")
EVIDENCE = {
    "x": 'Evidence: [{"id": "cs-1", "text": "Acme Freight cut late-shipment emails by 40% in '
         'two months."}]\n',
    "y": 'Evidence: [{"id": "cs-2", "text": "Northwind answers quote requests within an hour '
         'now, down from a day."}]\n',
    "z": 'Evidence: [{"id": "cs-3", "text": "Riverbend books twice as many site visits since '
         'it started."}]\n',
}
LEADS = {"ann": ("Ann", "Northwind Traders"), "tom": ("Tom", "Riverbend Plumbing"),
         "kenji": ("Kenji", "Sakura Robotics")}


def test_shared_chars_marks_the_campaign_block_and_its_evidence_line():
    prompt = PREFIX + EVIDENCE["x"] + LEAD.format(name="Ann", company="Acme")
    assert shared_chars(prompt, PREFIX) == len(PREFIX + EVIDENCE["x"])
    assert shared_chars(prompt, "") == 0  # no campaign block registered: nothing to mark
    assert shared_chars(prompt, "Another campaign.\n") == 0
    assert shared_chars(PREFIX + LEAD.format(name="Ann", company="Acme"), PREFIX) == 0


pytest.importorskip("llama_cpp")

from outreach.settings import load_settings  # noqa: E402
from generation.batch import BatchEngine, GenRequest  # noqa: E402
from generation.model import default_model_path  # noqa: E402


def request(evidence: str, lead: str, max_tokens: int = 12, share: bool = True) -> GenRequest:
    name, company = LEADS[lead]
    prompt = PREFIX + EVIDENCE[evidence] + LEAD.format(name=name, company=company)
    return GenRequest(prompt, max_tokens=max_tokens, temperature=0.0,
                      share_chars=shared_chars(prompt, PREFIX) if share else 0)


def open_engine(shared_slots: int) -> BatchEngine:
    settings = load_settings(config_file=None)
    engine = BatchEngine(default_model_path(), settings.model, slots=4, ctx_per_slot=512,
                         shared_slots=shared_slots)
    engine.set_prefix(PREFIX)
    return engine


@pytest.fixture(scope="module")
def engine():
    with open_engine(shared_slots=2) as eng:
        yield eng


def test_a_second_lead_with_the_same_evidence_copies_it_and_writes_the_same_tokens(engine):
    first = request("x", "ann")
    before = engine.stats()
    alone = engine.submit(first).result(timeout=120)  # prefills the evidence, keeps it
    kept = engine.stats()
    again = engine.submit(first).result(timeout=120)  # copies it
    after = engine.stats()
    shared = engine.count_tokens(PREFIX + EVIDENCE["x"].rstrip("\n")) + 1  # + the newline
    assert alone.cached_tokens == engine.count_tokens(PREFIX)
    assert again.cached_tokens == shared
    assert kept.prefix_keeps - before.prefix_keeps == 1
    assert after.prefix_keeps == kept.prefix_keeps  # held already: not kept twice
    assert after.prefill_tokens - kept.prefill_tokens == again.prompt_tokens - shared - 1
    assert kept.prefill_tokens - before.prefill_tokens == alone.prompt_tokens - \
        alone.cached_tokens - 1
    # Same tokens whether the evidence KV was prefilled here or copied from the kept prefix:
    # the prefill breaks at the mark either way.
    assert again.tokens == alone.tokens

    # Another lead with that evidence, batched beside leads of other evidence, each as alone.
    requests = [request("x", "tom"), request("y", "kenji"), request("y", "ann")]
    singles = [engine.submit(r).result(timeout=120) for r in requests]
    together = engine.generate_many(requests)
    assert together[0].cached_tokens == shared
    assert [r.tokens for r in together] == [r.tokens for r in singles]


def test_the_least_recently_used_evidence_goes_first(engine):
    for evidence in ("x", "y"):  # both held (two shared slots)
        engine.submit(request(evidence, "ann", 2)).result(timeout=120)
    before = engine.stats()
    engine.submit(request("y", "tom", 2)).result(timeout=120)  # y used last: x is the oldest
    engine.submit(request("z", "tom", 2)).result(timeout=120)  # takes x's slot
    assert engine.stats().prefix_keeps - before.prefix_keeps == 1
    y = engine.submit(request("y", "kenji", 2)).result(timeout=120)
    x = engine.submit(request("x", "kenji", 2)).result(timeout=120)
    assert y.cached_tokens > x.cached_tokens >= engine.count_tokens(PREFIX)
    assert engine.stats().prefix_keeps - before.prefix_keeps == 2  # x kept again


def test_unmarked_requests_and_an_engine_without_shared_slots_keep_nothing(engine):
    before = engine.stats()
    plain = engine.submit(request("z", "kenji", 6, share=False)).result(timeout=120)
    assert engine.stats().prefix_keeps == before.prefix_keeps
    with open_engine(shared_slots=0) as off:
        marked = off.submit(request("z", "kenji", 6)).result(timeout=120)
        assert off.stats().prefix_keeps == 0 and marked.cached_tokens == off.count_tokens(PREFIX)
    # Neither split its prefill at the mark: one chunk after the campaign block, same tokens.
    assert marked.tokens == plain.tokens and len(plain.tokens) == 6

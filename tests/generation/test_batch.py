"""The batched engine on the real default model (Gemma 3 270M Q4_K_M): no mocks.

"Sequential" below means the same engine given one request at a time, so each decode step holds
one sequence; "batched" means the requests submitted together. Greedy tokens must be identical:
a sequence's output may not depend on what else shares its batches. Generations are kept short
(<= 16 tokens) so the module runs in well under two minutes on 2 cores.
"""

from __future__ import annotations

import re
import threading
import time

import pytest

pytest.importorskip("llama_cpp")

from outreach.errors import ModelError  # noqa: E402
from outreach.settings import load_settings  # noqa: E402
from generation.batch import BatchEngine, GenRequest, GenResult  # noqa: E402
from generation.model import default_model_path  # noqa: E402

PREFIX = (
    "Cold emails written by Sam, an account executive at Miniature Outreach. Each email is "
    "short and friendly, greets the lead by first name, names the lead's company and asks for "
    "a short call.\n\nLead: Maria, Acme Freight, late shipments\nEmail: Hi Maria, I noticed "
    "that Acme Freight gets many customer emails about late shipments. Would you be open to a "
    "15-minute call next week?\n###\n")
LEADS = ["Ann, Northwind Traders, slow follow-ups", "Tom, Riverbend Plumbing, quote requests",
         "Zoë, Café Lumière, a second location", "Kenji, Sakura Robotics, distributor leads"]


def prompt(lead: str) -> str:
    return f"{PREFIX}Lead: {lead}\nEmail: Hi {lead.split(',')[0]}, I noticed that"


@pytest.fixture(scope="module")
def engine():
    settings = load_settings(config_file=None)
    with BatchEngine(default_model_path(), settings.model, slots=4, ctx_per_slot=512) as eng:
        eng.set_prefix(PREFIX)
        yield eng


def greedy(lead: str, max_tokens: int = 16, **kw) -> GenRequest:
    return GenRequest(prompt(lead), max_tokens=max_tokens, temperature=0.0, **kw)


def sequential(engine: BatchEngine, requests: list[GenRequest]) -> list[GenResult]:
    return [engine.submit(r).result(timeout=120) for r in requests]


def test_greedy_batched_equals_sequential_with_independent_lengths(engine):
    requests = [greedy(lead, n) for lead, n in zip(LEADS, (16, 5, 11, 8))]
    alone = sequential(engine, requests)
    moves = engine.stats().moves
    together = engine.generate_many(requests)
    # The 5-token request finished first and left a gap: the last sequence's KV was moved
    # into it (and still produced the same tokens).
    assert engine.stats().moves > moves
    for one, many, request in zip(alone, together, requests):
        assert many.tokens == one.tokens
        assert many.text == one.text
        assert many.finish_reason == "length"
        assert many.completion_tokens == len(many.tokens) == request.max_tokens
        assert many.cached_tokens == engine.count_tokens(PREFIX)
        assert many.prompt_tokens == engine.count_tokens(request.prompt)
    assert len({r.text for r in together}) == len(together)  # four different leads, four texts


def test_stop_strings_finish_one_sequence_early(engine):
    free = greedy(LEADS[0], 12)
    reference = engine.submit(free).result(timeout=120).text
    word = reference.split()[2]  # a word the greedy text is known to contain
    stopped = greedy(LEADS[0], 12, stop=(word,))
    results = engine.generate_many([stopped, free, greedy(LEADS[1], 12)])
    assert results[0].finish_reason == "stop"
    assert results[0].text == reference[:reference.index(word)]
    assert results[1].text == reference and results[1].finish_reason == "length"
    assert results[2].completion_tokens == 12


def test_seeded_sampling_is_reproducible_in_any_batch(engine):
    sampled = GenRequest(prompt(LEADS[2]), max_tokens=12, temperature=0.9, seed=1234)
    alone = engine.submit(sampled).result(timeout=120)
    crowd = engine.generate_many([greedy(LEADS[0], 8), sampled, greedy(LEADS[1], 8)])
    assert crowd[1].tokens == alone.tokens
    other_seed = GenRequest(prompt(LEADS[2]), max_tokens=12, temperature=0.9, seed=99)
    assert engine.submit(other_seed).result(timeout=120).tokens != alone.tokens


def test_grammar_holds_only_for_its_own_sequence(engine):
    gbnf = 'root ::= " " ("yes" | "no") "."'
    constrained = greedy(LEADS[3], 8, grammar=gbnf)
    free = [greedy(LEADS[0], 10), greedy(LEADS[1], 10)]
    alone = sequential(engine, free)
    results = engine.generate_many([free[0], constrained, free[1]])
    assert re.fullmatch(r" (yes|no)\.", results[1].text), results[1].text
    assert results[1].finish_reason == "stop"  # the grammar is complete: only end-of-text left
    assert [r.tokens for r in (results[0], results[2])] == [a.tokens for a in alone]


def test_a_failing_request_fails_alone(engine):
    good = [greedy(LEADS[0], 10), greedy(LEADS[1], 10)]
    alone = sequential(engine, good)
    too_long = GenRequest("word " * 600, max_tokens=4)  # > 512 tokens: does not fit its slot
    bad_grammar = GenRequest(prompt(LEADS[2]), max_tokens=4, grammar="root ::= (")
    results = engine.generate_many([good[0], too_long, bad_grammar, good[1]],
                                   return_exceptions=True)
    assert isinstance(results[1], ModelError) and "does not fit" in str(results[1])
    assert isinstance(results[2], ModelError) and "grammar" in str(results[2])
    assert [r.tokens for r in (results[0], results[3])] == [a.tokens for a in alone]
    with pytest.raises(ModelError):
        engine.generate_many([too_long])
    assert engine.submit(good[0]).result(timeout=120).tokens == alone[0].tokens  # still serving


def test_a_queued_request_takes_the_first_free_slot(engine):
    # Four slots: one long request, three short ones, and a fifth that must wait for a slot.
    done_at: dict[int, float] = {}
    lock = threading.Lock()
    requests = [greedy(LEADS[0], 16)] + [greedy(lead, 2) for lead in LEADS[1:]] + [
        greedy(LEADS[1], 2)]
    futures = [engine.submit(r) for r in requests]
    for i, future in enumerate(futures):
        future.add_done_callback(lambda _f, i=i: _record(done_at, lock, i))
    results = [f.result(timeout=120) for f in futures]
    assert results[4].queued_seconds > 0
    assert done_at[4] < done_at[0], "the queued request waited for the long one"
    assert results[4].tokens == results[1].tokens  # same request, same output, any slot


def _record(done_at: dict[int, float], lock: threading.Lock, i: int) -> None:
    with lock:
        done_at[i] = time.perf_counter()


def test_prompt_without_the_prefix_is_prefilled_whole(engine):
    result = engine.submit(GenRequest("The capital of France is", max_tokens=3,
                                      temperature=0.0)).result(timeout=120)
    assert result.cached_tokens == 0 and result.completion_tokens == 3


def test_an_urgent_request_is_admitted_ahead_of_the_queue():
    # One slot: whatever runs first, the retry (urgent) is admitted before the two requests
    # queued ahead of it, and those two keep their order.
    settings = load_settings(config_file=None)
    done: list[str] = []
    lock = threading.Lock()
    with BatchEngine(default_model_path(), settings.model, slots=1, ctx_per_slot=512,
                     prefix_slots=0) as one:
        futures = {"running": one.submit(greedy(LEADS[0], 16)),
                   "first": one.submit(greedy(LEADS[1], 2)),
                   "second": one.submit(greedy(LEADS[2], 2)),
                   "retry": one.submit(GenRequest(prompt(LEADS[3]), max_tokens=2,
                                                  temperature=0.0, urgent=True))}
        for name, future in futures.items():
            future.add_done_callback(lambda _f, name=name: _append(done, lock, name))
        results = {name: f.result(timeout=120) for name, f in futures.items()}
    order = [name for name in done if name != "running"]
    assert order == ["retry", "first", "second"]
    assert results["retry"].queued_seconds < results["second"].queued_seconds


def _append(done: list[str], lock: threading.Lock, name: str) -> None:
    with lock:
        done.append(name)

"""Workers write for the campaign a request names, read from the `campaigns` topic (real broker,
real model): a product added from a new YAML file is written with that file's sender and facts;
a campaign the worker cannot find or that was retired is dead-lettered with the reason."""

from __future__ import annotations

import json
import threading

import pytest

from apps.campaigns import add_campaign, retire_campaign
from outreach.topics import requests_topic
from schemas.codec import AvroCodec
from tests.support.worker_helpers import Outcomes, make_request, produce, sample_leads
from generation.prompt import build_prompt
from workers.worker import run_worker

pytestmark = pytest.mark.integration
TOPIC = requests_topic("small")

# A product no training data mentions (the example briefs and the synthetic campaigns do not).
NEW_BRIEF = """\
campaign_id: tidemark-coldchain-{unique}
product: Tidemark
sender:
  name: Ilse Vandermeer
  title: Partnerships Lead
  company: Tidemark Sensors
value_proposition: Tidemark puts a coin-sized temperature logger in every pallet and alerts the
  shift lead before a cold-chain breach spoils the load.
benefits:
  - catch a failing reefer unit hours before the goods spoil
  - hand auditors a complete temperature record for every shipment
calls_to_action:
  - Could we show you a live pallet trace in a 15-minute call on Thursday?
tone: practical, short sentences
proof_points:
  - id: tm-spoilage
    text: Tidemark customers cut spoiled refrigerated shipments by 61% in their first season.
    industries: [logistics, food and beverage, shipping]
    roles: [operations, logistics]
  - id: tm-battery
    text: Each logger runs 400 days on one battery and reports over LTE-M from inside a trailer.
    roles: [cto, it]
case_studies:
  - id: tm-nordfrost
    customer: Nordfrost Fisk
    text: Nordfrost Fisk traced a failing compressor on a Bergen route two hours before the
      salmon would have warmed past 4 degrees.
    industries: [shipping, food and beverage]
"""


def _run(settings, generator, max_messages: int) -> list[dict]:
    settings = settings.model_copy(deep=True)
    settings.worker.grammar_on_retry = False  # ~15 s a retry on 2 cores; not what is tested here
    settings.escalation.llm = settings.escalation.review = False  # failures: dead letters
    settings.campaigns.worker_wait_s = 0.5
    events: list[dict] = []
    thread = threading.Thread(target=run_worker, daemon=True, kwargs=dict(
        settings=settings, stop=threading.Event(), max_messages=max_messages,
        on_event=events.append, generator=generator))
    thread.start()
    thread.join(timeout=600)
    assert not thread.is_alive()
    return events


def test_a_campaign_added_from_a_new_yaml_file_is_written_with_its_own_facts(
        worker_settings, tmp_path, unique):
    pytest.importorskip("llama_cpp")
    from outreach.settings import load_settings
    from workers.reload import open_generator
    from generation.model import resolve_model

    # The default trained miniature (outreach.yaml: campaign adapter, trained prompt), which
    # is what serves a new campaign. The untuned base copies its few-shot examples too often
    # for a handful of leads to be sure of a passing draft (0 of 3 on an Intel Xeon).
    settings = worker_settings.model_copy(update={"model": load_settings().model})
    brief = tmp_path / "tidemark.yaml"
    brief.write_text(NEW_BRIEF.format(unique=unique))
    campaign = add_campaign(settings, brief)  # what `outreach campaign add` runs
    # Leads whose industries differ, as intake would route them (campaign id + version).
    leads = [dict(lead, campaign=campaign.campaign_id, lead_id=f"tm-{unique}-{i}")
             for i, lead in enumerate(sample_leads()[i] for i in (13, 18, 5, 0))]
    requests = [dict(make_request(lead), campaign_id=campaign.campaign_id,
                     campaign_version=campaign.version) for lead in leads]
    codec = AvroCodec()
    produce(settings, TOPIC, [(r["lead"]["lead_id"].encode(),
                               codec.encode("GenerationRequest", r)) for r in requests])
    with open_generator(resolve_model(settings), settings, 1) as miniature:
        events = _run(settings, miniature, max_messages=len(requests))
    ids = {r["request_id"] for r in requests}
    seen = Outcomes(settings)
    seen.wait(lambda o: ids <= set(o.by_request()), timeout_s=60).close()

    fact_ids = {fact.id for fact in campaign.facts}
    drafts = [d for d in seen.drafts if d["request_id"] in ids]
    letters = [x for x in seen.letters if x["request_id"] in ids]
    assert len(drafts) + len(letters) == len(requests), events
    assert all(x["error_type"] == "checks_failed" for x in letters)  # a draft may fail checks
    assert drafts, "the default miniature wrote no draft that passed the checks for 4 leads"
    for draft in drafts:
        request = next(r for r in requests if r["request_id"] == draft["request_id"])
        # The prompt the worker used quotes this campaign's block and the chosen facts.
        prompt = build_prompt(request["lead"], campaign, None, settings)
        assert draft["prompt_hash"] == prompt.prompt_hash
        assert draft["campaign"] == campaign.campaign_id
        assert draft["campaign_version"] == campaign.version == 1
        assert draft["evidence_ids"] == list(prompt.evidence_ids)
        assert draft["evidence_ids"] and set(draft["evidence_ids"]) <= fact_ids
        assert prompt.text.startswith('Campaign: {"product": "Tidemark"')
        for fact_id in draft["evidence_ids"]:
            assert json.dumps(campaign.fact(fact_id).text, ensure_ascii=False) in prompt.text
        # Signed by this campaign's sender (a post-check), never a default product's.
        assert draft["body"].rstrip().endswith("Ilse Vandermeer")
    # Retrieval is per lead: the shipping lead (Nordic Shipping AB) gets the shipping case study.
    shipping = next(r for r in requests if r["lead"]["industry"] == "shipping")
    assert "tm-nordfrost" in build_prompt(shipping["lead"], campaign, None,
                                          settings).evidence_ids


def test_unknown_and_retired_campaigns_are_dead_lettered_by_the_worker(
        worker_settings, generator, tmp_path, unique):
    brief = tmp_path / "retired.yaml"
    brief.write_text(NEW_BRIEF.format(unique=f"r{unique}"))
    retired = add_campaign(worker_settings, brief)
    retire_campaign(worker_settings, retired.campaign_id)
    lead = sample_leads()[0]
    unknown = dict(make_request(dict(lead, campaign=f"nope-{unique}", lead_id=f"u-{unique}")),
                   campaign_id=f"nope-{unique}", campaign_version=1)
    gone = dict(make_request(dict(lead, campaign=retired.campaign_id, lead_id=f"g-{unique}")),
                campaign_id=retired.campaign_id, campaign_version=1)
    codec = AvroCodec()
    produce(worker_settings, TOPIC, [(r["lead"]["lead_id"].encode(),
                                      codec.encode("GenerationRequest", r)) for r in (unknown, gone)])
    events = _run(worker_settings, generator, max_messages=2)
    assert [e["kind"] for e in events] == ["dead_letter", "dead_letter"]
    seen = Outcomes(worker_settings)
    seen.wait(lambda o: {unknown["request_id"], gone["request_id"]} <= set(o.by_request()),
              timeout_s=30).close()
    by_request = seen.by_request()
    (letter,) = by_request[unknown["request_id"]]
    assert letter["error_type"] == "unknown_campaign"
    assert f"nope-{unique}" in letter["error"] and letter["stage"] == "worker"
    (letter,) = by_request[gone["request_id"]]
    assert letter["error_type"] == "retired_campaign" and "(v2)" in letter["error"]

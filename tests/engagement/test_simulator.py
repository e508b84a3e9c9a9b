"""The engagement SIMULATOR: deterministic audience model, and a simulator-driven run through
the real broker, the feedback app and Redis that fills the KPI tables and training.feedback."""

import logging
import threading
import time
from collections import Counter

import pytest

from engagement.audience import AudienceModel, measure
from apps.feedback_demo import wait_for_feedback
from outreach.kafka import make_producer
from outreach.leadgen import generate
from apps.pipeline import Services
from tests.support.sample_drafts import template_draft
from outreach.settings import SimulatorSettings, VariantSpec
from engagement.simulator import EngagementSimulator
from outreach.topics import DRAFTS
from schemas.codec import AvroCodec
from streams.routing import build_request, choose_rule
from tests.streams.feedback_helpers import kpi_totals, tuned

log = logging.getLogger(__name__)
ARMS = {"control": "generic", "mini-v2": "personalized"}


def test_audience_model_is_deterministic_under_a_seed_and_rewards_better_emails():
    leads = generate(2000, seed=4, campaign="sim-unit", suppressed=0).leads
    model, other_seed = AudienceModel(SimulatorSettings(seed=1)), AudienceModel(
        SimulatorSettings(seed=2))
    drafts = [template_draft(lead, "v", "personalized") for lead in leads[:50]]
    first = [model.react(d, lead) for d, lead in zip(drafts, leads)]
    assert first == [model.react(d, lead) for d, lead in zip(drafts, leads)]
    assert first != [other_seed.react(d, lead) for d, lead in zip(drafts, leads)]
    positive = Counter()
    for lead in leads:
        for style in ARMS.values():
            reactions = model.react(template_draft(lead, style, style), lead)
            positive[style] += any(r.true_label == "interested" for r in reactions)
    good, bad = (measure(template_draft(leads[0], s, s), leads[0]) for s in
                 ("personalized", "generic"))
    assert good.writing > 0.8 > 0.3 > bad.writing
    assert positive["personalized"] > 2.5 * positive["generic"]


@pytest.mark.integration
def test_simulator_driven_run_fills_kpis_and_feedback_topic(settings, unique, tmp_path):
    # Variant names of this test only: other tests' drafts share email.drafts.
    arms = {f"control-{unique}": "generic", f"mini-{unique}": "personalized"}
    # abtest.include_simulated: the simulator is all this run has, as in `demo --feedback`.
    settings = tuned(settings, feedback={"outcome_window_s": 5.0, "expiry_check_interval_s": 0.5},
                     simulator={"max_delay_s": 0.5, "duplicate_rate": 0.1},
                     abtest={"enabled": True, "include_simulated": True, "min_sends": 100, "evaluate_interval_s": 1.0,
                             "champion": f"control-{unique}",
                             "variants": [VariantSpec(name=name) for name in arms]})
    codec = AvroCodec()
    leads = generate(300, seed=9, campaign=f"sim-{unique}", suppressed=0).leads
    producer = make_producer(settings)
    expected = Counter()
    audience = AudienceModel(settings.simulator)
    for index, lead in enumerate(leads):
        variant = list(arms)[index % 2]
        topic, request = build_request(lead, choose_rule(lead, settings.routing), 1, 2)
        producer.produce(topic, key=lead["lead_id"], value=codec.encode("GenerationRequest",
                                                                         request))
        draft = template_draft(lead, variant, arms[variant])
        producer.produce(DRAFTS, key=draft["draft_id"], value=codec.encode("EmailDraft", draft))
        # The simulator is deterministic: what it will do is known in advance.
        reactions = audience.react(draft, lead)
        expected.update(r.type for r in reactions)
        expected["events"] += len(reactions)
    producer.flush(30)

    services = Services(settings, tmp_path)
    services.start("feedback")
    stop = threading.Event()
    simulator = EngagementSimulator(settings)
    thread = threading.Thread(target=simulator.run, args=(stop,))
    thread.start()
    try:
        summary = wait_for_feedback(settings, len(leads), time.monotonic() + 120,
                                    services=services, variants=list(arms))
        time.sleep(1.5)  # one more A/B evaluation on the final counts
        summary = wait_for_feedback(settings, len(leads), time.monotonic() + 5,
                                    services=services, variants=list(arms))
    finally:
        stop.set()
        thread.join(30)
        services.stop()
    assert summary.complete, summary
    assert simulator.stats.duplicates_sent > 0
    totals = kpi_totals(settings, [f"variant:{name}" for name in arms])
    got = Counter()
    for counts in totals.values():
        got.update({k: int(v) for k, v in counts.items() if k != "cost_usd"})
    # Every simulated reaction counted exactly once, despite the duplicates the simulator sent.
    # The simulator's events are counted apart ("simulated:<field>", streams.synthetic), so no
    # A/B decision takes them for a recipient's; together they are every reaction once.
    assert got["sent"] == len(leads)
    assert got["events"] == 0 and got["simulated:events"] == expected["events"]
    for kind in ("DELIVERED", "OPENED", "CLICKED", "REPLIED", "BOUNCED", "COMPLAINED"):
        assert got[f"simulated:{kind.lower()}"] == expected[kind], kind
    assert all(counts["sent"] == 150 for counts in totals.values())
    assert summary.examples["OUTCOME"] >= len(leads)
    log.warning("simulated run: %d drafts, %d events (%d duplicates sent); KPIs %s; "
                "A/B state %s; examples %s", got["sent"], got["simulated:events"],
                simulator.stats.duplicates_sent,
                {d: {k: round(v, 4) for k, v in summary.kpis[d]["rates"].items() if v is not None}
                 for d in totals},
                {k: summary.ab_state[k] for k in ("champion", "retired", "evidence")},
                summary.examples)
    assert summary.ab_state["evidence"] and summary.ab_state["updated_at"], "no A/B evaluation"

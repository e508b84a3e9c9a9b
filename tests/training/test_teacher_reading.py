"""Every teacher email passes a reading: ~300 emails over the default brief, the example
campaigns, synthetic and held-out campaigns, for international Faker leads (non-Latin
scripts included), with 0 article slips, 0 capitals after a lead-in, 0 contact claims the CRM
does not record, 0 pain points the campaign does not address, and the product as written.

The checks are the shared entry point (generation.checks.check_draft) plus readings of this
test's own, written independently of the teacher's helpers, so a slip in one is caught by the
other."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from generation import contact_claims
from generation.checks import check_draft
from generation.draft import Draft
from outreach import leadgen
from outreach.settings import ChecksSettings
from schemas.campaign import load_campaign
from training import campaign_synth, heldout, pain_pools, rubric, teacher_offline
from training.brief import load_brief
from training.campaign_data import script_of

ROOT = Path(__file__).parents[2]
EXAMPLES = sorted((ROOT / "campaigns").glob("**/*.yaml"))
# Spelling-level slips a reader sees: "an thought", "a HR team", "a SLA", "an URL", "an unique".
_A_BEFORE_VOWEL = re.compile(r"(?<![\w'-])[Aa] (?:[aeio]\w*|u(?!ni|s[eu]|ti|r[aeo])\w*|"
                             r"(?:HR|IT|SLA|SDR|MBA|ERP|API|AI|FAQ|SMB|NDA|HRIS|ESG|OKR|ROI)\b)")
_AN_BEFORE_CONSONANT = re.compile(r"(?<![\w'-])[Aa]n (?:[bcdgjkpqtvwyz]\w*|h(?!our|onest|eir)\w*|"
                                  r"(?:[lmnrsf](?![A-Z]))\w*|uni(?![nm])\w*|use\w*|one\b|"
                                  r"(?:URL|UK|CFO|CTO|KPI|B2B|CRM|GDPR|USB)\b)")
# "Label: Word": a capital after a colon is a slip unless the word is a name.
_AFTER_COLON = re.compile(r":[ \t]+([A-Z][\w'-]*)")


def _leads(campaign, count, rng, pains):
    rows = []
    for index in range(count):
        lead = leadgen.make_lead(rng, index, campaign.campaign_id, pains=pains)
        lead["lead_id"] = f"read-{campaign.campaign_id}-{index:03d}"
        rows.append(lead)
    return rows


def _corpus():
    """(campaign, example) for ~300 emails; leads carry on- and off-target pains."""
    rng = random.Random(22)
    demo = tuple(leadgen.PAIN_POINTS)
    out = []
    brief = load_brief(ROOT / "training" / "briefs" / "default.yaml")
    for campaign in [brief] + [load_campaign(p) for p in EXAMPLES]:
        for e in teacher_offline.teach(_leads(campaign, 44, rng, demo), campaign, seed=1):
            out.append((campaign, e))
    for campaign in campaign_synth.generate(16, seed=5)[:6]:
        pains = campaign_synth.category_of(campaign).pains + demo[:6]
        for e in teacher_offline.teach(_leads(campaign, 10, rng, pains), campaign, seed=2):
            out.append((campaign, e))
    for item in heldout.load_all():
        for e in teacher_offline.teach(heldout.leads_for(item, 6, seed=3), item.campaign, seed=3):
            out.append((item.campaign, e))
    return out


@pytest.fixture(scope="module")
def corpus():
    return _corpus()


def _names(campaign, lead):
    return {w for name in [campaign.product, campaign.sender.name, campaign.sender.company,
                           lead.get("company") or "", lead.get("first_name") or "",
                           *(f.customer or "" for f in campaign.facts)]
            for w in re.findall(r"[\w'-]+", name)}


def test_every_email_passes_a_reading(corpus):
    assert len(corpus) >= 300
    problems = []
    for campaign, e in corpus:
        text = f"{e.subject}\n{e.body}"
        found = check_draft(Draft(e.subject, e.body), e.lead, ChecksSettings(), campaign)
        found += [f"a/an: {m.group(0)!r}" for m in _A_BEFORE_VOWEL.finditer(text)]
        found += [f"a/an: {m.group(0)!r}" for m in _AN_BEFORE_CONSONANT.finditer(text)]
        found += [f"capital after a label: {m.group(0)!r}" for m in _AFTER_COLON.finditer(text)
                  if m.group(1) not in _names(campaign, e.lead) and m.group(1) != "I"]
        if not e.lead.get("notes") and contact_claims.claims(e.body):
            found.append(f"contact claim without notes: {contact_claims.claims(e.body)}")
        found += contact_claims.unsupported_claims(e.body, e.lead)
        known = pain_pools.addressed(campaign)
        if rubric.pain_used(e.body, e.lead) and e.lead["pain_point"] not in known:
            found.append(f"pain not addressed by the campaign: {e.lead['pain_point']!r}")
        product = campaign.product
        found += [f"product written {m.group(0)!r}" for m in re.finditer(
            rf"(?<![^\W_]){re.escape(product)}(?![^\W_])", text, re.IGNORECASE)
            if m.group(0) != product]
        found += [f for f in rubric.score(e.subject, e.body, e.lead, campaign).flags]
        if found:
            problems.append((campaign.campaign_id, e.subject, e.body, found))
    assert problems == [], problems[:3]


def test_the_corpus_covers_what_it_claims(corpus):
    """Non-Latin leads, notes, pains used and left unused, and every structure and opener
    family occur, so the reading above is not vacuous."""
    scripts = {script_of(e.lead) for _, e in corpus}
    assert scripts == {"latin", "non_latin"}
    with_notes = [e for _, e in corpus if e.lead.get("notes")]
    assert len(with_notes) >= 40
    used = [e for _, e in corpus if rubric.pain_used(e.body, e.lead)]
    unused = [e for c, e in corpus if e.lead.get("pain_point")
              and e.lead["pain_point"] not in pain_pools.addressed(c)]
    assert len(used) >= 40 and len(unused) >= 60
    assert len({e.body.split("\n\n")[1].split(". ")[0][:25] for _, e in corpus}) >= 60
    assert len({e.subject.split(" ")[0] for _, e in corpus}) >= 5

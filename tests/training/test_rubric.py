"""The rubric catches planted hallucinations, spam and broken structure, without an LLM."""

from __future__ import annotations

from training import rubric

LEAD = {"lead_id": "L1", "first_name": "Ann", "company": "Northwind Logistics",
        "role": "Head of Sales", "industry": "logistics", "company_size": 420,
        "pain_point": "reps spend hours writing first-touch emails"}
GOOD = ("Hi Ann,\n\nI noticed that at Northwind Logistics, reps spend hours writing first-touch "
        "emails. With Miniature Outreach, small language models fine-tuned on your own best "
        "emails write a personal first-touch email for every lead in seconds. For a team of 420, "
        "that adds up. Would you be open to a 15-minute call next week?\n\nBest,\nSam")


def test_grounded_email_scores_full_marks(brief):
    score = rubric.score("A quick idea for Northwind Logistics", GOOD, LEAD, brief)
    assert score.flags == []
    assert score.overall == 1.0


def test_planted_names_and_numbers_are_flagged(brief):
    planted = GOOD.replace("For a team of 420, that adds up.",
                           "Jennifer Walsh at Globex cut costs by 37% across 1,200 reps.")
    score = rubric.score("A quick idea for Northwind Logistics", planted, LEAD, brief)
    flagged = " ".join(score.flags)
    for invented in ("Jennifer", "Walsh", "Globex", "37", "1200"):
        assert invented in flagged, score.flags
    assert "420" not in flagged and "Northwind" not in flagged
    assert score.grounding < 0.2


def test_sentence_start_names_and_claims(brief):
    text = GOOD.replace("For a team of 420, that adds up.",
                        "Zendesk is trusted by our clients. We are award-winning.")
    flags = rubric.grounding_flags(text, LEAD, brief)
    assert any("Zendesk" in f for f in flags)
    assert any("award-winning" in f for f in flags) and any("trusted by" in f for f in flags)


def test_structure_spam_and_personalization(brief):
    bad = "Dear customer,\n\nACT NOW: click here for a FREE guaranteed deal!! Call today? Or reply?"
    score = rubric.score("", bad, LEAD, brief)
    assert score.personalization == 0
    # Only the greeting line passes: no subject, 16 words, 2 calls to action, no sign-off.
    assert abs(score.structure - 0.2) < 1e-9
    assert {"2 calls to action (want exactly 1)", "no sign-off"} <= set(score.flags)
    assert score.spam == 0
    assert "pain point not addressed" in score.flags


def test_a_fact_from_another_campaign_is_flagged():
    """Grounding uses the request's own campaign: another campaign's customer, product,
    number or fact sentence in the email is a hallucination, named as such."""
    from pathlib import Path

    from schemas.campaign import load_campaign

    examples = Path(__file__).parents[2] / "campaigns" / "examples"
    ledger = load_campaign(examples / "ledgerline-ap.yaml")
    shift = load_campaign(examples / "shiftwise-scheduling.yaml")
    lead = {"first_name": "Ann", "company": "Northwind Logistics", "industry": "logistics",
            "pain_point": "month-end close takes more than a week"}
    own = ledger.fact("cs-harbor-freight").text
    good = (f"Hi Ann,\n\nI noticed that at Northwind Logistics, month-end close takes more than "
            f"a week. {own} Would a 20-minute walkthrough next Tuesday or Wednesday work for "
            "you?\n\nBest,\nPriya Raman")
    clean = rubric.score("An idea for Northwind Logistics", good, lead, ledger, others=[shift])
    assert clean.flags == [] and clean.foreign == []
    for planted, marker in [
            (shift.fact("sw-cs-hospital").text, "St"),  # customer + sentence + numbers
            ("Shiftwise customers see the same.", "Shiftwise"),  # the other product
            ("Customers cut unplanned overtime by 23% in their first six months.", "six months"),
            ("Agency costs fell for 1,400 nurses.", "number 1400")]:
        bad = good.replace(own, own + " " + planted)
        score = rubric.score("An idea for Northwind Logistics", bad, lead, ledger,
                             others=[ledger, shift])
        assert score.foreign, planted
        assert all("shiftwise-frontline" in f for f in score.foreign)
        assert any(marker in f for f in score.foreign), score.foreign
        assert score.grounding < clean.grounding
    # The same sentence is grounded for its own campaign.
    theirs = good.replace(own, shift.fact("sw-cs-hospital").text)
    assert rubric.foreign_facts(theirs, lead, shift, [ledger]) == []

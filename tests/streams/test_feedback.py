"""FeedbackExample building: outcome labels, rewards, PII redaction (pure functions)."""

from outreach.settings import FeedbackSettings
from streams.feedback import (outcome_example, preference_example, primary_outcome, redact_lead,
                              redact_text)

DRAFT = {"draft_id": "d1", "request_id": "r1", "lead_id": "L1", "campaign": "c",
         "to_email": "ann@acme.example", "to_name": "Ann", "company": "Acme",
         "subject": "Hi Ann", "body": "Call me at +44 20 7946 0958 or ann@acme.example. $12,000.",
         "model_id": "m", "model_version": "2", "variant": "v"}
LEAD = {"lead_id": "L1", "campaign": "c", "email": "ann@acme.example", "first_name": "Ann",
        "company": "Acme", "notes": "mobile 555-123-4567", "created_at": 1}


def test_severest_outcome_wins_and_rewards_follow_settings():
    assert primary_outcome({"opened", "clicked", "complained"}) == "complained"
    assert primary_outcome({"opened"}) == "opened" and primary_outcome(set()) == "ignored"
    example = outcome_example(DRAFT, LEAD, {"opened", "interested", "replied"},
                              FeedbackSettings(), 5)
    assert example["labels"][0] == "interested" and example["reward"] == 1.0


def test_emails_and_phone_numbers_are_redacted_or_hashed_but_prices_stay():
    text = redact_text(DRAFT["body"], "redact")
    assert text == "Call me at <phone> or <email>. $12,000."
    hashed = redact_text(DRAFT["body"], "hash", salt="s")
    assert "<phone:" in hashed and "<email:" in hashed and "0958" not in hashed
    assert redact_text(DRAFT["body"], "hash", salt="s") == hashed  # stable, joinable in-house
    assert redact_text(DRAFT["body"], "keep") == DRAFT["body"]
    lead = redact_lead(LEAD, "redact")
    assert lead["email"] == "<email>" and lead["notes"] == "mobile <phone>"


def test_preference_pair_carries_both_drafts():
    cfg = FeedbackSettings()
    good = outcome_example(DRAFT, LEAD, {"interested"}, cfg, 5)
    bad = outcome_example(dict(DRAFT, draft_id="d2", body="meh"), LEAD, set(), cfg, 5)
    pair = preference_example(good, bad, cfg, 6)
    assert pair["kind"] == "PREFERENCE_PAIR" and pair["rejected_draft_id"] == "d2"
    assert pair["labels"] == ["chosen:interested", "rejected:ignored"] and pair["reward"] == 1.0

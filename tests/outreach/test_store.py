import time

from outreach.store import CLAIMED, IN_FLIGHT, SENT, SyncStore


def test_a_pending_claim_is_retried_never_skipped_and_a_sent_one_is_skipped(settings, unique):
    settings = settings.model_copy(update={"redis": settings.redis.model_copy(
        update={"pending_claim_ttl_s": 1})})
    store = SyncStore(settings)
    draft = f"drf-{unique}"
    assert store.claim_draft(draft) == CLAIMED
    # A sender that died after claiming: the redelivery must wait, not drop the draft...
    assert store.claim_draft(draft) == IN_FLIGHT
    time.sleep(1.2)
    # ...and may send once the dead sender's claim has expired.
    assert store.claim_draft(draft) == CLAIMED
    store.mark_sent(draft)
    assert store.claim_draft(draft) == SENT
    store.release_draft(f"drf-other-{unique}")  # releasing an unknown id is harmless
    assert store.claim_draft(f"drf-other-{unique}") == CLAIMED


def test_suppression_matches_address_or_domain_case_insensitively(settings, unique):
    store = SyncStore(settings)
    store.suppress(f"Ann@{unique}.example", f"blocked-{unique}.example")
    assert store.is_suppressed(f"ann@{unique}.EXAMPLE")
    assert store.is_suppressed(f"anyone@blocked-{unique}.example")
    assert not store.is_suppressed(f"bob@{unique}.example")

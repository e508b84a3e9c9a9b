"""Rolling bounce and complaint rates on a real Redis: what pauses, what does not, and resume."""

from __future__ import annotations

from outreach.settings import GuardrailSettings, Settings
from outreach.store import sync_client
from sending.guardrails import Guardrails, wilson_lower
from sending.keys import prefix
from sending.mailboxes import MailboxBook

T0 = 1_800_000_000_000
MINUTE = 60_000


def guard(settings: Settings, **cfg) -> Guardrails:
    client = sync_client(settings.redis_url or "")
    return Guardrails(client, prefix(settings), GuardrailSettings(**cfg),
                      MailboxBook(client, prefix(settings)))


def send(g: Guardrails, n: int, campaign: str = "camp", mailbox: str = "mb@x.example",
         start: int = 0) -> list[str]:
    ids = [f"d{start + i}" for i in range(n)]
    for i, draft_id in enumerate(ids):
        g.record_send(draft_id, campaign, mailbox, T0 + i * MINUTE)
    return ids


def test_noise_does_not_pause_but_a_wave_does(settings: Settings) -> None:
    g = guard(settings, min_sends=50)
    ids = send(g, 58)
    trips = [t for d in ids[:3] for t in g.record_event(d, "BOUNCED", T0 + 60 * MINUTE)]
    assert trips == []  # 3 in 58 (5.2%) is a 2% list's bad luck, not a burning domain
    wave = send(g, 30, start=100)
    trips = [t for d in wave[:12] for t in g.record_event(d, "BOUNCED", T0 + 90 * MINUTE)]
    assert [(t.kind, t.name) for t in trips] == [("campaign_paused", "camp"),
                                                 ("mailbox_paused", "mb@x.example")]
    assert g.campaign_paused("camp") and "bounce rate" in trips[0].reason
    assert g.resume_campaign("camp", T0 + 100 * MINUTE) and not g.campaign_paused("camp")
    assert g.rates("c", "camp", T0 + 100 * MINUTE)[0] == 0  # the window starts afresh


def test_one_event_per_bounce_and_none_for_other_types(settings: Settings) -> None:
    g = guard(settings, min_sends=10, confidence_z=0)
    ids = send(g, 10)
    assert g.record_event(ids[0], "OPENED", T0) == []
    assert g.record_event("never-sent", "BOUNCED", T0) == []
    g.record_event(ids[1], "BOUNCED", T0 + MINUTE)
    assert g.rates("c", "camp", T0 + MINUTE)[1] == 0.1
    assert g.record_event(ids[1], "BOUNCED", T0 + MINUTE) == []  # an ESP's retry counts once
    assert g.rates("c", "camp", T0 + MINUTE)[1] == 0.1


def test_a_complaint_rate_past_gmails_line_pauses(settings: Settings) -> None:
    g = guard(settings, min_sends=50)
    ids = send(g, 200)
    trips = [t for d in ids[:3] for t in g.record_event(d, "COMPLAINED", T0 + 300 * MINUTE)]
    assert {t.kind for t in trips} == {"campaign_paused", "mailbox_paused"}
    assert "complaint rate" in trips[0].reason


def test_wilson_lower_bound() -> None:
    assert wilson_lower(0, 0, 1.645) == 0.0
    assert wilson_lower(5, 100, 0) == 0.05
    assert 0.02 < wilson_lower(3, 58, 1.645) < 0.03

"""The operator app (apps/review_server.py: review queue, approval queue, dashboard) served for
tests, and what its HTTP and browser tests each set up: the app on uvicorn with its review
store and approval publisher (a Kafka producer thread, so it is closed after the server
stops), the login a person does, a lead for a held draft, and a campaign whose checks an edit
can pass. The browser is tests/support/browser.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from apps.campaigns import publish_campaign
from apps.review_server import create_review_app
from outreach.settings import Settings
from schemas.campaign import Campaign, parse_campaign
from tests.training.servers import serve
from training.review_store import ReviewStore


@contextlib.contextmanager
def operator_app(settings: Settings, store_path: Path, token: Any, score: Any = None,
                 examples: Iterable[Any] = (), wrap: Callable[[Any], Any] | None = None
                 ) -> Iterator[tuple[str, ReviewStore]]:
    """The operator app on a free loopback port: yields (base URL, its review store), the store
    at ``store_path`` holding ``examples``; ``score`` checks edits (apps.review_server.edit_checks);
    ``wrap`` returns the ASGI app that is served around it."""
    with ReviewStore(store_path) as store:
        examples = list(examples)
        if examples:
            store.add(examples)
        app, publisher = create_review_app(settings, store, token, score)
        try:
            with serve(wrap(app) if wrap else app) as url:
                yield url, store
        finally:
            publisher.close()


def sign_in(page: Any, url: str, token: str) -> None:
    """Sign in with the login form, as a person does (the session cookie lands on the page's
    context)."""
    page.goto(f"{url}/login")
    page.fill("input[name=token]", token)
    with page.expect_navigation():
        page.click("button")


def held_lead(n: int, campaign: str) -> dict[str, Any]:
    """The lead record a held draft for lead ``n`` of ``campaign`` is shown with."""
    return {"lead_id": f"lead-{n}", "campaign": campaign, "email": f"lead{n}@{campaign}.example",
            "first_name": f"Lead{n}", "last_name": None, "company": "Acme GmbH", "role": None,
            "industry": None, "company_size": None, "pain_point": None, "notes": None,
            "lead_score": 50, "deal_size": 0.0, "segment": "smb", "priority": "normal",
            "source": "crm", "created_at": 1_767_225_600_000}


def publish_relaywise(settings: Settings, campaign_id: str) -> Campaign:
    """A small campaign the edit checks can read (published, acknowledged): the drafts of
    ``passing_body`` pass them, so a test's edit fails only on what it adds."""
    return publish_campaign(settings, parse_campaign({
        "campaign_id": campaign_id, "product": "Relaywise",
        "sender": {"name": "Noor Haddad", "company": "Relaywise"},
        "value_proposition": "Relaywise drafts a personal follow-up for every inquiry.",
        "calls_to_action": ["Would you be open to a 15-minute call next week?"],
        "proof_points": [{"id": "pp-1", "text": "Teams answer inquiries 3x faster."}]}))


def passing_body(n: int) -> str:
    """A body for lead ``n`` of a Relaywise campaign that passes the workers' checks."""
    return (f"Hi Lead{n},\n\nRelaywise drafts a personal follow-up for every inquiry, so teams "
            "answer inquiries 3x faster. It fits how Acme GmbH handles requests today and takes "
            "a day to set up.\n\nWould you be open to a 15-minute call next week?\n\n"
            "Best,\nNoor Haddad")

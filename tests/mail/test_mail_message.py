"""EmailDraft -> RFC 5322: headers, identity, and what a model or a CRM may smuggle in."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest

from outreach.errors import SchemaError
from mail.message import build_message, message_id, safe_token

from mail_helpers import make_draft

FROM = "Acme Sales <sales@acme.example>"


def roundtrip(draft: dict) -> object:
    """Serialize and parse again, as the receiving server would see it."""
    return message_from_bytes(bytes(build_message(draft, FROM)), policy=policy.default)


def test_headers_carry_the_draft_identity():
    draft = make_draft("spring", 7)
    msg = roundtrip(draft)
    assert msg["Message-ID"] == "<drf-spring-7@acme.example>"
    assert msg["X-Outreach-Draft-Id"] == "drf-spring-7"
    assert msg["X-Outreach-Campaign"] == "spring"
    # Folded at 78 columns (RFC 5322 2.1.1), so the unfolded value starts with a space.
    assert msg["List-Unsubscribe"].strip() == (
        "<mailto:sales@acme.example?subject=unsubscribe%20drf-spring-7>")
    assert msg["Date"]
    assert msg.get_content_type() == "text/plain"


def test_non_ascii_names_and_body_survive_the_wire():
    draft = make_draft("fr", 1, to_name="Zoë Müller, PhD", subject="Café — une idée",
                       body="Bonjour Zoë,\n\nvoilà €5 de réduction.\n")
    msg = roundtrip(draft)
    assert msg["To"] == f'"Zoë Müller, PhD" <{draft["to_email"]}>'
    assert msg["Subject"] == "Café — une idée"
    assert msg.get_content().startswith(draft["body"])
    assert msg.get_content().rstrip().endswith('Reply "unsubscribe" and we will not write again.')


def test_line_breaks_cannot_inject_headers():
    draft = make_draft("x", 1, subject="Hello\r\nBcc: victim@example.com", to_name="A\nB")
    msg = roundtrip(draft)
    assert msg["Subject"] == "Hello Bcc: victim@example.com"
    assert msg["Bcc"] is None
    assert msg["To"].startswith("A B <")


@pytest.mark.parametrize("address", ["no-at-sign", "", "two words@example.com"])
def test_unaddressable_draft_is_a_schema_error(address):
    with pytest.raises(SchemaError) as caught:
        build_message(make_draft("x", 1, to_email=address), FROM)
    assert caught.value.code == "invalid_message"


def test_ids_are_reduced_to_safe_characters():
    assert safe_token("../../etc/passwd") == "etc_passwd"
    assert safe_token("<>") == "unnamed"
    assert message_id("drf 1/<x>", "no address") == "<drf_1_x@outreach.invalid>"
    assert message_id("drf-1", "Sales <sales@acme.example>") == "<drf-1@acme.example>"


def test_list_unsubscribe_stays_a_readable_uri_on_the_wire():
    draft = make_draft("unsub", 1, draft_id="drf-4db23934357c8f5f5899636f")
    wire = bytes(build_message(draft, "Outreach <o@example.com>")).decode()
    header = next(line for line in wire.splitlines() if line.startswith("List-Unsubscribe:"))
    assert header == ("List-Unsubscribe: <mailto:o@example.com?subject=unsubscribe%20"
                      "drf-4db23934357c8f5f5899636f>")

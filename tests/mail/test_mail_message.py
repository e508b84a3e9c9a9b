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


def test_nothing_internal_in_the_headers():
    # The model ("gemma-3-270m...", "LOCAL STAND-IN for a hosted LLM"), the A/B arm and the
    # campaign id stay on the Kafka draft record; only the opaque draft id is on the mail.
    draft = make_draft("spring", 7, model_id="llm:qwen", model_version="LOCAL STAND-IN for a "
                       "hosted LLM", variant="miniature-a")
    wire = bytes(build_message(draft, FROM)).decode()
    headers = wire.split("\r\n\r\n", 1)[0] if "\r\n\r\n" in wire else wire.split("\n\n", 1)[0]
    for internal in ("STAND-IN", "qwen", "miniature-a", "X-Outreach-Model", "X-Outreach-Variant",
                     "X-Outreach-Campaign", "spring\n"):
        assert internal not in headers, internal
    assert [h for h in roundtrip(draft).keys() if h.startswith("X-")] == ["X-Outreach-Draft-Id"]


def test_the_campaign_sender_is_the_from_reply_to_and_signature():
    draft = make_draft("id", 1, from_name="Priya Raman", from_email="priya@ledgerline.example",
                       reply_to="", postal_address="Ledgerline Inc., 1 Main St, Austin, TX 78701",
                       body="Hi Ann,\n\nText.\n\nBest,\nPriya Raman")
    msg = roundtrip(draft)
    assert msg["From"] == "Priya Raman <priya@ledgerline.example>"
    assert msg["Reply-To"] == "priya@ledgerline.example"
    assert msg["Message-ID"].endswith("@ledgerline.example>")
    assert "mailto:priya@ledgerline.example" in msg["List-Unsubscribe"]
    content = msg.get_content()
    assert content.startswith(draft["body"])  # signed by the From name
    footer = content.split("\n--\n", 1)[1]
    assert footer.splitlines() == [
        'Not interested? Reply "unsubscribe" and we will not write again.',
        "Ledgerline Inc., 1 Main St, Austin, TX 78701"]


def test_a_separate_reply_to_and_a_non_ascii_sender_name():
    draft = make_draft("id", 2, from_name="佐藤 花子", from_email="hanako@sato.example",
                       reply_to="sales@sato.example")
    msg = roundtrip(draft)
    assert msg["From"] == "佐藤 花子 <hanako@sato.example>"
    assert msg["Reply-To"] == "sales@sato.example"


def test_a_draft_without_a_mailbox_leaves_from_the_configured_address_under_its_sender():
    msg = roundtrip(make_draft("id", 3, from_name="Noor Haddad"))
    assert msg["From"] == "Noor Haddad <sales@acme.example>"
    assert msg["Reply-To"] is None
    assert roundtrip(make_draft("id", 4))["From"] == FROM  # older records: as configured


def test_a_bad_sender_mailbox_is_a_schema_error():
    with pytest.raises(SchemaError):
        build_message(make_draft("id", 5, from_email="not an address"), FROM)

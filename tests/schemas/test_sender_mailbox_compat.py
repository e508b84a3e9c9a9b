"""The campaign sender's mailbox (email, reply_to, postal_address, title_in_signature) and the
draft's copy of it (from_name, from_email, reply_to, postal_address) are optional with defaults:
campaigns and drafts written before them still decode, and validate, unchanged."""

from __future__ import annotations

import copy
import io
import json

import fastavro
import pytest

from outreach.errors import CampaignError
from schemas.campaign import parse_campaign
from schemas.codec import AVRO_DIR, AvroCodec
from tests.support.worker_helpers import sample_campaign, sample_campaign_doc

SENDER_NEW = ("email", "reply_to", "postal_address", "title_in_signature")
DRAFT_NEW = ("from_name", "from_email", "reply_to", "postal_address")


def _old_campaign_schema(codec: AvroCodec):
    raw = copy.deepcopy(json.loads((AVRO_DIR / "campaign.avsc").read_text()))
    sender = next(f for f in raw["fields"] if f["name"] == "sender")
    sender["type"]["fields"] = [f for f in sender["type"]["fields"]
                                if f["name"] not in SENDER_NEW]
    return codec.store.add(raw)


def _old_record() -> dict:
    record = sample_campaign().to_record()
    record["sender"] = {k: v for k, v in record["sender"].items() if k not in SENDER_NEW}
    return record


def test_an_old_campaign_record_decodes_with_the_defaults_and_validates():
    codec = AvroCodec()
    data = codec.encode("Campaign", _old_record(), schema=_old_campaign_schema(codec))
    decoded = codec.decode(data, "Campaign")
    assert {k: decoded["sender"][k] for k in SENDER_NEW} == {
        "email": "", "reply_to": "", "postal_address": "", "title_in_signature": False}
    campaign = parse_campaign(decoded)
    assert campaign.sender.email == "" and campaign.sender.name == "Noor Haddad"
    assert parse_campaign(_old_record()) == campaign  # an old YAML brief, too


def test_a_new_campaign_round_trips_and_an_old_reader_skips_the_mailbox():
    codec = AvroCodec()
    doc = sample_campaign_doc(sender={"name": "Noor Haddad", "company": "Relaywise",
                                      "email": "noor@relaywise.example",
                                      "postal_address": "1 Main St, Springfield"})
    data = codec.encode("Campaign", parse_campaign(doc).to_record())
    assert parse_campaign(codec.decode(data, "Campaign")).sender.email == "noor@relaywise.example"
    old = _old_campaign_schema(codec)
    writer = codec.store.by_fingerprint[data[2:10]]
    decoded = fastavro.schemaless_reader(io.BytesIO(data[10:]), writer.parsed, old.parsed)
    assert "email" not in decoded["sender"] and decoded["sender"]["name"] == "Noor Haddad"


@pytest.mark.parametrize("bad", ["noor", "noor@", "a b@c.example", "<noor@x.example>"])
def test_a_malformed_mailbox_is_refused_by_field(bad):
    with pytest.raises(CampaignError, match=r"sender\.email"):
        parse_campaign(sample_campaign_doc(sender={"name": "N", "company": "C", "email": bad}))


def test_an_old_draft_decodes_with_an_empty_mailbox():
    from tests.mail.mail_helpers import make_draft

    codec = AvroCodec()
    raw = copy.deepcopy(json.loads((AVRO_DIR / "email_draft.avsc").read_text()))
    raw["fields"] = [f for f in raw["fields"] if f["name"] not in DRAFT_NEW]
    data = codec.encode("EmailDraft", make_draft("c", 1), schema=codec.store.add(raw))
    decoded = codec.decode(data, "EmailDraft")
    assert {k: decoded[k] for k in DRAFT_NEW} == dict.fromkeys(DRAFT_NEW, "")

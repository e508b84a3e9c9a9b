"""The lead's location fields (time_zone, country, phone; for the sending engine's business
hours) are optional with null defaults: a lead written before them still decodes, a new one
round-trips them, and the sending engine reads them before it guesses from the address."""

from __future__ import annotations

import copy
import json

from outreach.leadgen import generate
from outreach.settings import HoursSettings
from schemas.codec import AVRO_DIR, AvroCodec
from sending.hours import recipient_of

NEW = ("time_zone", "country", "phone")


def test_an_old_lead_decodes_with_null_location_fields():
    codec = AvroCodec()
    raw = copy.deepcopy(json.loads((AVRO_DIR / "lead.avsc").read_text()))
    raw["fields"] = [f for f in raw["fields"] if f["name"] not in NEW]
    old_schema = codec.store.add(raw)
    lead = generate(1).leads[0]
    decoded = codec.decode(codec.encode("Lead", lead, schema=old_schema), "Lead")
    assert {k: decoded[k] for k in NEW} == dict.fromkeys(NEW)
    assert decoded["email"] == lead["email"]


def test_a_leads_location_round_trips_and_decides_the_recipients_zone():
    codec = AvroCodec()
    lead = dict(generate(1).leads[0], email="kenji@example.com", time_zone="Asia/Tokyo",
                country="JP", phone="+81 3 1234 5678")
    decoded = codec.decode(codec.encode("Lead", lead), "Lead")
    assert {k: decoded[k] for k in NEW} == {k: lead[k] for k in NEW}
    who = recipient_of(decoded["email"], HoursSettings(), time_zone=decoded["time_zone"],
                       country=decoded["country"], phone=decoded["phone"])
    assert (who.time_zone, who.country, who.source) == ("Asia/Tokyo", "JP", "lead")
    # Without the zone, the phone's calling code names the country (a .com address cannot).
    by_phone = recipient_of("kenji@example.com", HoursSettings(), phone="+49 30 1234567")
    assert (by_phone.country, by_phone.source) == ("DE", "phone")


def test_a_country_that_is_not_a_code_is_ignored():
    """The field is the CRM's text: "<script>" or 500 letters name no country (the default
    zone decides, and nothing of it is stored with the scheduled draft)."""
    for junk in ("<script>", "x" * 500, "Deutschland"):
        who = recipient_of("a@b.com", HoursSettings(), country=junk)
        assert who.country == HoursSettings().default_country and who.source == "default"

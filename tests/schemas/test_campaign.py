import copy
import json
from pathlib import Path

import pytest

from outreach.errors import CampaignError, OutreachError
from schemas.campaign import Campaign, load_campaign, parse_campaign
from schemas.codec import AVRO_DIR, AvroCodec, SchemaStore

EXAMPLES = sorted((Path(__file__).parents[2] / "campaigns" / "examples").glob("*.yaml"))


def brief(**overrides):
    doc = {"campaign_id": "acme-q1", "product": "Acme Ledger",
           "sender": {"name": "Zoë Brandt", "title": "AE", "company": "Acme"},
           "value_proposition": "Acme Ledger closes the books faster",
           "benefits": ["cut month-end close by days."],
           "calls_to_action": ["Would a short call on Friday work?"],
           "proof_points": [{"id": "p1", "text": "Customers close in 4 days", "roles": ["cfo"]}],
           "case_studies": [{"id": "c1", "text": "Voss GmbH cut close from 9 to 4 days.",
                             "customer": "Voss GmbH", "industries": ["manufacturing"]}]}
    doc.update(overrides)
    return doc


def write(tmp_path, doc, name="acme.yaml"):
    import yaml

    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    return path


def test_examples_load_and_are_distinct_products():
    campaigns = [load_campaign(path) for path in EXAMPLES]
    assert len(campaigns) >= 2
    assert len({c.product for c in campaigns}) == len(campaigns)
    assert all("Miniature Outreach" not in c.source_text() for c in campaigns)
    assert all(len(c.facts) >= 3 for c in campaigns)


def test_yaml_brief_is_normalised(tmp_path):
    campaign = load_campaign(write(tmp_path, brief()))
    assert campaign.key == ("acme-q1", 1) and campaign.status == "active"
    # Facts and the value proposition are full sentences; benefits are mid-sentence phrases.
    assert campaign.value_proposition.endswith(".")
    assert campaign.proof_points[0].text == "Customers close in 4 days."
    assert campaign.benefits == ("cut month-end close by days",)
    assert [f.id for f in campaign.facts] == ["p1", "c1"]
    assert campaign.fact("c1").customer == "Voss GmbH"


def test_errors_name_the_file_and_the_field_path(tmp_path):
    doc = brief()
    doc["case_studies"] = [{"id": "c1", "text": "x"}, {"id": "c2", "text": "y"}, {"text": "z"}]
    with pytest.raises(CampaignError) as err:
        load_campaign(write(tmp_path, doc))
    assert "acme.yaml: case_studies[2].id: Field required" in str(err.value)
    assert isinstance(err.value, OutreachError) and err.value.code == "invalid_campaign"


@pytest.mark.parametrize("change, message", [
    ({"calls_to_action": ["Call me."]}, "calls_to_action[0]: Value error, a call to action"),
    ({"proof_points": [{"id": "c1", "text": "dup."}]}, "duplicate fact id 'c1'"),
    ({"proof_points": [], "case_studies": []}, "at least one proof point or case study"),
    ({"campaign_id": "has spaces"}, "campaign_id: String should match pattern"),
    ({"product": "x" * 81}, "product: String should have at most 80 characters"),
    ({"proof_points": [{"id": f"p{i}", "text": "t."} for i in range(65)]},
     "proof_points: Tuple should have at most 64 items"),
    ({"body_min_words": 300, "body_max_words": 200}, "body_min_words must be below"),
    ({"unknown": 1}, "unknown: Extra inputs are not permitted"),
    ({"allowed_urls": ["javascript:alert(1)"]}, "allowed URL must start with"),
])
def test_invalid_briefs_are_rejected_with_the_reason(tmp_path, change, message):
    with pytest.raises(CampaignError) as err:
        load_campaign(write(tmp_path, brief(**change)))
    assert message.replace("Value error, ", "") in str(err.value)


def test_unreadable_files_are_campaign_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("product: [unclosed")
    with pytest.raises(CampaignError, match="bad.yaml: not valid YAML"):
        load_campaign(bad)
    with pytest.raises(CampaignError, match="missing.yaml: cannot read"):
        load_campaign(tmp_path / "missing.yaml")
    with pytest.raises(CampaignError, match="a campaign must be a mapping"):
        parse_campaign(["a", "list"])


def test_avro_round_trip_through_the_codec(tmp_path):
    codec = AvroCodec()
    campaign = load_campaign(EXAMPLES[0]).model_copy(update={"updated_at": 1_760_000_000_000})
    data = codec.encode("Campaign", campaign.to_record(), topic="campaigns")
    decoded = codec.decode(data, "Campaign")
    assert Campaign.from_record(decoded) == campaign
    # Non-ASCII text survives byte-exact.
    uni = parse_campaign(brief(product="Łódź Ledger — 会計"))
    assert Campaign.from_record(codec.decode(codec.encode("Campaign", uni.to_record()),
                                             "Campaign")).product == "Łódź Ledger — 会計"


def test_from_record_rejects_an_invalid_record():
    record = parse_campaign(brief()).to_record()
    record["calls_to_action"] = []
    with pytest.raises(CampaignError, match="calls_to_action"):
        Campaign.from_record(record)


def test_schema_evolution_both_ways():
    """A consumer on today's schema reads a newer writer's records (an added field with a
    default), and a consumer that ships the newer schema reads today's records."""
    raw = json.loads((AVRO_DIR / "campaign.avsc").read_text())
    v2 = copy.deepcopy(raw)
    v2["fields"].append({"name": "segment", "type": ["null", "string"], "default": None})
    record = parse_campaign(brief()).to_record()
    store = SchemaStore()
    v2_parsed = store.add(v2)
    codec = AvroCodec(store)
    from_v2 = codec.decode(codec.encode("Campaign", {**record, "segment": "enterprise"},
                                        schema=v2_parsed), "Campaign")
    assert Campaign.from_record(from_v2) == Campaign.from_record(record)
    # Today's bytes decoded by a v2 reader get the new field's default.
    v2_store = SchemaStore()
    v2_store.current["Campaign"] = v2_store.add(v2)
    v2_codec = AvroCodec(v2_store)
    decoded = v2_codec.decode(AvroCodec().encode("Campaign", record), "Campaign")
    assert decoded["segment"] is None and decoded["product"] == "Acme Ledger"

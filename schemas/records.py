"""One typed class per Avro record (schemas/avro/*.avsc): what the codecs return and accept.

TypedDicts, not dataclasses: the codecs hand fastavro's dicts through unchanged (no copy per
record at 10,000 leads/s), and a type checker still sees a misspelt or renamed field at the
call site instead of a KeyError somewhere downstream. tests/schemas/test_records.py checks every
class against its .avsc (names, types, optionality), so a schema change without the matching
class change fails CI.

Nested records are classes of their own (Lead inside GenerationRequest and FeedbackExample,
CampaignSender and CampaignFact inside Campaign). timestamp-millis fields are epoch
milliseconds (int) on the wire; the JSON path (codec.from_json) accepts ISO 8601 as well.
"""

from __future__ import annotations

from typing import Literal, Optional, TypedDict


class Lead(TypedDict):
    lead_id: str
    campaign: str
    email: str
    first_name: str
    last_name: Optional[str]
    company: str
    role: Optional[str]
    industry: Optional[str]
    company_size: Optional[int]
    pain_point: Optional[str]
    notes: Optional[str]
    lead_score: int
    deal_size: float
    segment: str
    priority: str
    source: str
    created_at: int


class GenerationRequest(TypedDict):
    request_id: str
    lead: Lead
    tier: str
    variant: str
    rule: str
    attempt: int
    received_at: int
    routed_at: int
    campaign_id: str
    campaign_version: int
    rung: str
    rung_reasons: list[str]
    review: bool
    withheld: dict[str, str]
    screening_reasons: list[str]
    step: int
    previous_subject: str
    previous_body: str
    thread_draft_ids: list[str]


class EmailDraft(TypedDict):
    draft_id: str
    request_id: str
    lead_id: str
    campaign: str
    to_email: str
    to_name: str
    company: str
    subject: str
    body: str
    tier: str
    variant: str
    model_id: str
    model_sha256: str
    model_version: str
    prompt_hash: str
    prompt_tokens: int
    completion_tokens: int
    attempts: int
    latency_ms: float
    lead_to_draft_ms: float
    estimated_cost_usd: float
    created_at: int
    campaign_version: int
    evidence_ids: list[str]
    rung: str
    rung_reasons: list[str]
    review_status: str
    reviewed_by: str
    from_name: str
    from_email: str
    reply_to: str
    postal_address: str
    step: int
    thread_draft_ids: list[str]


EngagementType = Literal["DELIVERED", "OPENED", "CLICKED", "REPLIED", "BOUNCED",
                         "UNSUBSCRIBED", "COMPLAINED", "UNKNOWN"]
FeedbackKind = Literal["OUTCOME", "PREFERENCE_PAIR"]
ReleaseRole = Literal["CHAMPION", "CHALLENGER", "ROLLBACK"]


class EngagementEvent(TypedDict):
    event_id: str
    draft_id: str
    type: EngagementType
    email: Optional[str]
    reply_text: Optional[str]
    url: Optional[str]
    source: str
    occurred_at: int


class FeedbackExample(TypedDict):
    example_id: str
    kind: FeedbackKind
    lead: Lead
    draft_id: str
    subject: str
    body: str
    rejected_draft_id: Optional[str]
    rejected_subject: Optional[str]
    rejected_body: Optional[str]
    model_id: str
    model_version: str
    variant: str
    labels: list[str]
    reward: float
    created_at: int
    campaign_version: int
    evidence_ids: list[str]


class ModelRelease(TypedDict):
    release_id: str
    tier: str
    role: ReleaseRole
    model_id: str
    model_version: str
    uri: str
    sha256: str
    quant_type: str
    base_model: str
    manifest_uri: str
    metrics: dict[str, float]
    created_at: int


class DeadLetter(TypedDict):
    source_topic: str
    source_partition: int
    source_offset: int
    key: Optional[bytes]
    value: Optional[bytes]
    error_type: str
    error: str
    stage: str
    request_id: Optional[str]
    lead_id: Optional[str]
    failed_at: int


class ABDecision(TypedDict):
    decision_id: str
    action: str
    champion: str
    challenger: str
    p_value: Optional[float]
    prob_beat: Optional[float]
    reason: str
    evidence_json: str
    decided_at: int


class CampaignSender(TypedDict):
    name: str
    title: str
    company: str
    email: str
    reply_to: str
    postal_address: str
    title_in_signature: bool


class CampaignFact(TypedDict):
    id: str
    text: str
    industries: list[str]
    roles: list[str]
    customer: Optional[str]


class CampaignStep(TypedDict):
    delay_business_days: int
    brief: str


class Campaign(TypedDict):
    campaign_id: str
    version: int
    status: str
    product: str
    sender: CampaignSender
    value_proposition: str
    benefits: list[str]
    proof_points: list[CampaignFact]
    case_studies: list[CampaignFact]
    calls_to_action: list[str]
    tone: str
    language: str
    allowed_urls: list[str]
    subject_max_chars: int
    body_min_words: int
    body_max_words: int
    steps: list[CampaignStep]
    updated_at: int


# Record name (as in codec.RECORD_FILES) -> its class; nested records are checked through these.
RECORD_TYPES: dict[str, type] = {
    "Lead": Lead, "GenerationRequest": GenerationRequest, "EmailDraft": EmailDraft,
    "EngagementEvent": EngagementEvent, "FeedbackExample": FeedbackExample,
    "ModelRelease": ModelRelease, "DeadLetter": DeadLetter, "ABDecision": ABDecision,
    "Campaign": Campaign,
}

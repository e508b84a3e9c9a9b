"""One typed class per Avro record (schemas/avro/*.avsc): what the codecs return and accept.

TypedDicts, not dataclasses: the codecs hand fastavro's dicts through unchanged (no copy per
record at 10,000 leads/s), and a type checker still sees a misspelt or renamed field at the
call site instead of a KeyError somewhere downstream. tests/schemas/test_records.py checks every
class against its .avsc (names, types, optionality), so a schema change without the matching
class change fails CI.

A field with an Avro default is NotRequired: a producer may leave it out (the codec writes the
default), as records written before the field existed do; a decoded record always has it.

Nested records are classes of their own (Lead inside GenerationRequest and FeedbackExample,
CampaignSender and CampaignFact inside Campaign). timestamp-millis fields are epoch
milliseconds (int) on the wire; the JSON path (codec.from_json) accepts ISO 8601 as well.
"""

from typing import Literal, NotRequired, Optional, TypedDict


class Lead(TypedDict):
    lead_id: str
    campaign: str
    email: str
    first_name: str
    last_name: NotRequired[Optional[str]]
    company: str
    role: NotRequired[Optional[str]]
    industry: NotRequired[Optional[str]]
    company_size: NotRequired[Optional[int]]
    pain_point: NotRequired[Optional[str]]
    notes: NotRequired[Optional[str]]
    lead_score: NotRequired[int]
    deal_size: NotRequired[float]
    segment: NotRequired[str]
    priority: NotRequired[str]
    source: NotRequired[str]
    created_at: int
    # Where the contact is, for the sending engine's business hours (sending/hours.py).
    time_zone: NotRequired[Optional[str]]
    country: NotRequired[Optional[str]]
    phone: NotRequired[Optional[str]]


class GenerationRequest(TypedDict):
    request_id: str
    lead: Lead
    tier: str
    variant: str
    rule: str
    attempt: NotRequired[int]
    received_at: int
    routed_at: int
    campaign_id: NotRequired[str]
    campaign_version: NotRequired[int]
    rung: NotRequired[str]
    rung_reasons: NotRequired[list[str]]
    review: NotRequired[bool]
    withheld: NotRequired[dict[str, str]]
    screening_reasons: NotRequired[list[str]]
    step: NotRequired[int]
    previous_subject: NotRequired[str]
    previous_body: NotRequired[str]
    thread_draft_ids: NotRequired[list[str]]


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
    model_version: NotRequired[str]
    prompt_hash: str
    prompt_tokens: int
    completion_tokens: int
    attempts: NotRequired[int]
    latency_ms: float
    lead_to_draft_ms: float
    estimated_cost_usd: float
    created_at: int
    campaign_version: NotRequired[int]
    evidence_ids: NotRequired[list[str]]
    rung: NotRequired[str]
    rung_reasons: NotRequired[list[str]]
    review_status: NotRequired[str]
    reviewed_by: NotRequired[str]
    from_name: NotRequired[str]
    from_email: NotRequired[str]
    reply_to: NotRequired[str]
    postal_address: NotRequired[str]
    step: NotRequired[int]
    thread_draft_ids: NotRequired[list[str]]


EngagementType = Literal["DELIVERED", "OPENED", "CLICKED", "REPLIED", "BOUNCED",
                         "UNSUBSCRIBED", "COMPLAINED", "UNKNOWN"]
FeedbackKind = Literal["OUTCOME", "PREFERENCE_PAIR"]
ReleaseRole = Literal["CHAMPION", "CHALLENGER", "ROLLBACK"]


class EngagementEvent(TypedDict):
    event_id: str
    draft_id: str
    type: EngagementType
    email: NotRequired[Optional[str]]
    reply_text: NotRequired[Optional[str]]
    url: NotRequired[Optional[str]]
    source: NotRequired[str]
    occurred_at: int


class FeedbackExample(TypedDict):
    example_id: str
    kind: NotRequired[FeedbackKind]
    lead: Lead
    draft_id: str
    subject: str
    body: str
    rejected_draft_id: NotRequired[Optional[str]]
    rejected_subject: NotRequired[Optional[str]]
    rejected_body: NotRequired[Optional[str]]
    model_id: str
    model_version: NotRequired[str]
    variant: str
    labels: NotRequired[list[str]]
    reward: float
    created_at: int
    campaign_version: NotRequired[int]
    evidence_ids: NotRequired[list[str]]


class ModelRelease(TypedDict):
    release_id: str
    tier: str
    role: NotRequired[ReleaseRole]
    model_id: str
    model_version: str
    uri: str
    sha256: str
    quant_type: str
    base_model: str
    manifest_uri: str
    metrics: NotRequired[dict[str, float]]
    created_at: int


class DeadLetter(TypedDict):
    source_topic: str
    source_partition: int
    source_offset: int
    key: NotRequired[Optional[bytes]]
    value: NotRequired[Optional[bytes]]
    error_type: str
    error: str
    stage: str
    request_id: NotRequired[Optional[str]]
    lead_id: NotRequired[Optional[str]]
    failed_at: int


class ABDecision(TypedDict):
    decision_id: str
    action: str
    champion: str
    challenger: str
    p_value: NotRequired[Optional[float]]
    prob_beat: NotRequired[Optional[float]]
    reason: NotRequired[str]
    evidence_json: str
    decided_at: int


class CampaignSender(TypedDict):
    name: str
    title: NotRequired[str]
    company: str
    email: NotRequired[str]
    reply_to: NotRequired[str]
    postal_address: NotRequired[str]
    title_in_signature: NotRequired[bool]


class CampaignFact(TypedDict):
    id: str
    text: str
    industries: NotRequired[list[str]]
    roles: NotRequired[list[str]]
    customer: NotRequired[Optional[str]]


class CampaignStep(TypedDict):
    delay_business_days: int
    brief: NotRequired[str]


class Campaign(TypedDict):
    campaign_id: str
    version: int
    status: NotRequired[str]
    product: str
    sender: CampaignSender
    value_proposition: str
    benefits: NotRequired[list[str]]
    proof_points: NotRequired[list[CampaignFact]]
    case_studies: NotRequired[list[CampaignFact]]
    calls_to_action: list[str]
    tone: NotRequired[str]
    language: NotRequired[str]
    allowed_urls: NotRequired[list[str]]
    subject_max_chars: NotRequired[int]
    body_min_words: NotRequired[int]
    body_max_words: NotRequired[int]
    steps: NotRequired[list[CampaignStep]]
    updated_at: int


# Record name (as in codec.RECORD_FILES) -> its class; nested records are checked through these.
RECORD_TYPES: dict[str, type] = {
    "Lead": Lead, "GenerationRequest": GenerationRequest, "EmailDraft": EmailDraft,
    "EngagementEvent": EngagementEvent, "FeedbackExample": FeedbackExample,
    "ModelRelease": ModelRelease, "DeadLetter": DeadLetter, "ABDecision": ABDecision,
    "Campaign": Campaign,
}

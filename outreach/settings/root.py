"""The root of the settings: one ``Settings`` object, a section per concern.

Precedence, highest first: CLI flags (passed as keyword overrides) > environment variables >
the YAML settings file > defaults. Environment variables use the ``OUTREACH_`` prefix and ``__``
for nesting (``OUTREACH_MODEL__N_GPU_LAYERS=99``); the two connection settings also accept the
names every Kafka/Redis tool uses, ``KAFKA_BOOTSTRAP_SERVERS`` and ``REDIS_URL``. Secrets are
``SecretStr``: printed and logged as ``**********``, read with ``.get_secret_value()``.
"""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from outreach.settings.checks import ChecksSettings
from outreach.settings.engagement import (DashboardSettings, FeedbackSettings,
                                          SimulatorSettings)
from outreach.settings.kafka import KafkaSettings, StackSettings
from outreach.settings.ladder import ApprovalSettings, EscalationSettings, LLMSettings
from outreach.settings.mail import SenderSettings
from outreach.settings.model import ModelSettings
from outreach.settings.redis import RedisSettings
from outreach.settings.releases import (GateSettings, QuantizeSettings, RegistrySettings,
                                        RetrainSettings)
from outreach.settings.routing import ABTestSettings, DemoSettings, RoutingSettings
from outreach.settings.sending import SendingSettings
from outreach.settings.sequences import SequenceSettings
from outreach.settings.training import TrainingSettings
from outreach.settings.worker import CampaignSettings, WorkerSettings


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
    sequences: SequenceSettings = Field(default_factory=SequenceSettings)
    sending: SendingSettings = Field(default_factory=SendingSettings)
    log_level: str = "INFO"

    def with_connections(self, bootstrap: str, redis_url: str) -> Settings:
        return self.model_copy(update={"kafka_bootstrap_servers": bootstrap, "redis_url": redis_url})

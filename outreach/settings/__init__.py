"""Typed settings: the only configuration source.

One ``Settings`` object is built in each command's main (``load_settings``) and passed down.
A module per concern holds its sections (kafka, redis, model, worker, checks, mail, routing,
engagement, training, releases, ladder); ``root`` assembles them and ``loading`` reads the
file, the environment and the flags. Every name is importable from here:
``from outreach.settings import Settings, load_settings, ChecksSettings``.
"""

from outreach.settings.checks import ChecksSettings
from outreach.settings.common import TIERS, QuantType, Tier
from outreach.settings.engagement import DashboardSettings, FeedbackSettings, SimulatorSettings
from outreach.settings.kafka import KafkaSettings, StackSettings
from outreach.settings.ladder import (ApprovalSettings, BudgetSettings, EscalationSettings,
                                      LLMSettings)
from outreach.settings.loading import DEFAULT_CONFIG_FILE, load_settings, plain_data
from outreach.settings.mail import SenderSettings
from outreach.settings.model import ModelSettings
from outreach.settings.redis import RedisSettings
from outreach.settings.releases import (GateSettings, QuantizeSettings, RegistrySettings,
                                        RetrainSettings)
from outreach.settings.root import Settings
from outreach.settings.routing import (ABTestSettings, DemoSettings, RoutingRule,
                                       RoutingSettings, VariantSpec)
from outreach.settings.sending import (GuardrailSettings, HoursSettings, MailboxLimits,
                                       MailboxSettings, SendingSettings)
from outreach.settings.sequences import SequenceSettings
from outreach.settings.training import ReviewSettings, TeacherSettings, TrainingSettings
from outreach.settings.worker import CampaignSettings, WorkerSettings

__all__ = [
    "ABTestSettings", "ApprovalSettings", "BudgetSettings", "CampaignSettings", "ChecksSettings",
    "DEFAULT_CONFIG_FILE", "DashboardSettings", "DemoSettings", "EscalationSettings",
    "FeedbackSettings", "GateSettings", "KafkaSettings", "LLMSettings", "ModelSettings",
    "QuantType", "QuantizeSettings", "RedisSettings", "RegistrySettings", "RetrainSettings",
    "ReviewSettings", "RoutingRule", "RoutingSettings", "SenderSettings", "Settings",
    "SimulatorSettings", "StackSettings", "TIERS", "TeacherSettings", "Tier", "TrainingSettings",
    "VariantSpec", "WorkerSettings", "load_settings", "plain_data",
    "SequenceSettings", "SendingSettings", "MailboxSettings", "MailboxLimits", "HoursSettings",
    "GuardrailSettings",
]

"""One exception root for the whole project.

Library errors (confluent-kafka, redis, fastavro, llama.cpp, smtplib) are wrapped with
``raise SomeOutreachError(...) from exc`` at the module that talks to the library, so callers
catch one family and still see the original cause in the traceback.
"""

from __future__ import annotations


class OutreachError(Exception):
    """Root of every error this project raises on purpose."""


class ConfigError(OutreachError):
    """Settings are missing or inconsistent (bad YAML, unknown tier, no SMTP host...)."""


class StackError(OutreachError):
    """The embedded broker or Redis could not be started, or a binary is missing."""


class SchemaError(OutreachError):
    """A record does not match its Avro schema, or bytes cannot be decoded.

    ``code`` is a stable machine-readable reason that dead letters carry.
    """

    def __init__(self, message: str, code: str = "invalid_record") -> None:
        super().__init__(message)
        self.code = code


class SchemaRegistryUnavailable(OutreachError):
    """The schema registry did not answer (outage, 5xx): the record may be fine; retry it."""


class KafkaError(OutreachError):
    """Producing, consuming or administering topics failed."""


class StoreError(OutreachError):
    """Redis (de-duplication, suppression) failed."""


class ModelError(OutreachError):
    """A GGUF model could not be found, verified or loaded, or generation failed."""


class LLMUnavailable(ModelError):
    """The LLM tier's endpoint is down, overloaded or misconfigured after every retry: the
    worker holds the request (no commit) and tries again; it is never the request's fault."""


class LLMRequestRejected(ModelError):
    """The LLM endpoint refused this request's content (400/413/422): retrying cannot help."""


class DraftRejected(OutreachError):
    """A generated draft failed the post-checks; ``reasons`` lists every failed check."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


class SendError(OutreachError):
    """Handing a message to the SMTP server failed."""


class RecipientRejected(SendError):
    """A permanent (5xx) refusal of this one message; ``code`` is the SMTP reply code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class TrainingError(OutreachError):
    """Building a dataset, fine-tuning, exporting an adapter or evaluating failed."""


class TeacherError(TrainingError):
    """A teacher (offline templates or an OpenAI-compatible endpoint) could not write an email."""


class DataError(TrainingError):
    """Input data (a brief, a recipe, a CSV/JSONL lead export) is invalid.

    ``problems`` lists every bad row as "line N: reason", not only the first.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message if not problems else message + ":\n  " + "\n  ".join(problems))
        self.problems = problems or []


class QuantizeError(OutreachError):
    """Converting a model directory to GGUF, quantizing it or gating the result failed."""


class RegistryError(OutreachError):
    """A release could not be stored, fetched, verified (sha256) or pointed to."""


class RetrainError(OutreachError):
    """A scheduled retraining run failed; ``stage`` names the stage that failed."""

    def __init__(self, stage: str, message: str) -> None:
        super().__init__(f"{stage}: {message}")
        self.stage = stage


class LockHeld(RetrainError):
    """Another retraining run holds the lock."""


class Sha256Mismatch(RegistryError, ModelError):
    """A file whose bytes do not hash to the announced sha256 (damaged or tampered). Both a
    registry error (publishing, downloading) and a model error (a worker loading a release)."""


class CampaignError(OutreachError):
    """A campaign brief is invalid, or a lead names a campaign that is unknown or retired.

    ``code`` is a stable reason for dead letters: invalid_campaign | unknown_campaign |
    retired_campaign.
    """

    def __init__(self, message: str, code: str = "invalid_campaign") -> None:
        super().__init__(message)
        self.code = code

"""The (lead, email) record every stage passes along, and JSONL reading/writing.

One record type from teacher to review to dataset keeps the provenance (teacher, cost, review
decision) attached to the email all the way into the training manifest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from outreach.errors import DataError


@dataclass
class Example:
    example_id: str
    lead: dict[str, Any]
    subject: str
    body: str
    teacher: str  # "offline-templates-v1" or "openai:<model>"; kept on every derived row
    campaign: str
    campaign_version: int = 0  # the campaign version the email was written for
    evidence_ids: list[str] = field(default_factory=list)  # campaign facts retrieval picked
    source: str = "synthetic"  # synthetic | feedback
    status: str = "pending"  # pending | approved | rejected (review decision)
    approved_by: str | None = None  # "human:<reviewer>" or "rubric-auto"
    reject_reason: str | None = None
    reward: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0
    rubric: dict[str, Any] = field(default_factory=dict)

    @property
    def lead_id(self) -> str:
        return str(self.lead.get("lead_id", ""))

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Example:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def example_id(lead_id: str, campaign: str, teacher: str, variant: int = 0) -> str:
    """Deterministic, so re-running `teach` with the same inputs de-duplicates in review."""
    digest = hashlib.sha256(f"{lead_id}\x1f{campaign}\x1f{teacher}\x1f{variant}".encode())
    return "ex-" + digest.hexdigest()[:20]


def write_jsonl(path: Path, rows: Iterable[Any]) -> int:
    """Write dataclass records or dicts, one JSON object a line; returns the row count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            line = row.to_json() if hasattr(row, "to_json") else json.dumps(
                row, ensure_ascii=False, sort_keys=True)
            handle.write(line + "\n")
            count += 1
    return count


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise DataError(f"{path} line {number}: invalid JSON: {exc}") from exc
            if not isinstance(row, dict):
                raise DataError(f"{path} line {number}: expected a JSON object")
            yield row


def read_examples(path: Path) -> list[Example]:
    return [Example.from_dict(row) for row in read_jsonl(path)]




Model = TypeVar("Model", bound=BaseModel)


def load_yaml(path: Path, model: type[Model], what: str) -> Model:
    """A YAML file validated into ``model``; DataError names the file and every bad field."""
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(f"cannot read {what} {path}: {exc}") from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise DataError(f"invalid {what} {path}: {exc}") from exc

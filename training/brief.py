"""Campaign briefs for training: a campaign YAML (schemas.campaign), or the older brief format.

The older single-product brief (training/briefs/default.yaml: ``campaign``, ``sender_name``,
``proof_points`` as plain sentences, ``call_to_action``, ``body_words``) is converted to a
Campaign, so retraining and the tests that use it keep working; every new brief uses the
campaign format that ``outreach campaign add`` publishes. Every fact an email states must come
from the lead or from the campaign (``Campaign.source_text``), which the rubric checks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from outreach.errors import CampaignError, DataError
from schemas.campaign import Campaign, parse_campaign
from training.grammar import sentence_case

Brief = Campaign  # one type: a brief is a campaign


def from_legacy(doc: dict[str, Any]) -> dict[str, Any]:
    """The older brief format as a campaign document."""
    low, high = doc.get("body_words", (25, 220))
    return {
        "campaign_id": doc["campaign"], "version": 1, "product": doc["product"],
        "sender": {"name": doc["sender_name"], "company": doc["sender_company"]},
        # The old format starts it lower-case (embedded mid-sentence); a campaign's is a sentence.
        "value_proposition": sentence_case(doc["value_proposition"]),
        "benefits": doc.get("benefits", []),
        "proof_points": [{"id": f"pp-{i + 1}", "text": text}
                         for i, text in enumerate(doc.get("proof_points", []))],
        "calls_to_action": doc.get("call_to_action", []),
        "tone": doc.get("tone", "friendly, concise, specific"),
        "subject_max_chars": doc.get("subject_max_chars", 90),
        "body_min_words": low, "body_max_words": high,
    }


def load_brief(path: Path) -> Campaign:
    """A campaign from ``path`` (either format); DataError names the file and every bad field."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DataError(f"cannot read brief {path}: {exc}") from exc
    try:
        if isinstance(doc, dict) and "campaign_id" not in doc and "campaign" in doc:
            doc = from_legacy(doc)
        return parse_campaign(doc, source=path.name)
    except (CampaignError, KeyError, TypeError, ValueError) as exc:
        raise DataError(f"invalid brief {path}: {exc}") from exc

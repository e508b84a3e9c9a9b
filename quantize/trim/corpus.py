"""The domain corpus a vocabulary trim keeps: the text a served miniature reads and writes.

Three sources, all offline and deterministic under a seed:
- prompts: the worker's own prompts (``generation.prompt``) for generated leads, in every prompt
  style it serves, so the trim follows whatever prompt format is current;
- emails: the offline teacher's emails for the same leads (what the miniature is trained to
  write), with the prompt before them as the model sees them (the seam tokenizes in context);
- campaigns: every string value of the campaign YAML files under ``campaigns/``, since a
  campaign-first prompt quotes their facts verbatim;
plus the stop strings and the brief. A trim keeps every token this text uses.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from outreach.errors import CampaignError, QuantizeError
from outreach.settings import Settings

log = logging.getLogger(__name__)

def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def campaign_texts(root: Path) -> list[str]:
    """Every string value of every ``*.yaml``/``*.yml`` under ``root`` (none when absent)."""
    texts: list[str] = []
    if not root.is_dir():
        return texts
    for path in sorted([*root.rglob("*.yaml"), *root.rglob("*.yml")]):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise QuantizeError(f"cannot read campaign {path}: {exc}") from exc
        texts.extend(s for s in _strings(data) if s.strip())
    return texts


def campaigns(paths: list[Path]) -> list[Any]:
    """Every file among ``paths`` (YAML files, or folders searched for them) that is a valid
    campaign; other YAML (an old-style brief) is left out here and still read as text."""
    from schemas.campaign import load_campaign

    files: list[Path] = []
    for path in paths:
        files.extend(sorted([*path.rglob("*.yaml"), *path.rglob("*.yml")]) if path.is_dir()
                     else [path] if path.is_file() else [])
    found = []
    for path in files:
        try:
            found.append(load_campaign(path))
        except CampaignError as exc:
            log.info("corpus: %s is not a campaign (%s)", path, exc)
    return found


def prompts(leads: list[dict[str, Any]], campaign: Any, settings: Settings) -> list[str]:
    """The worker's prompts for ``leads`` under ``campaign``, in both prompt styles."""
    from generation.prompt import build_prompt

    texts = []
    for style in ("trained", "few_shot"):
        cfg = settings.model_copy(update={"model": settings.model.model_copy(
            update={"prompt_style": style})})
        texts.extend(build_prompt(lead, campaign, None, cfg).text for lead in leads)
    return texts


def teacher_emails(leads: list[dict[str, Any]], campaign: Any, seed: int) -> list[str]:
    """The offline teacher's email (subject line + body) for each lead of ``campaign``."""
    from training.prompt import email_text
    from training.teacher_offline import teach

    return [email_text(ex.subject, ex.body) for ex in teach(leads, campaign, seed=seed)]


def dataset_texts(paths: list[Path]) -> list[str]:
    """Prompt, completion and prompt + completion of every row of the JSONL training files
    among ``paths`` (the miniature's own training data: its exact bytes)."""
    from training.records import read_jsonl

    texts: list[str] = []
    for path in paths:
        if not path.is_file():
            log.warning("corpus: no dataset %s", path)
            continue
        for row in read_jsonl(path):
            prompt, completion = row.get("prompt") or "", row.get("completion") or ""
            texts.extend((prompt, completion, prompt + completion))
    return texts


def build_corpus(settings: Settings, datasets: list[Path] = (), leads: int = 200,
                 seed: int = 11, campaigns_dir: Path = Path("campaigns")) -> list[str]:
    """The domain corpus: stop strings; the training rows of ``datasets``; for every campaign
    under ``campaigns_dir``, the worker's prompts (both styles) for ``leads`` generated leads
    and the offline teacher's emails, alone and after their prompt; every campaign's text.

    Held-out evaluation leads must not be in it (the trim is measured on them).
    """
    from training.leads import generated
    from generation.prompt import STOP_SEQUENCES

    batch = generated(leads, seed, "vocab-trim")
    texts: list[str] = list(STOP_SEQUENCES)
    texts.extend(dataset_texts(list(datasets)))
    for campaign in campaigns([campaigns_dir]):
        both = prompts(batch, campaign, settings)  # trained style first
        emails = teacher_emails(batch, campaign, seed)
        texts.extend(both)
        texts.extend(emails)
        texts.extend(prompt + email for prompt, email in zip(both, emails))
    texts.extend(campaign_texts(campaigns_dir))
    return texts

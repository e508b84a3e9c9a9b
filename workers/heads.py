"""Which output head a worker serves: a release's head cut, resolved and verified, and the log
line and metric that name the head of every model a slot takes.

A head cut (generation/head_cut.py) writes 1.46-1.50x the emails a minute of the same model
untrimmed (docs/results/2026-12-02-bench.md). A retrained release used to be served untrimmed
with nothing saying so; now a release carries its cut (releases/head_cut.py: a trim of the
release stored beside it in the registry, with the trim manifest the head cut reads its kept ids
from), and a worker logs and exports outreach_worker_model_head_cut{tier, slot} for the
configured model and every release alike.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from outreach.errors import RegistryError
from outreach.hashing import verify_sha256
from outreach.releases import is_s3, local_file, release_file
from outreach.settings import Settings
from schemas.records import ModelRelease
from workers import metrics
from generation.model import ModelInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HeadCut:
    path: Path
    sha256: str


def head_cut_of(settings: Settings, release: ModelRelease) -> HeadCut | None:
    """The verified local head cut ``release`` is served with; None when its manifest names
    none, or in an S3 registry, whose head cuts are not published yet (releases/head_cut.py).
    Resolved and checked like the release's own file: inside the registry, sha256 of the whole
    file."""
    uri = release["manifest_uri"]
    if is_s3(uri) or is_s3(settings.registry.uri):
        return None
    path = local_file(uri)
    if not path.resolve().is_relative_to(local_file(settings.registry.uri).resolve()):
        raise RegistryError(f"release {release['release_id']}: {uri} is outside the registry")
    try:
        cut = json.loads(path.read_text()).get("head_cut")
    except (OSError, ValueError) as exc:
        raise RegistryError(f"release {release['release_id']}: cannot read {uri}: {exc}") from exc
    if not cut:
        return None
    trimmed = release_file(settings, {**release, "uri": cut["uri"]})
    actual = verify_sha256(trimmed, cut["sha256"], f"head cut of release {release['release_id']}")
    return HeadCut(trimmed, actual)


def report_head(tier: str, slot: str, model: ModelInfo) -> None:
    """Log and export which head ``model`` serves in ``slot``."""
    cut = model.trimmed_path
    metrics.MODEL_HEAD_CUT.labels(tier=tier, slot=slot).set(1 if cut is not None else 0)
    log.info("%s %s serves %s %s with %s", tier, slot, model.model_id, model.version,
             f"a head cut ({Path(cut).name})" if cut is not None else
             "the full output head (untrimmed)")

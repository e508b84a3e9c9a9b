"""The committed fold manifest (models/gemma3-270m-trim16k-fold-v4/fold.json) describes the
served adapter folded into the served trim: `outreach quantize fold --like` rebuilds it only
from those exact files (sha256 checked), so a new adapter or trim must come with a new fold."""

from __future__ import annotations

import json
from pathlib import Path

from generation.head_cut import ids_of_ranges
from outreach.hashing import file_sha256

REPO = Path(__file__).resolve().parents[2]
FOLD = REPO / "models/gemma3-270m-trim16k-fold-v4/fold.json"
TRIM = REPO / "models/gemma3-270m-trim16k/vocab-trim.json"


def test_the_committed_fold_is_of_the_served_trim_and_adapter():
    fold, trim = json.loads(FOLD.read_text()), json.loads(TRIM.read_text())
    assert fold["kind"] == "lora-fold" and trim["kind"] == "vocab-trim"
    assert fold["inputs"]["base"]["sha256"] == trim["output"]["sha256"]
    # A head cut of the untrimmed model, on the trim's very ids (generation/head_cut.py).
    assert fold["inputs"]["source"]["sha256"] == trim["inputs"]["source"]["sha256"]
    assert fold["recipe"]["kept_ranges"] == trim["recipe"]["kept_ranges"]
    assert len(ids_of_ranges(fold["recipe"]["kept_ranges"])) == trim["metrics"]["kept"]
    adapter = REPO / "models/gemma3-270m-campaigns-lora-v4/adapter.gguf"
    assert fold["inputs"]["adapter"]["sha256"] == file_sha256(adapter)


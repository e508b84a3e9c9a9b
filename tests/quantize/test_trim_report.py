"""The trim report's rule, its paired comparison (pure functions over scored emails) and how it
finds the GGUF an adapter was trained on."""

from __future__ import annotations

import json

import pytest

from outreach.errors import QuantizeError
from outreach.hashing import file_sha256
from quantize.trim.report import meets_rule, paired, trained_on


def _quality(passes: list[tuple[str, bool]]) -> dict:
    out: dict = {"passes": [list(p) for p in passes]}
    for key in ("all", "latin", "non_latin"):
        mine = [ok for script, ok in passes if key == "all" or script == key]
        out[key] = {"n": len(mine), "rubric": 0.9, "pass_rate": sum(mine) / len(mine)}
    return out


def test_paired_counts_disagreements_per_slice_and_their_sign_test():
    base = _quality([("latin", True)] * 6 + [("non_latin", True)] * 3 + [("non_latin", False)])
    trim = _quality([("latin", False)] * 6 + [("non_latin", True), ("non_latin", False),
                                               ("non_latin", True), ("non_latin", True)])
    result = paired(base, trim)
    # Latin: the untrimmed model alone passed 6 of 6 disagreements: p = 2 / 2**6.
    assert result["latin"] == {"only_untrimmed": 6, "only_trimmed": 0, "p": 0.0312}
    # non-Latin: one each way, which sampling explains fully.
    assert result["non_latin"] == {"only_untrimmed": 1, "only_trimmed": 1, "p": 1.0}
    assert result["all"]["only_untrimmed"] == 7 and result["all"]["only_trimmed"] == 1


def test_rule_names_every_slice_that_drops():
    base = _quality([("latin", True), ("latin", True), ("non_latin", True), ("non_latin", False)])
    same = _quality([("latin", True), ("latin", True), ("non_latin", False), ("non_latin", True)])
    worse = _quality([("latin", True), ("latin", False), ("non_latin", True), ("non_latin", False)])
    assert meets_rule(base, same) == []
    misses = meets_rule(base, worse)
    assert any(m.startswith("latin: pass rate") for m in misses)
    assert any(m.startswith("all: pass rate") for m in misses)
    assert not any(m.startswith("non_latin") for m in misses)
    worse["non_latin"]["rubric"] = 0.88
    assert any(m.startswith("non_latin: rubric") for m in meets_rule(base, worse))


def test_trained_on_reads_the_adapters_base_and_checks_it_is_unchanged(tmp_path):
    adapter = tmp_path / "run" / "adapter.gguf"
    adapter.parent.mkdir()
    adapter.write_bytes(b"GGUF")
    with pytest.raises(QuantizeError, match="no training manifest"):
        trained_on(adapter)
    trimmed = tmp_path / "model-trim32k.gguf"
    trimmed.write_bytes(b"trimmed weights")
    (tmp_path / "model-trim32k.gguf.manifest.json").write_text(
        json.dumps({"kind": "vocab-trim", "recipe": {"n_merges": 32000}}))
    (adapter.parent / "manifest.json").write_text(json.dumps(
        {"base": {"path": str(trimmed), "sha256": file_sha256(trimmed)}}))
    assert trained_on(adapter) == (trimmed, 32000)
    trimmed.write_bytes(b"another trim")  # re-trimmed since: other ids, so refused
    with pytest.raises(QuantizeError, match="has changed"):
        trained_on(adapter)

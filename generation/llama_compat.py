"""llama-cpp-python's ``Llama`` and ``llama_cpp.server`` without llama.cpp's extra CPU buffer
types on CPUs where they crash.

llama-cpp-python builds llama.cpp with ``-march=native``; on an Intel Xeon with AMX that build
registers an AMX buffer type for the weights, and decoding Gemma 3 270M from it segfaults
(llama-cpp-python 0.3.36, 2026-12-02: ``Llama(...)("Hello, my name is")`` exited with 139 with
or without an adapter; the same model with ``use_extra_bufts=False`` decodes). ``Llama`` and the
server expose no switch for it, so while they load a model, llama.cpp's default model params
come back with ``use_extra_bufts`` off. Only on such CPUs and CPU-only builds: elsewhere the
repacked kernels stay (a CUDA build segfaulted *without* its extra buffer types, see
generation/batch_context.py). The batched engine sets the flag itself (generation/batch_context.py).
"""

from __future__ import annotations

import contextlib
import logging
import runpy
import sys
import threading
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)
_patch_lock = threading.Lock()


@lru_cache(maxsize=1)
def amx_cpu() -> bool:
    """Whether this CPU advertises AMX (Linux /proc/cpuinfo flags)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(line.startswith("flags") and "amx_int8" in line.split()
               for line in text.splitlines())


def extra_buffer_types_crash() -> bool:
    """Whether models must load without llama.cpp's extra buffer types here."""
    try:
        import llama_cpp
    except ImportError:
        return False
    return amx_cpu() and not llama_cpp.llama_supports_gpu_offload()


@contextlib.contextmanager
def safe_model_params() -> Iterator[None]:
    """While inside, llama.cpp's default model params disable extra buffer types (where they
    crash); ``Llama`` reads them once, when it loads its model."""
    if not extra_buffer_types_crash():
        yield
        return
    import llama_cpp.llama_cpp as lib

    with _patch_lock:
        original = lib.llama_model_default_params

        def without_extra_buffer_types():  # type: ignore[no-untyped-def]
            params = original()
            params.use_extra_bufts = False
            return params

        lib.llama_model_default_params = without_extra_buffer_types
        try:
            log.info("AMX CPU: loading without llama.cpp's extra buffer types")
            yield
        finally:
            lib.llama_model_default_params = original


def main() -> None:
    """``python -m generation.llama_compat ARGS``: ``python -m llama_cpp.server ARGS``, with
    ``safe_model_params`` around the whole server (it loads its model at start-up)."""
    sys.argv[0] = "llama_cpp.server"
    with safe_model_params():
        runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()

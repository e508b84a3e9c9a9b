"""``python -m llama_cpp.server`` as a child process on a free loopback port.

llama-cpp-python's own OpenAI-compatible server: the bench's row (b), the demo's local stand-in
for a hosted LLM and the LLM tier's tests all start it the same way and wait until /v1/models
answers.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from outreach.errors import ModelError
from outreach.stack import free_port


@dataclass(frozen=True)
class LlamaServer:
    base_url: str  # http://127.0.0.1:PORT/v1
    pid: int
    log_path: Path


@contextlib.contextmanager
def llama_server(model_path: Path, log_path: Path, *, threads: int = 1, n_ctx: int = 2048,
                 n_batch: int | None = None, n_gpu_layers: int = 0,
                 lora_path: Path | None = None, ready_timeout_s: float = 180.0,
                 ) -> Iterator[LlamaServer]:
    """Start the server, yield it once it answers, terminate it (then kill) on the way out.

    Its log goes to a file, never a pipe: uvicorn logs every request, and a full pipe would
    stall the server mid-run.
    """
    port = free_port()
    # llama_cpp.server itself, started through generation.llama_compat so that it loads its model
    # without llama.cpp's AMX buffer type where that crashes.
    cmd = [sys.executable, "-m", "generation.llama_compat", "--model", str(model_path),
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx),
           "--n_threads", str(threads), "--n_gpu_layers", str(n_gpu_layers),
           "--verbose", "False",
           # Interrupting a running request when another arrives would cut emails short.
           "--interrupt_requests", "False"]
    if n_batch:
        cmd += ["--n_batch", str(n_batch)]
    if lora_path:
        cmd += ["--lora_path", str(lora_path)]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    server = LlamaServer(f"http://127.0.0.1:{port}/v1", proc.pid, log_path)
    try:
        _wait_ready(proc, server, ready_timeout_s)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_ready(proc: subprocess.Popen, server: LlamaServer, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = server.log_path.read_bytes()[-2000:].decode(errors="replace")
            raise ModelError(f"llama_cpp.server exited with {proc.returncode} "
                             f"(log {server.log_path}): {tail}")
        try:
            if httpx.get(f"{server.base_url}/models", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass  # not listening yet
        time.sleep(0.5)
    raise ModelError(f"llama_cpp.server did not answer within {timeout_s:.0f} s "
                     f"(log {server.log_path})")

"""The three ways of writing the same emails that `outreach bench` compares.

(a) llama-cpp-python's ``Llama.create_completion``, one email after another (what a plain worker
    does); (b) llama-cpp-python's bundled OpenAI-compatible server under N concurrent HTTP
    clients; (c) our BatchEngine under the same N clients. Every row gets the same prompts, seeds,
    sampling settings and stop strings, and each row's timed window starts after its model is
    loaded and its shared prompt prefix is cached (one warm-up request for (a) and (b),
    ``set_prefix`` for (c)), so load time is never counted.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from outreach.settings import ModelSettings
from generation.batch import BatchEngine, GenRequest
from generation.batched_generator import shared_chars
from bench.profile import stats_delta
from bench.report import BenchRow
from generation.llama_server import llama_server

log = logging.getLogger(__name__)
T = TypeVar("T")
Tick = Callable[[], None]
# Pure-Python packages llama_cpp.server needs beyond llama-cpp-python itself.
SERVER_MODULES = ("uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings")


@dataclass(frozen=True)
class Workload:
    prompts: list[str]
    prefix: str  # the part every prompt shares (instructions + few-shot examples)
    stop: tuple[str, ...]
    max_tokens: int
    temperature: float
    top_p: float
    repeat_penalty: float
    seed: int = 0  # email i samples with seed + i

    def request(self, index: int, prompt: str) -> GenRequest:
        """Email ``index`` as the worker submits it: its campaign block + evidence marked as
        shareable (generation/batched_generator.py shared_chars)."""
        return GenRequest(prompt, max_tokens=self.max_tokens, seed=self.seed + index,
                          stop=self.stop, temperature=self.temperature, top_p=self.top_p,
                          repeat_penalty=self.repeat_penalty,
                          share_chars=shared_chars(prompt, self.prefix))

    def head(self, n: int) -> Workload:
        return Workload(self.prompts[:n], self.prefix, self.stop, self.max_tokens,
                        self.temperature, self.top_p, self.repeat_penalty, self.seed)


def closed_loop(clients: int, jobs: Sequence[T], run: Callable[[int, T], tuple[int, int]],
                tick: Tick) -> tuple[list[float], int, int]:
    """``clients`` threads, each starting the next job when its last one returns.

    Returns per-job latencies and the summed (prompt, completion) tokens. The first error of
    any client is raised once all clients stopped.
    """
    latencies = [0.0] * len(jobs)
    totals = [0, 0]
    errors: list[BaseException] = []
    lock = threading.Lock()
    queue = iter(enumerate(jobs))

    def client() -> None:
        while True:
            with lock:
                item = None if errors else next(queue, None)
            if item is None:
                return
            index, job = item
            started = time.perf_counter()
            try:
                prompt_tokens, completion_tokens = run(index, job)
            except BaseException as exc:  # reported after the join
                with lock:
                    errors.append(exc)
                return
            latencies[index] = time.perf_counter() - started
            with lock:
                totals[0] += prompt_tokens
                totals[1] += completion_tokens
            tick()

    threads = [threading.Thread(target=client, name=f"bench-client-{i}", daemon=True)
               for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return latencies, totals[0], totals[1]


def _window(row: BenchRow, clients: int, work: Workload,
            run: Callable[[int, str], tuple[int, int]], tick: Tick,
            cpu_now: Callable[[], float]) -> BenchRow:
    cpu, wall = cpu_now(), time.perf_counter()
    latencies, prompt_tokens, completion_tokens = closed_loop(clients, work.prompts, run, tick)
    row.wall_seconds = time.perf_counter() - wall
    row.cpu_seconds = cpu_now() - cpu
    row.emails, row.latencies = len(work.prompts), latencies
    row.prompt_tokens, row.completion_tokens = prompt_tokens, completion_tokens
    row.concurrency = clients
    return row


def run_llama(model_path: Path, cfg: ModelSettings, work: Workload, clients: int,
              threads: int, lora_path: Path | None, tick: Tick) -> BenchRow:
    """(a) One ``Llama``, one email at a time (its prefix cache reuses the shared prompt);
    ``clients`` is ignored: a ``Llama`` serves one caller at a time."""
    from llama_cpp import Llama

    from generation.llama_compat import safe_model_params

    with safe_model_params():  # llama.cpp's AMX buffers crash (generation/llama_compat.py)
        llm = Llama(model_path=str(model_path), n_ctx=cfg.n_ctx, n_batch=cfg.n_batch,
                    n_threads=threads, n_gpu_layers=cfg.n_gpu_layers, verbose=False,
                    lora_path=str(lora_path) if lora_path else None)

    def run(index: int, prompt: str) -> tuple[int, int]:
        out = llm.create_completion(prompt, max_tokens=work.max_tokens, seed=work.seed + index,
                                    temperature=work.temperature, top_p=work.top_p,
                                    repeat_penalty=work.repeat_penalty, stop=list(work.stop))
        return out["usage"]["prompt_tokens"], out["usage"]["completion_tokens"]

    try:
        llm.create_completion(work.prompts[0], max_tokens=1)  # warm-up: caches the prefix
        row = BenchRow("a", "llama-cpp-python Llama, sequential")
        return _window(row, 1, work, run, tick, time.process_time)
    finally:
        llm.close()


def run_server(model_path: Path, cfg: ModelSettings, work: Workload, clients: int,
               threads: int, lora_path: Path | None, tick: Tick) -> BenchRow:
    """(b) ``python -m llama_cpp.server`` on a free loopback port, ``clients`` HTTP clients."""
    label = f"llama_cpp.server, {clients} concurrent clients"
    missing = [m for m in SERVER_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        return BenchRow("b", label, skipped="missing " + ", ".join(missing) +
                        " (pip install 'llama-cpp-python[server]' deps)")
    import httpx

    with tempfile.TemporaryDirectory(prefix="bench-server-") as tmp, \
            llama_server(model_path, Path(tmp) / "llama_cpp.server.log", threads=threads,
                         n_ctx=cfg.n_ctx, n_batch=cfg.n_batch, n_gpu_layers=cfg.n_gpu_layers,
                         lora_path=lora_path, ready_timeout_s=120) as server:
        base = server.base_url
        local = threading.local()

        def run(index: int, prompt: str) -> tuple[int, int]:
            if not hasattr(local, "client"):
                local.client = httpx.Client(timeout=600)
            body = {"prompt": prompt, "max_tokens": work.max_tokens, "seed": work.seed + index,
                    "temperature": work.temperature, "top_p": work.top_p,
                    "repeat_penalty": work.repeat_penalty, "stop": list(work.stop)}
            reply = local.client.post(f"{base}/completions", json=body)
            reply.raise_for_status()
            usage = reply.json()["usage"]
            return usage["prompt_tokens"], usage["completion_tokens"]

        httpx.post(f"{base}/completions", json={"prompt": work.prompts[0], "max_tokens": 1},
                   timeout=600).raise_for_status()  # warm-up: caches the prefix
        row = BenchRow("b", label, notes="CPU = server process only")
        return _window(row, clients, work, run, tick, lambda: _process_cpu(server.pid))


def run_engine(model_path: Path, cfg: ModelSettings, work: Workload, clients: int,
               threads: int, lora_path: Path | None, tick: Tick) -> BenchRow:
    """(c) BatchEngine with ``clients`` slots under ``clients`` concurrent callers."""
    with BatchEngine(model_path, cfg, slots=clients, lora_path=lora_path,
                     n_threads=threads) as engine:
        if work.prefix:
            engine.set_prefix(work.prefix)

        def run(index: int, prompt: str) -> tuple[int, int]:
            result = engine.submit(work.request(index, prompt)).result()
            return result.prompt_tokens, result.completion_tokens

        before = engine.stats()
        row = BenchRow("c", f"BatchEngine, {clients} sequences")
        _window(row, clients, work, run, tick, time.process_time)
        # steps, decoded_tokens (/ steps = width), prefill_tokens, decode/prefill/sample/
        # admit/busy seconds, moves: summed over rounds, then read as a per-step profile.
        row.details = stats_delta(before, engine.stats())
        return row


def _process_cpu(pid: int) -> float:
    """User + system CPU seconds of a live process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def row_runners() -> dict[str, Callable[..., Any]]:
    return {"a": run_llama, "b": run_server, "c": run_engine}

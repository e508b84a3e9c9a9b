"""The machine's own limits, measured in the same run as the rows: memory bandwidth and the
compute ceiling of one llama_decode."""

from __future__ import annotations

import os
import platform
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np

from outreach.settings import ModelSettings
from generation.batch_context import LlamaContext, decode_tokens, physical_cores

# 256 MiB per array: far beyond any CPU cache (and about the size of the model's weights).
_BANDWIDTH_BYTES = 256 * 1024 * 1024


def memory_bandwidth_gbs(repeats: int = 5) -> float:
    """Best of ``repeats`` large numpy copies, counting bytes read plus bytes written.

    One thread, like one decode thread streaming weights; a plain copy is what a memory-bound
    matrix-vector product comes closest to.
    """
    src = np.ones(_BANDWIDTH_BYTES // 8, dtype=np.float64)
    dst = np.empty_like(src)
    np.copyto(dst, src)  # fault the pages in before timing
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - started)
    return 2 * _BANDWIDTH_BYTES / best / 1e9


def decode_ceiling(model_path: Path, cfg: ModelSettings, prompt: str, n_tokens: int = 64,
                   repeats: int = 3, n_threads: int | None = None,
                   lora_path: Path | None = None, loop_sequences: int = 16,
                   loop_steps: int = 32) -> tuple[dict[str, float], int]:
    """The decode limits of the engine's own model (adapter included) and settings, plus the
    model's weight bytes.

    - ``logits_last_tok_s`` / ``logits_all_tok_s``: one llama_decode of ``n_tokens`` tokens
      of one sequence, with logits for the last token only / for all of them (best of
      ``repeats``). Decoding needs logits for every token it produces, so the latter is the
      ceiling a batched decoder can approach; the gap between them is the output head (262k
      rows for Gemma 3).
    - ``bare_loop_tok_s``: the issue's bare low-level loop, ``loop_sequences`` sequences, one
      token each per llama_decode, greedy picks, no scheduling, no prefills: what a
      ``loop_sequences``-wide engine could reach at most.
    - ``batch1_tok_s``: token by token, one sequence: the memory-bound case.
    """
    n_seq = max(1, loop_sequences)
    llm = LlamaContext(model_path, cfg, n_seq=n_seq, ctx_per_seq=max(256, 2 * n_tokens),
                       n_batch=max(n_tokens, n_seq), outputs_per_seq=n_tokens,
                       n_threads=n_threads, lora_path=lora_path)
    try:
        tokens = llm.text.tokenize(prompt)
        tokens = (tokens * (n_tokens // len(tokens) + 1))[:n_tokens]
        result = {"tokens": float(n_tokens)}
        for name, want_all in (("logits_last_tok_s", False), ("logits_all_tok_s", True)):
            best = float("inf")
            for _ in range(repeats + 1):  # the first run warms caches and the thread pool
                llm.clear(0)
                for j, token in enumerate(tokens):
                    llm.put(j, token, j, 0, want_all or j == n_tokens - 1)
                llm.batch.n_tokens = n_tokens
                rc, seconds = llm.decode()
                if rc != 0:
                    raise RuntimeError(f"llama_decode failed with status {rc}")
                best = min(best, seconds)
            result[name] = n_tokens / best
        llm.clear(0)
        result["bare_loop_sequences"] = float(n_seq)
        result["bare_loop_tok_s"] = _bare_loop(llm, tokens, n_seq, loop_steps)  # clears all
        started = time.perf_counter()
        for j in range(n_tokens):  # batch 1, token by token: the memory-bound case
            decode_tokens(llm, tokens[j:j + 1], 0, j, want_last=True)
        result["batch1_tok_s"] = n_tokens / (time.perf_counter() - started)
        return result, llm.model_bytes
    finally:
        llm.close()


def _bare_loop(llm: LlamaContext, prompt: list[int], n_seq: int, steps: int) -> float:
    """Generated tok/s of ``steps`` one-token-per-sequence decodes over ``n_seq`` sequences
    that each hold ``prompt``; each sequence's next token is its greedy pick."""
    for seq_id in range(n_seq):
        decode_tokens(llm, prompt, seq_id, 0, want_last=False)
    last = [prompt[-1]] * n_seq
    started = time.perf_counter()
    for step in range(steps):
        for seq_id in range(n_seq):
            llm.put(seq_id, last[seq_id], len(prompt) + step, seq_id, True)
        llm.batch.n_tokens = n_seq
        rc, _ = llm.decode()
        if rc != 0:
            raise RuntimeError(f"llama_decode failed with status {rc}")
        last = [llm.greedy(i) for i in range(n_seq)]
    seconds = time.perf_counter() - started
    for seq_id in range(n_seq):
        llm.clear(seq_id)
    return n_seq * steps / seconds


def machine_info(n_threads: int) -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {"cpu": cpu, "cores": physical_cores(),
                            "logical_cpus": os.cpu_count(), "threads": n_threads,
                            "python": platform.python_version(),
                            "load_before": load_average()}
    try:
        import llama_cpp

        info["llama_cpp_python"] = llama_cpp.__version__
        info["system_info"] = llama_cpp.llama_print_system_info().decode(errors="replace")
    except ImportError:
        pass
    return info


def load_average() -> str:
    """1/5/15-minute load: other work on the machine skews every row, so it is recorded."""
    try:
        return "/".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


class OtherLoad:
    """CPU time other processes used while the bench ran, in cores on average.

    llama.cpp's OpenMP threads spin at every op boundary; when another process holds a core, a
    descheduled thread stalls its partner: 2-thread Llama fell from 65 to 0.5-17 tok/s on this
    2-core machine while other jobs kept the load at 5 (measured), batch-1 rows suffering most,
    so even the ratios skew. Read from /proc/stat (all CPU time) minus this process and its
    waited-for children (the server row's process).
    """

    def __init__(self) -> None:
        self._started = self._sample()

    @staticmethod
    def _sample() -> tuple[float, float, float]:
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        mine = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
        try:
            fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
            user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
            busy = (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError):
            busy = float("nan")
        return time.monotonic(), busy, mine

    def cores(self) -> float:
        wall0, busy0, mine0 = self._started
        wall1, busy1, mine1 = self._sample()
        return max(0.0, (busy1 - busy0) - (mine1 - mine0)) / max(wall1 - wall0, 1e-9)


def busy_note(other_cores: float, cores: int) -> str:
    """A warning when other processes used more than a fifth of a core on average, else ""."""
    if other_cores != other_cores or other_cores <= 0.2:  # NaN: /proc/stat unreadable
        return ""
    return (f"other processes used {other_cores:.1f} of {cores} cores on average during the "
            "run; llama.cpp's spinning threads make every row slower and batch-1 rows most: "
            "figures are not representative, rerun on an idle machine")

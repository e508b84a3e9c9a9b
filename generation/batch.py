"""Continuous-batching generation on llama.cpp's low-level API: many sequences, one decode per step.

Why: decoding one sequence at a time is memory-bound (all 247 MB of weights are read for each
token: 65 tok/s through ``Llama`` on 2 cores), while one ``llama_decode`` over 16 sequences
reads them once for 16 tokens. Measured on 2 cores with Gemma 3 270M Q4_K_M: a bare loop made
52 / 99 / 128 / 168 tok/s with 1 / 4 / 8 / 16 sequences.

How:
- One context of ``slots`` request sequences plus reserved prefix sequences, each in its own KV
  stream of ``ctx_per_slot`` cells (``kv_unified=False``): a token's attention covers its own
  sequence only, not 16 x 1024 cells of a shared buffer.
- A step is one ``llama_decode`` of the last sampled token of every running sequence, with
  logits for each (and nowhere else: Gemma's 262k-token output head is over half the work per
  token; a 64-token decode ran at 531 tok/s with logits for the last token, 234 with all).
  Sampling is per sequence, in C (generation/sampling.py).
- llama.cpp cuts a multi-stream batch into ubatches of equally many tokens from *consecutive*
  sequence ids, one pass over the weights each. Hence: a request is prefilled in calls of its
  own when admitted (a prompt chunk would not share the decoders' pass anyway), all but its last
  token, which joins the next step like a sampled token (its logits come from the kernels every
  later token's do, and a trimmed head gets its hidden state: generation/head_cut.py); running
  sequences are kept on ids 0..k-1 (a gap is refilled by the next queued request or closed by
  moving the last sequence's KV stream into it), so every step is one pass.
- Continuous batching: a finished sequence frees its slot (``llama_memory_seq_rm``) and a
  queued request takes it at the start of the next step.
- Shared prefixes (``set_prefix``): the static instructions + few-shot examples are decoded once
  into a reserved sequence and copied into each slot whose prompt starts with them
  (``llama_memory_seq_cp``), so a request prefills only its own ~85-token tail.
- Prefixes kept from requests (``GenRequest.share_chars``, ``shared_slots``): a request marks
  the start of its prompt that others are likely to share (the campaign block plus its
  retrieved evidence: ~52 of the 113 tokens a bench email prefilled after the campaign
  block, and its 48 leads have 15 distinct evidence lines). It is prefilled up to that
  mark first, the mark's KV is copied into a shared slot (LRU), and a later request that
  starts with the same tokens copies it instead of prefilling it. The prefill always breaks
  at the mark, cached or not, so a request's KV is computed in the same chunks either way.
- Batch invariance: with the CPU repack kernels off and a padding row in one-sequence steps,
  a request's tokens do not depend on what runs beside it (greedy output batched equals greedy
  output alone, token for token; see tests/generation/test_batch.py). Its prefill is one chunk
  from the end of the reused prefix (two with a share mark: to the mark, then the rest), so
  registering a different prefix can move a near-tie (tests/generation/test_batch_shared.py).
- A request that fails (prompt too long for its slot, bad grammar, a grammar dead end) fails
  alone: its future gets the ModelError and the other sequences go on.

The context belongs to the engine's decode thread; ``submit`` may be called from any thread.
``GenRequest.prompt`` is always the whole prompt: prefix reuse is found by comparing tokens.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from pathlib import Path

from outreach.errors import ModelError
from outreach.settings import ModelSettings
from generation.batch_context import (MIN_PREFIX_REUSE, LlamaContext, PrefixStore,
                                      common_prefix, decode_tokens)
from generation.sampling import SamplingParams, SequenceSampler, find_stop, top_k_rows
from generation.head_cut import Extras
from generation.batch_types import EngineCounts, EngineStats, GenRequest, GenResult

log = logging.getLogger(__name__)
__all__ = ["BatchEngine", "EngineCounts", "EngineStats", "GenRequest", "GenResult"]


@dataclass(eq=False)
class _Seq:
    request: GenRequest
    future: Future
    submitted: float
    seq_id: int = -1
    prompt: list[int] = field(default_factory=list)
    n_past: int = 0  # tokens of this sequence in the KV cache
    cached: int = 0
    share: int = 0  # prompt tokens to prefill first and keep as a shared prefix (0: none)
    sampler: SequenceSampler | None = None
    extras: Extras | None = None  # a trimmed head's tokens this request may copy
    stops: tuple[bytes, ...] = ()
    stop_overlap: int = 0  # bytes of text before a new piece a stop string may start in
    admitted: float = 0.0
    next_token: int = -1  # sampled, not yet decoded
    out: list[int] = field(default_factory=list)
    text: bytearray = field(default_factory=bytearray)


class BatchEngine:
    """A loaded model decoding up to ``slots`` requests at once on a background thread."""

    def __init__(self, model_path: Path | str, cfg: ModelSettings, *, slots: int | None = None,
                 ctx_per_slot: int | None = None, prefix_slots: int = 1,
                 shared_slots: int | None = None,
                 lora_path: Path | str | None = None, n_threads: int | None = None,
                 verbose: bool = False) -> None:
        self.slots = slots or cfg.batch_slots
        self.prefix_slots = max(0, prefix_slots)
        self.shared_slots = max(0, cfg.shared_prefix_slots if shared_slots is None
                                else shared_slots)
        self.cfg = cfg
        # Sequence ids: 0..slots-1 requests (at least 0..1: id 1 takes the padding row of a
        # one-sequence step, see _step), then the registered prefixes, then those kept from
        # requests.
        self._first_prefix = max(self.slots, 2)
        self._llama = LlamaContext(model_path, cfg, n_seq=self._first_prefix + self.prefix_slots
                                   + self.shared_slots,
                                   ctx_per_seq=ctx_per_slot or cfg.ctx_per_slot,
                                   n_batch=max(cfg.n_batch, self.slots + 1),
                                   lora_path=lora_path, n_threads=n_threads, verbose=verbose,
                                   trimmed_path=cfg.trimmed_path)
        self.ctx_per_slot = self._llama.ctx_per_seq
        self.n_batch = self._llama.n_batch
        self.n_threads = self._llama.n_threads
        self._text = self._llama.text
        self._cond = threading.Condition()
        self._pending: deque[_Seq] = deque()
        self._commands: list[tuple[str, Future]] = []
        self._active: list[_Seq] = []  # sorted by seq_id; only the decode thread touches it
        self._prefixes = PrefixStore(self._llama, first_seq=self._first_prefix,
                                     count=self.prefix_slots, shared=self.shared_slots)
        self._stopping = False
        self._broken: BaseException | None = None
        self._counts = EngineCounts()
        self._thread = threading.Thread(target=self._run, name="batch-engine", daemon=True)
        self._thread.start()

    # -- public API (any thread) -------------------------------------------------------------

    def submit(self, request: GenRequest) -> Future:
        """Queue ``request``; the future resolves to a GenResult or raises ModelError."""
        if request.max_tokens < 1:
            raise ModelError("max_tokens must be at least 1")
        seq = _Seq(request=request, future=Future(), submitted=time.perf_counter())
        with self._cond:
            self._check_open()
            if request.urgent:  # ahead of the queue, behind earlier urgent ones
                self._pending.insert(self._urgent_waiting(), seq)
            else:
                self._pending.append(seq)
            self._cond.notify()
        return seq.future

    def _urgent_waiting(self) -> int:
        n = 0
        while n < len(self._pending) and self._pending[n].request.urgent:
            n += 1
        return n

    def generate_many(self, requests: Sequence[GenRequest], *, return_exceptions: bool = False,
                      on_done: Callable[[GenResult | BaseException], None] | None = None,
                      ) -> list[GenResult | BaseException]:
        """Run ``requests`` concurrently; results in request order. A failed request raises its
        ModelError, or with ``return_exceptions`` stands in the list as the exception."""
        futures = [self.submit(request) for request in requests]
        if on_done is not None:
            for future in futures:
                future.add_done_callback(lambda f: on_done(f.exception() or f.result()))
        results: list[GenResult | BaseException] = []
        for future in futures:
            exc = future.exception()
            if exc is not None and not return_exceptions:
                raise exc
            results.append(exc if exc is not None else future.result())
        return results

    def set_prefix(self, text: str) -> int:
        """Decode ``text`` once into a reserved sequence; later prompts that start with it reuse
        it. Returns the prefix id. With all prefix slots used, the least recently used prefix is
        replaced (sequences already running keep their own copy)."""
        if self.prefix_slots == 0:
            raise ModelError("this engine has no prefix slots (prefix_slots=0)")
        future: Future = Future()
        with self._cond:
            self._check_open()
            self._commands.append((text, future))
            self._cond.notify()
        return future.result()

    def count_tokens(self, text: str) -> int:
        return len(self._text.tokenize(text))

    def stats(self) -> EngineStats:
        prefixes = self._prefixes
        return EngineStats(**asdict(self._counts), prefix_decodes=prefixes.decodes,
                           prefix_tokens=prefixes.decoded_tokens, prefix_keeps=prefixes.kept,
                           reused_tokens=prefixes.reused_tokens)

    def close(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join()
        self._llama.close()

    def __enter__(self) -> BatchEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._stopping:
            raise ModelError("the batch engine is closed")
        if self._broken is not None:
            raise ModelError(f"the batch engine stopped: {self._broken}") from self._broken

    # -- decode thread -------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    while not (self._stopping or self._pending or self._commands
                               or self._active):
                        self._cond.wait()
                    if self._stopping:
                        break
                    commands, self._commands = self._commands, []
                for text, future in commands:
                    self._register_prefix(text, future)
                self._admit()
                self._compact()
                if self._active:
                    self._step()
        except BaseException as exc:  # a bug or a fatal llama.cpp error: fail everyone, loudly
            log.exception("batch engine stopped")
            self._broken = exc
        finally:
            error = ModelError("the batch engine stopped before this request finished")
            with self._cond:
                waiting, self._pending = list(self._pending), deque()
                commands, self._commands = self._commands, []
            for seq in self._active + waiting:
                self._fail(seq, error)
            for _, future in commands:
                future.set_exception(error)

    def _register_prefix(self, text: str, future: Future) -> None:
        try:
            future.set_result(self._prefixes.register(text))
        except ModelError as exc:
            future.set_exception(exc)

    def _admit(self) -> None:
        """Give queued requests the lowest free slots and prefill them.

        A request is prefilled completely when admitted, in llama_decode calls of its own: with
        one KV stream per sequence llama.cpp splits a batch into ubatches holding equally many
        tokens of consecutive sequence ids, so a prompt chunk never shares a weight pass with
        decoding rows anyway (only its first token would), and a sequence still prefilling
        would leave a gap in the decoding ids that costs a second pass per step.
        """
        while len(self._active) < self.slots:
            with self._cond:
                if not self._pending:
                    return
                seq = self._pending.popleft()
            if not seq.future.set_running_or_notify_cancel():
                continue
            started = time.perf_counter()
            used = {s.seq_id for s in self._active}
            seq.seq_id = next(i for i in range(self.slots) if i not in used)
            bisect.insort(self._active, seq, key=_seq_key)
            try:
                self._prepare(seq)
                if seq.n_past < seq.share:  # the shared part first, then kept for others
                    self._prefill(seq.prompt[seq.n_past:seq.share], seq.seq_id, seq.n_past)
                    seq.n_past = seq.share
                    self._prefixes.keep(seq.prompt[:seq.share], seq.seq_id)
                # The prompt's last token rides the next step with the decoding sequences: its
                # logits come from the same kernels as every later token's (a prefill chunk
                # rounds differently, so a near-tie could go either way), and a trimmed head
                # gets the hidden state it needs, which llama.cpp gives for every token of a
                # batch or for none.
                self._prefill(seq.prompt[seq.n_past:-1], seq.seq_id, seq.n_past)
            except ModelError as exc:
                self._fail(seq, exc)
                continue
            seq.n_past = len(seq.prompt) - 1
            seq.next_token = seq.prompt[-1]
            self._counts.admit_seconds += time.perf_counter() - started

    def _prepare(self, seq: _Seq) -> None:
        request, cfg = seq.request, self.cfg
        seq.admitted = time.perf_counter()
        seq.prompt = self._text.tokenize(request.prompt)
        if len(seq.prompt) >= self.ctx_per_slot:
            raise ModelError(f"prompt of {len(seq.prompt)} tokens does not fit a slot of "
                             f"{self.ctx_per_slot} tokens")
        seq.stops = tuple(s.encode() for s in request.stop if s)
        seq.stop_overlap = max((len(s) for s in seq.stops), default=1) - 1
        seq.extras = self._llama.extras(seq.prompt, request.prompt)
        seq.sampler = SequenceSampler(self._llama.text_model, SamplingParams(
            temperature=cfg.temperature if request.temperature is None else request.temperature,
            top_p=cfg.top_p if request.top_p is None else request.top_p,
            repeat_penalty=(cfg.repeat_penalty if request.repeat_penalty is None
                            else request.repeat_penalty),
            seed=request.seed), request.grammar)
        seq.share = self._share(request, seq.prompt)
        seq.n_past = seq.cached = self._prefixes.reuse(seq.prompt, seq.seq_id, seq.share)

    def _share(self, request: GenRequest, prompt: list[int]) -> int:
        """The prompt tokens ``request.share_chars`` covers (where they tokenize as the whole
        prompt does), when a shared slot may keep them; else 0."""
        if not (self.shared_slots and request.share_chars):
            return 0
        marked = self._text.tokenize(request.prompt[:request.share_chars])
        n = min(common_prefix(prompt, marked), len(prompt) - 1)
        return n if n >= MIN_PREFIX_REUSE else 0

    def _prefill(self, tokens: list[int], seq_id: int, start: int) -> None:
        """Decode ``tokens`` of one sequence in chunks of n_batch, keeping no outputs."""
        started = time.perf_counter()
        for at in range(0, len(tokens), self.n_batch):
            seconds = decode_tokens(self._llama, tokens[at:at + self.n_batch], seq_id,
                                    start + at, want_last=False)
            self._counts.decode_seconds += seconds
            self._counts.prefill_seconds += seconds
        self._counts.prefill_tokens += len(tokens)
        self._counts.busy_seconds += time.perf_counter() - started

    def _compact(self) -> None:
        """Keep the running sequences on ids 0..k-1: llama.cpp splits a batch at every gap in
        the sequence ids, and each extra ubatch is one more pass over the weights. A move is
        one KV stream copy; it is needed only when no queued request filled the gap."""
        # _active is sorted by id, so its ids are exactly 0..k-1 when the last one is k-1.
        while self._active and self._active[-1].seq_id != len(self._active) - 1:
            used = {seq.seq_id for seq in self._active}
            hole = next(i for i in range(len(self._active)) if i not in used)
            last = self._active.pop()
            self._llama.copy(last.seq_id, hole, keep=last.n_past)
            self._llama.clear(last.seq_id)
            last.seq_id = hole
            bisect.insort(self._active, last, key=_seq_key)
            self._counts.moves += 1

    def _step(self) -> None:
        """One llama_decode: the last sampled token of every running sequence, then sampling."""
        started = time.perf_counter()
        llama = self._llama
        active = list(self._active)
        for i, seq in enumerate(active):
            llama.put(i, seq.next_token, seq.n_past, seq.seq_id, True)
        n = len(active)
        if n == 1:
            # A single-row batch takes llama.cpp's one-query attention path, which rounds
            # differently; a padding row (no logits, dropped below) keeps every step on the
            # same kernels, so a sequence's tokens do not depend on how many run beside it.
            # After _compact the one sequence is id 0, so id 1 is empty.
            llama.put(1, active[0].next_token, 0, 1, False)
            n = 2
        llama.batch.n_tokens = n
        rc, seconds = llama.decode()
        if len(active) == 1:
            llama.clear(1)
        if rc != 0:
            error = ModelError(f"llama_decode failed with status {rc} on a batch of {n} tokens")
            for seq in active:
                self._fail(seq, error)
            return
        sampling = time.perf_counter()
        # All rows' candidates in one numpy pass over the [sequences x vocabulary] logits:
        # per-row calls cost a few small numpy calls each, ~16 per step.
        try:
            rows = llama.output_rows(len(active), [seq.extras for seq in active])
            candidates = top_k_rows(rows, [seq.sampler.top_k for seq in active],
                                    [seq.sampler.repeat_penalty for seq in active])
        except ModelError as exc:
            for seq in active:
                self._fail(seq, exc)
            return
        for i, seq in enumerate(active):
            seq.n_past += 1
            try:
                token = seq.sampler.sample_row(rows[i], candidates[i], llama.to_ids(seq.extras))
            except ModelError as exc:
                self._fail(seq, exc)
                continue
            self._accept(seq, token)
        counts, done = self._counts, time.perf_counter()
        counts.steps += 1
        counts.decoded_tokens += len(active)
        counts.decode_seconds += seconds
        counts.sample_seconds += done - sampling
        counts.busy_seconds += done - started

    def _accept(self, seq: _Seq, token: int) -> None:
        if self._text.is_end(token):
            self._finish(seq, "stop")
            return
        seq.out.append(token)
        before = len(seq.text)
        seq.text += self._text.piece(token)
        if seq.stops:
            at = find_stop(seq.text, seq.stops, max(0, before - seq.stop_overlap))
            if at >= 0:
                del seq.text[at:]
                self._finish(seq, "stop")
                return
        if len(seq.out) >= seq.request.max_tokens or seq.n_past >= self.ctx_per_slot:
            self._finish(seq, "length")
            return
        seq.next_token = token

    def _release(self, seq: _Seq) -> None:
        if seq.sampler is not None:
            seq.sampler.close()
            seq.sampler = None
        if seq.seq_id >= 0:
            self._llama.clear(seq.seq_id)
            seq.seq_id = -1
        with contextlib.suppress(ValueError):
            self._active.remove(seq)

    def _finish(self, seq: _Seq, reason: str) -> None:
        self._release(seq)
        done = time.perf_counter()
        seq.future.set_result(GenResult(
            text=seq.text.decode("utf-8", errors="replace"), tokens=tuple(seq.out),
            prompt_tokens=len(seq.prompt), cached_tokens=seq.cached,
            completion_tokens=len(seq.out), seconds=done - seq.submitted,
            queued_seconds=seq.admitted - seq.submitted, finish_reason=reason))

    def _fail(self, seq: _Seq, exc: BaseException) -> None:
        self._release(seq)
        if not seq.future.done():
            seq.future.set_exception(exc)


def _seq_key(seq: _Seq) -> int:
    return seq.seq_id

"""What `outreach bench` measures, as data: rows of throughput figures plus the machine limits.

Rows are keyed ("a", "b", "c", "d", ...) and appended with ``BenchReport.add_row``; ratios such
as c/a are computed from whichever rows exist, so a row added later (the Kafka pipeline, "d")
gets its d/c ratio without any change here. Other single figures (the intake rate in leads/s,
say) go in with ``add_metric``.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# (numerator, denominator) pairs reported on emails/min when both rows exist.
# Capacity: daily lead volumes sized, and the share of a worker's measured rate planned for
# (70%: room for peaks and for a worker restarting without the rest falling behind).
CAPACITY_LEADS = (10_000, 100_000, 1_000_000)
UTILIZATION = 0.7
# "ta"/"tc": rows (a)/(c) on the vocabulary-trimmed model, measured in the same run.
# "td": the Kafka pipeline (d) with the served head cut.
RATIOS: tuple[tuple[str, str], ...] = (("c", "a"), ("c", "b"), ("d", "c"), ("tc", "c"),
                                       ("tc", "a"), ("ta", "a"), ("tc", "ta"), ("td", "tc"),
                                       ("td", "d"))
# Issue 27's targets, each read from one run: ratios of emails/min at least this, and the
# served engine (tc) at least this share of its own model's all-logits decode ceiling.
RATIO_TARGETS = (("tc/a", 8.0), ("td/tc", 0.9))
CEILING_SHARE_TARGET = 0.60


@dataclass(frozen=True)
class Prices:
    usd_per_vcpu_hour: float
    api_usd_per_m_input: float
    api_usd_per_m_output: float


@dataclass
class BenchRow:
    """One way of writing the same emails, measured over a timed window."""

    key: str  # "a", "b", "c", "d"...
    label: str
    emails: int = 0
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0  # process (and server child) CPU time over the window
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latencies: list[float] = field(default_factory=list)  # per email, seconds
    concurrency: int = 1
    notes: str = ""
    skipped: str = ""  # why the row could not run; figures are then empty
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def emails_per_min(self) -> float:
        return 60.0 * self.emails / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def tokens_per_s(self) -> float:
        return self.completion_tokens / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def cpu_seconds_per_email(self) -> float:
        return self.cpu_seconds / self.emails if self.emails else 0.0

    def latency(self, q: float) -> float:
        if not self.latencies:
            return 0.0
        if len(self.latencies) == 1:
            return self.latencies[0]
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[int(q) - 1]

    def usd_per_1k_emails(self, prices: Prices) -> float:
        return self.cpu_seconds_per_email * 1000 / 3600 * prices.usd_per_vcpu_hour

    def api_usd_per_1k_emails(self, prices: Prices) -> float:
        """What an API LLM would charge for the same prompt and completion tokens."""
        if not self.emails:
            return 0.0
        per_email_in = self.prompt_tokens / self.emails
        per_email_out = self.completion_tokens / self.emails
        return 1000 * (per_email_in * prices.api_usd_per_m_input
                       + per_email_out * prices.api_usd_per_m_output) / 1e6

    def pool(self, other: BenchRow) -> None:
        """Add another round of the same row: totals add up (so the pooled rates weight each
        round by its emails), latencies concatenate, numeric details add up."""
        if other.skipped or self.skipped:
            self.skipped = self.skipped or other.skipped
            return
        self.emails += other.emails
        self.wall_seconds += other.wall_seconds
        self.cpu_seconds += other.cpu_seconds
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.latencies.extend(other.latencies)
        for name, value in other.details.items():
            mine = self.details.get(name)
            if isinstance(value, list) and isinstance(mine, list):
                mine.extend(value)
            elif isinstance(value, (int, float)) and isinstance(mine, (int, float)):
                self.details[name] = mine + value
            else:
                self.details.setdefault(name, value)

    def summary(self, prices: Prices, weight_bytes: int, bandwidth_gbs: float) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k != "latencies"}
        if self.skipped:
            return data
        data.update(
            emails_per_min=self.emails_per_min, tokens_per_s=self.tokens_per_s,
            p50_latency_s=self.latency(50), p95_latency_s=self.latency(95),
            cpu_seconds_per_email=self.cpu_seconds_per_email,
            usd_per_1k_emails=self.usd_per_1k_emails(prices),
            api_usd_per_1k_emails=self.api_usd_per_1k_emails(prices),
            # Bytes of weights a batch-1 decoder would stream for these tokens, over what the
            # memory system can stream: above 1.0 means batching beat the batch-1 bound.
            decode_bandwidth_ratio=(weight_bytes * self.tokens_per_s / (bandwidth_gbs * 1e9)
                                    if bandwidth_gbs > 0 else 0.0))
        return data


@dataclass
class BenchReport:
    machine: dict[str, Any]
    model: dict[str, Any]
    prices: Prices
    weight_bytes: int
    bandwidth_gbs: float = 0.0  # measured in the same run
    trim_weight_bytes: int = 0  # the vocabulary-trimmed model's, when rows "t*" ran
    ceiling: dict[str, float] = field(default_factory=dict)  # decode ceiling, tok/s
    rows: list[BenchRow] = field(default_factory=list)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    _limit_rounds: list[tuple[float, dict[str, float]]] = field(default_factory=list,
                                                               repr=False)

    def add_row(self, row: BenchRow) -> None:
        """Add or replace the row with ``row.key``; rows stay ordered by key."""
        self.rows = sorted([r for r in self.rows if r.key != row.key] + [row],
                           key=lambda r: r.key)

    def pool_row(self, row: BenchRow) -> None:
        """Add ``row``, or pool it into the row with its key (another round of it). Each
        round's own emails/min is kept in ``details["round_emails_per_min"]``."""
        if not row.skipped:
            row.details["round_emails_per_min"] = [round(row.emails_per_min, 2)]
        mine = next((r for r in self.rows if r.key == row.key), None)
        if mine is None:
            self.add_row(row)
        else:
            mine.pool(row)

    def pool_limits(self, bandwidth_gbs: float, ceiling: dict[str, float]) -> None:
        """Record one round's machine limits; the report keeps the mean over rounds, so the
        engine's share compares like with like when the machine's speed drifts."""
        self._limit_rounds.append((bandwidth_gbs, ceiling))
        n = len(self._limit_rounds)
        self.bandwidth_gbs = sum(b for b, _ in self._limit_rounds) / n
        self.ceiling = {key: sum(c.get(key, 0.0) for _, c in self._limit_rounds) / n
                        for key in ceiling}

    def add_metric(self, name: str, value: float, unit: str, note: str = "") -> None:
        self.metrics[name] = {"value": value, "unit": unit, "note": note}

    def row(self, key: str) -> BenchRow | None:
        return next((r for r in self.rows if r.key == key and not r.skipped), None)

    def ratios(self) -> dict[str, float]:
        out = {}
        for num, den in RATIOS:
            a, b = self.row(num), self.row(den)
            if a and b and b.emails_per_min > 0:
                out[f"{num}/{den}"] = a.emails_per_min / b.emails_per_min
        return out

    def ceiling_share(self, key: str = "c", limit: str = "logits_all_tok_s") -> float:
        """Generated tok/s of a row over a measured limit: by default the decode ceiling
        (logits for every token, as decoding needs them); ``bare_loop_tok_s`` gives the share
        of the bare one-token-per-sequence loop."""
        row, top = self.row(key), self.ceiling.get(limit, 0.0)
        return row.tokens_per_s / top if row and top > 0 else 0.0

    def targets(self) -> list[dict[str, Any]]:
        """Issue 27's targets against this run's figures (a target whose rows did not run is
        left out): name, value, target, met."""
        ratios = self.ratios()
        out = [{"name": name, "value": ratios[name], "target": target,
                "met": ratios[name] >= target} for name, target in RATIO_TARGETS
               if name in ratios]
        if self.row("tc") and self.ceiling.get("trim_logits_all_tok_s"):
            share = self.ceiling_share("tc", "trim_logits_all_tok_s")
            # A ceiling below the same model's bare loop (one 16-token decode per step) is a
            # disturbed measurement, not a ceiling: 129 against 306 tok/s in the run of
            # 2026-12-08 01:38, which read "124%, met". No verdict then; --rounds 2 pools two.
            sane = self.ceiling["trim_logits_all_tok_s"] >= self.ceiling.get(
                "trim_bare_loop_tok_s", 0.0)
            out.append({"name": "tc share of its all-logits ceiling", "value": share,
                        "target": CEILING_SHARE_TARGET,
                        "met": (share >= CEILING_SHARE_TARGET) if sane else None})
        return out

    def profile(self, key: str) -> dict[str, float]:
        """The per-step profile of an engine row (bench/profile.py), or {}."""
        from bench.profile import step_profile

        row = self.row(key)
        if not row or "prefill_seconds" not in row.details:
            return {}
        return step_profile(row.details, row.wall_seconds, row.emails)

    def capacity(self, key: str, leads_per_day: tuple[int, ...] = CAPACITY_LEADS
                 ) -> dict[str, Any]:
        """Sizing from row ``key``'s measured rate: emails a day per worker (this machine's
        cores), and for each daily lead volume the workers (each run at UTILIZATION of that
        rate), the request-topic partitions (one consumer per partition, twice the workers so
        the group can grow without repartitioning) and the CPU cost a day."""
        row = self.row(key)
        if row is None or row.emails_per_min <= 0:
            return {}
        cores = int(self.machine.get("cores") or 2)
        per_worker = row.emails_per_min * 60 * 24
        out: dict[str, Any] = {"row": key, "cores_per_worker": cores,
                               "emails_per_day_per_worker": round(per_worker),
                               "utilization": UTILIZATION, "sizes": []}
        for leads in leads_per_day:
            workers = max(1, math.ceil(leads / (per_worker * UTILIZATION)))
            out["sizes"].append({"leads_per_day": leads, "workers": workers,
                                 "partitions": 2 * workers,
                                 "usd_per_day": round(workers * cores * 24
                                                      * self.prices.usd_per_vcpu_hour, 2)})
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "machine": self.machine, "model": self.model, "prices": asdict(self.prices),
            "weight_bytes": self.weight_bytes, "bandwidth_gbs": self.bandwidth_gbs,
            "ceiling": self.ceiling,
            "limit_rounds": [{"bandwidth_gbs": b, **c} for b, c in self._limit_rounds],
            "rows": [r.summary(self.prices, self.weight_bytes, self.bandwidth_gbs)
                     for r in self.rows],
            "ratios": self.ratios(), "targets": self.targets(),
            "engine_ceiling_share": self.ceiling_share(),
            "engine_bare_loop_share": self.ceiling_share(limit="bare_loop_tok_s"),
            "trimmed_engine_ceiling_share": self.ceiling_share("tc", "trim_logits_all_tok_s"),
            "trimmed_engine_bare_loop_share": self.ceiling_share("tc", "trim_bare_loop_tok_s"),
            "trim_weight_bytes": self.trim_weight_bytes,
            "profiles": {r.key: self.profile(r.key) for r in self.rows if self.profile(r.key)},
            "capacity": {k: self.capacity(k) for k in ("c", "tc") if self.capacity(k)},
            "metrics": self.metrics}

    def to_markdown(self) -> str:
        p = self.prices
        lines = [
            f"Machine: {self.machine.get('cpu', '?')}, {self.machine.get('cores', '?')} cores "
            f"({self.machine.get('threads', '?')} llama.cpp threads), other processes "
            f"{self.machine.get('other_cores', '?')} cores on average; model "
            f"{self.model.get('name', '?')}, gpu_layers {self.model.get('n_gpu_layers', 0)} "
            f"({self.weight_bytes / 1e6:.0f} MB), max_tokens {self.model.get('max_tokens')}.",
            "",
            "| row | emails | emails/min | gen tok/s | p50 s | p95 s | CPU s/email "
            f"| $/1k emails (${p.usd_per_vcpu_hour}/vCPU-h) | API $/1k emails | BW ratio |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for row in self.rows:
            if row.skipped:
                lines.append(f"| ({row.key}) {row.label} | skipped: {row.skipped} "
                             "| | | | | | | | |")
                continue
            s = row.summary(p, self.weight_bytes, self.bandwidth_gbs)
            lines.append(
                f"| ({row.key}) {row.label} | {row.emails} | {s['emails_per_min']:.1f} "
                f"| {s['tokens_per_s']:.1f} | {s['p50_latency_s']:.2f} "
                f"| {s['p95_latency_s']:.2f} | {s['cpu_seconds_per_email']:.2f} "
                f"| {s['usd_per_1k_emails']:.4f} | {s['api_usd_per_1k_emails']:.4f} "
                f"| {s['decode_bandwidth_ratio']:.2f} |")
        lines.append("")
        if self.machine.get("busy"):
            lines.append(f"WARNING: {self.machine['busy']}")
        ratios = ", ".join(f"{k} = {v:.2f}x" for k, v in self.ratios().items())
        lines.append(f"Ratios (emails/min): {ratios or 'n/a'}.")
        targets = "; ".join(
            f"{t['name']} " + (f"{t['value']:.0%} (target >= {t['target']:.0%})"
                               if "share" in t["name"] else
                               f"{t['value']:.2f}x (target >= {t['target']:g}x)")
            + {True: ": met", False: ": **not met**"}.get(
                t["met"], ": not measured (ceiling below the bare loop)")
            for t in self.targets())
        if targets:
            lines.append(f"Targets (issue 27, this run): {targets}.")
        spread = "; ".join(f"({r.key}) " + " / ".join(f"{x:.1f}" for x in per_round)
                           for r in self.rows
                           if len(per_round := r.details.get("round_emails_per_min", [])) > 1)
        if spread:
            lines.append(f"Rounds ({self.model.get('rounds', '?')}, rows interleaved), "
                         f"emails/min of each: {spread}.")
        if self.ceiling:
            c = self.ceiling
            lines.append(
                f"Decode ceiling (one llama_decode of {c.get('tokens', 64):.0f} tokens): "
                f"{c.get('logits_last_tok_s', 0):.0f} tok/s with logits for the last token, "
                f"{c.get('logits_all_tok_s', 0):.0f} tok/s with logits for all; "
                f"engine (c) share of the latter: {100 * self.ceiling_share():.0f}%.")
            if c.get("bare_loop_tok_s"):
                top = c.get("logits_all_tok_s", 0)
                lines.append(
                    f"Bare loop ({c.get('bare_loop_sequences', 0):.0f} sequences, one token "
                    f"each per llama_decode, greedy, no prefills): {c['bare_loop_tok_s']:.0f} "
                    f"tok/s = {100 * c['bare_loop_tok_s'] / top if top else 0:.0f}% of the "
                    f"ceiling; engine (c) share of the bare loop: "
                    f"{100 * self.ceiling_share(limit='bare_loop_tok_s'):.0f}%.")
        if self.ceiling.get("trim_logits_all_tok_s"):
            c = self.ceiling
            lines.append(
                f"Trimmed vocabulary ({self.trim_weight_bytes / 1e6:.0f} MB): ceiling "
                f"{c.get('trim_logits_last_tok_s', 0):.0f} / {c['trim_logits_all_tok_s']:.0f} "
                f"tok/s (logits last / all), bare loop {c.get('trim_bare_loop_tok_s', 0):.0f} "
                f"tok/s; engine (tc) share of its ceiling: "
                f"{100 * self.ceiling_share('tc', 'trim_logits_all_tok_s'):.0f}%, of its bare "
                f"loop: {100 * self.ceiling_share('tc', 'trim_bare_loop_tok_s'):.0f}%.")
        profiles = "; ".join(f"({r.key}) " + ", ".join(f"{k} {v}" for k, v in prof.items())
                             for r in self.rows if (prof := self.profile(r.key)))
        if profiles:
            lines.append(f"Engine per-step profile: {profiles}.")
        lines.append(f"Memory bandwidth (numpy copy, read+write): {self.bandwidth_gbs:.1f} GB/s; "
                     "BW ratio = weight bytes x gen tok/s / bandwidth (above 1 = beyond the "
                     "batch-1 bandwidth bound).")
        lines.append(f"API prices: ${p.api_usd_per_m_input}/1M input, "
                     f"${p.api_usd_per_m_output}/1M output tokens (same token counts).")
        for name, m in self.metrics.items():
            note = f" ({m['note']})" if m.get("note") else ""
            lines.append(f"{name}: {m['value']:.1f} {m['unit']}{note}.")
        for key in ("c", "tc"):
            cap = self.capacity(key)
            if not cap:
                continue
            lines += ["", f"Capacity from row ({key}): {cap['emails_per_day_per_worker']:,} emails "
                      f"a day per {cap['cores_per_worker']}-core worker; sized at "
                      f"{cap['utilization']:.0%} of that rate, partitions = 2 x workers.", "",
                      "| leads/day | workers | partitions | $/day (CPU) |", "|---:|---:|---:|---:|"]
            lines += [f"| {s['leads_per_day']:,} | {s['workers']} | {s['partitions']} | "
                      f"{s['usd_per_day']:.2f} |" for s in cap["sizes"]]
        return "\n".join(lines) + "\n"

    def write(self, out_dir: Path) -> tuple[Path, Path]:
        out_dir.mkdir(parents=True, exist_ok=True)
        json_path, md_path = out_dir / "bench.json", out_dir / "bench.md"
        json_path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        md_path.write_text(self.to_markdown())
        return json_path, md_path

"""The demo's baseline-LLM arm: the paper's A/B test, miniature champion vs a baseline LLM.

``with_llm_arm(settings, llm_url)`` turns on the A/B test with two arms (the miniature
champion on its routed tier, and ``llm-baseline`` on the LLM tier) unless the settings file
already configured one. With ``llm_url`` the arm calls that OpenAI-compatible endpoint (chat
API). Without one, ``local_stand_in`` starts llama-cpp-python's OpenAI-compatible server on the
untuned base model and the arm sends it the few-shot prompt (completions API): a clearly
labelled LOCAL STAND-IN for a hosted LLM, so the comparison runs offline. Its drafts are
priced at the configured per-token prices (gpt-4o-mini by default), as a hosted LLM would be.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from outreach.settings import Settings, VariantSpec
from outreach.stack import free_port
from schemas.records import EmailDraft
from generation.llama_server import LlamaServer, llama_server

LLM_ARM = "llm-baseline"
STAND_IN_LABEL = "LOCAL STAND-IN for a hosted LLM: untuned base GGUF + few-shot prompt"


def with_llm_arm(settings: Settings, base_url: str, stand_in: bool) -> Settings:
    """``settings`` with the LLM tier pointed at ``base_url`` and the two-arm A/B test on."""
    llm = settings.llm.model_copy(update={
        "base_url": base_url,
        "api": "completions" if stand_in else settings.llm.api,
        "model": "local-stand-in" if stand_in else settings.llm.model,
        "label": STAND_IN_LABEL if stand_in else (settings.llm.label or settings.llm.model),
        # llama_cpp.server writes one completion at a time: more requests in flight only queue
        # there and run into the read timeout (seen: 4 in flight, ~90 s each on 2 busy cores).
        **({"concurrency": 1, "timeout_s": 600.0} if stand_in else {})})
    abtest = settings.abtest
    if not abtest.enabled:
        champion = abtest.champion
        arms = [v for v in abtest.variants if v.name != LLM_ARM]
        arms.append(VariantSpec(name=LLM_ARM, tier="llm", description=llm.label))
        abtest = abtest.model_copy(update={"enabled": True, "variants": arms,
                                           "champion": champion})
    return settings.model_copy(update={"llm": llm, "abtest": abtest})


def local_stand_in(settings: Settings, log_dir: Path) -> contextlib.AbstractContextManager:
    """``python -m llama_cpp.server`` on the configured (or default) GGUF, on a free port."""
    from generation.model import default_model_path

    model = settings.model.gguf_path or default_model_path()
    return llama_server(Path(model), log_dir / "llm-stand-in.log",
                        threads=settings.model.n_threads or 1,
                        ready_timeout_s=300)  # 120 s ran out on 2 cores at load 35


class LLMArm:
    """The demo's LLM arm: the settings it runs with and the stand-in it may have started."""

    def __init__(self, settings: Settings, llm_url: str | None, log_dir: Path) -> None:
        self._servers = contextlib.ExitStack()
        self.stand_in: LlamaServer | None = None
        if llm_url is None and settings.llm.base_url is None:
            self.stand_in = self._servers.enter_context(local_stand_in(settings, log_dir))
            llm_url = self.stand_in.base_url
        self.settings = with_llm_arm(settings, llm_url or settings.llm.base_url or "",
                                     stand_in=self.stand_in is not None)

    def describe(self) -> str:
        llm = self.settings.llm
        return (f"A/B: {self.settings.abtest.champion} (miniature champion) vs {LLM_ARM} "
                f"({llm.model} at {llm.base_url}; {llm.label}); priced at "
                f"${llm.usd_per_m_input:g}/${llm.usd_per_m_output:g} per million tokens")

    def close(self) -> None:
        self._servers.close()


def held_leads(settings: Settings) -> set[str]:
    """Leads whose draft waits in the approval queue (an outcome, though not yet sent)."""
    from outreach.held import HeldDrafts
    from outreach.store import sync_client

    if not settings.redis_url:
        return set()
    held = HeldDrafts(sync_client(settings.redis_url), settings.redis.key_prefix,
                      settings.approval.item_ttl_s)
    return {item.lead["lead_id"] for item in held.pending(limit=10_000)}


def rung_table(settings: Settings, drafts: list[dict]) -> Any:
    """Drafts and spend per escalation rung, plus the approval queue, for the demo summary.
    Spend is the ledger's (outreach/spend.py), the one the dashboard and /metrics read."""
    from rich.table import Table

    from outreach.budget import TOTAL, day, today_spend
    from outreach.held import HeldDrafts
    from outreach.spend import SpendLedger, totals
    from outreach.store import sync_client

    client = sync_client(settings.redis_url)
    rows = SpendLedger(client, settings.redis.key_prefix).rows()
    spent = totals(rows, ("rung", "kind"))
    table = Table(title="escalation ladder (drafts sent on, per rung; spend from the ledger)")
    for column in ("rung", "drafts sent on", "cost of those", "spent (all attempts)",
                   "of which failed", "tokens/s (per request)"):
        table.add_column(column, justify="right")
    rungs: dict[str, list[dict]] = {r: [] for (r, _k) in spent}
    for draft in drafts:
        rungs.setdefault(draft.get("rung") or "miniature", []).append(draft)
    for rung, items in sorted(rungs.items()):
        cost = sum(d["estimated_cost_usd"] for d in items)
        seconds = sum(d["latency_ms"] for d in items) / 1000
        tokens = sum(d["completion_tokens"] for d in items)
        written, failed = spent.get((rung, "written"), 0.0), spent.get((rung, "failed"), 0.0)
        table.add_row(rung, str(len(items)), f"${cost:.5f}", f"${written + failed:.5f}",
                      f"${failed:.5f}", f"{tokens / seconds:.1f}" if seconds else "-")
    counts = HeldDrafts(client, settings.redis.key_prefix, settings.approval.item_ttl_s).counts()
    _budget, blocked = today_spend(client, settings.redis.key_prefix)
    today = totals([r for r in rows if r.day == day()], ("rung",))
    cap = settings.llm.budget.daily_usd
    table.caption = (f"held for review: {counts.get('pending', 0)} waiting "
                     f"({counts.get('held', 0)} held in all); spend today "
                     f"${sum(today.values()):.5f}, of which LLM ${today.get(('llm',), 0.0):.5f} "
                     f"of {'no cap' if cap is None else f'${cap:.2f}'}; "
                     f"{blocked.get(TOTAL, 0)} escalation(s) stopped by the cap. Spent minus "
                     "the cost of drafts sent on = failed attempts + drafts still held.")
    return table


def start_approvals(services: Any, out_dir: Path) -> str:
    """Start `outreach approvals` beside the demo's services; returns the URL to open once."""
    import secrets

    token = secrets.token_urlsafe(16)
    port = free_port()
    services.extra_env["OUTREACH_TRAINING__REVIEW__TOKEN"] = token
    services.extra_env["OUTREACH_TRAINING__REVIEW__PORT"] = str(port)  # the dashboard links it
    services.start("approvals", "--db", str(out_dir / "review.sqlite"), "--port", str(port),
                   name="approvals")
    return f"http://127.0.0.1:{port}/drafts/?token={token}"  # opens the queue itself

"""The LLM rung's local stand-in vs an instruct candidate: same leads, same path, same checks.

    nice -n 10 .venv/bin/python -m apps.llm_standin_eval run gemma --out runs/standin
    nice -n 10 .venv/bin/python -m apps.llm_standin_eval run qwen --out runs/standin
    .venv/bin/python -m apps.llm_standin_eval report --out runs/standin

``gemma`` is today's stand-in exactly as the demo starts it (apps.llm_arm.LLMArm: the untuned
Gemma 3 270M base behind ``llama_cpp.server``, the few-shot prompt on /v1/completions).
``qwen`` is Qwen2.5-Coder-1.5B-Instruct Q4_K_M (generation.standin_model fetch) behind the same
server, sent the chat messages on /v1/chat/completions (llm.api = chat, the path a hosted LLM
takes). Both write through ``generation.llm_generate.llm_draft_for_request``: its attempts
(llm.max_attempts, seeds per request id), the code's frame, and ``generation.checks.check_draft``.
Each lead is screened and routed as intake does (streams.screening, streams.routing).

The leads (24 by default): 4 Faker leads for each example campaign (campaigns/examples) and for
3 held-out campaigns (training.heldout, every 4th file), fixed seeds, interleaved by campaign so
a run stopped by ``--budget-s`` still covers every campaign. Rows go to OUT/<name>.jsonl as they
finish, with every attempt's raw text, so the report and a person's reading need no rerun.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import statistics
import time
from collections import Counter
from itertools import zip_longest
from pathlib import Path
from typing import Any

from outreach.errors import SchemaError
from outreach.settings import Settings, load_settings
from schemas.campaign import Campaign, load_campaign

EXAMPLES = Path(__file__).resolve().parents[1] / "campaigns" / "examples"
QWEN_MODEL = "qwen2.5-coder-1.5b-instruct"
WORLD_SEED = 20261207
CREATED_AT = 1_760_000_000_000  # fixed, so two runs see byte-identical leads


def leads(per_campaign: int = 4, seed: int = WORLD_SEED) -> list[tuple[Campaign, dict]]:
    """(campaign, lead) pairs, round-robin over the campaigns."""
    from outreach import leadgen
    from training import heldout

    groups: list[list[tuple[Campaign, dict]]] = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        campaign = load_campaign(path)
        rng = random.Random(f"{seed}:{campaign.campaign_id}")
        group = []
        for index in range(per_campaign):
            lead = leadgen.make_lead(rng, index, campaign.campaign_id,
                                     id_prefix=f"sb-{campaign.campaign_id}-")
            lead["created_at"] = CREATED_AT
            group.append((campaign, lead))
        groups.append(group)
    for item in heldout.load_all()[::4]:
        groups.append([(item.campaign, lead) for lead in
                       heldout.leads_for(item, per_campaign, seed, prefix="sb")])
    return [pair for row in zip_longest(*groups) for pair in row if pair is not None]


def _llm(settings: Settings, **update: Any) -> Settings:
    return settings.model_copy(update={"llm": settings.llm.model_copy(update=update)})


@contextlib.contextmanager
def stand_in(name: str, settings: Settings, out: Path, max_tokens: int):
    """(settings pointed at the running endpoint); the server stops on exit."""
    from apps.llm_arm import with_llm_arm
    from generation.llama_server import llama_server
    from generation.model import default_model_path
    from generation.standin_model import default_path, verified

    if name == "gemma":  # today's stand-in: apps.llm_arm.local_stand_in's model and threads
        path, api, model = Path(settings.model.gguf_path or default_model_path()), None, None
    else:
        path, api, model = default_path(), "chat", QWEN_MODEL
        if not verified(path):
            raise SystemExit(f"{path} missing: python -m generation.standin_model fetch")
    # local_stand_in waits 120 s for the server; on 2 cores at load 40-80 the 270M model took
    # longer (2026-12-07), so both get 600 s. One thread each, as local_stand_in gives.
    with llama_server(path, out / f"llm-{name}.log", threads=settings.model.n_threads or 1,
                      ready_timeout_s=600) as server:
        arm = with_llm_arm(settings, server.base_url, stand_in=name == "gemma")
        if name == "gemma":
            yield _llm(arm, max_tokens=max_tokens)
        else:
            yield _llm(arm, api=api, model=model, label=f"local {QWEN_MODEL} Q4_K_M",
                       max_tokens=max_tokens, concurrency=1, timeout_s=600.0)


def one(campaign: Campaign, lead: dict, client: Any, settings: Settings) -> dict[str, Any]:
    from generation.llm_generate import llm_draft_for_request
    from streams.routing import build_request
    from streams.screening import apply, screen_lead
    from training.campaign_data import script_of

    row: dict[str, Any] = {"campaign": campaign.campaign_id, "lead_id": lead["lead_id"],
                           "script": script_of(lead), "first_name": lead.get("first_name"),
                           "company": lead.get("company"), "pain": lead.get("pain_point"),
                           "notes": lead.get("notes")}
    try:
        screening = screen_lead(lead)
    except SchemaError as exc:
        return {**row, "outcome": "dead-lettered", "reasons": [str(exc)]}
    _, request = build_request(apply(lead, screening), settings.routing.rules[-1], 0, 0)
    request["withheld"] = screening.withheld
    started = time.monotonic()
    outcome, cost = llm_draft_for_request(request, client, settings, campaign)
    done = outcome.completions
    sent = outcome.draft
    row.update(outcome="sent" if sent else "held", attempts=outcome.attempts, request=request,
               first_try=sent is not None and outcome.attempts == 1,
               reasons=list(outcome.reasons) if not sent else [],
               attempt_texts=[c.text for c in done],
               finish=[c.finish_reason for c in done],
               seconds=round(sum(c.seconds for c in done), 2),
               wall_s=round(time.monotonic() - started, 2),
               completion_tokens=sum(c.completion_tokens for c in done),
               prompt_tokens=sum(c.prompt_tokens for c in done), cost_usd=cost,
               subject=sent["subject"] if sent else None, body=sent["body"] if sent else None)
    return row


def run(name: str, out: Path, per_campaign: int, max_tokens: int, budget_s: float) -> Path:
    from generation.llm_client import ChatClient

    settings = load_settings()
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.jsonl"
    done = {json.loads(line)["lead_id"] for line in path.open()} if path.exists() else set()
    todo = [(c, lead) for c, lead in leads(per_campaign) if lead["lead_id"] not in done]
    started = time.monotonic()
    with stand_in(name, settings, out, max_tokens) as served, ChatClient(served.llm) as client, \
            path.open("a", encoding="utf-8") as handle:
        print(f"{name}: {served.llm.model} ({served.llm.api}) at {served.llm.base_url}, "
              f"{len(todo)} leads to go", flush=True)
        for campaign, lead in todo:
            if time.monotonic() - started > budget_s:
                print(f"{name}: budget of {budget_s:.0f} s spent; rerun to resume", flush=True)
                break
            row = one(campaign, lead, client, served)
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            handle.flush()
            print(f"{name} {row['lead_id']}: {row['outcome']} after {row.get('attempts', 0)} "
                  f"attempt(s), {row.get('seconds', 0):.0f} s", flush=True)
    return path


def _class(reason: str) -> str:
    from apps.quality_eval import defect_class

    return defect_class(reason.removeprefix("llm "))  # "llm attempt 1: ..." -> "attempt 1: ..."


def figures(rows: list[dict[str, Any]]) -> dict[str, Any]:
    drafted = [r for r in rows if r["outcome"] != "dead-lettered"]
    n = max(1, len(drafted))
    sent = [r for r in drafted if r["outcome"] == "sent"]
    # Every attempt's reasons, passed or not: a retried draft's first attempt is in attempt_texts
    # but its reasons were cleared by run_attempts, so rejections are counted from held leads'
    # reasons plus the first attempts of leads sent on the retry (re-checked below).
    classes = Counter(_class(r) for row in drafted for r in row.get("all_reasons", row["reasons"]))
    attempts = sum(r["attempts"] for r in drafted)
    seconds = sum(r["seconds"] for r in drafted)
    tokens = sum(r["completion_tokens"] for r in drafted)
    return {"leads": len(rows), "drafted": len(drafted),
            "first_try_pass": sum(r["first_try"] for r in drafted) / n,
            "pass_after_retries": len(sent) / n, "held": len(drafted) - len(sent),
            "attempts": attempts, "rejected_attempts": attempts - len(sent),
            "rejections_by_class": dict(classes.most_common()),
            "seconds_per_email": seconds / n,
            "seconds_per_attempt": seconds / max(1, attempts),
            "median_seconds_per_email": statistics.median([r["seconds"] for r in drafted] or [0]),
            "tokens_per_s": tokens / seconds if seconds else 0.0,
            "completion_tokens_per_attempt": tokens / max(1, attempts)}


def recheck(rows: list[dict[str, Any]]) -> None:
    """Each lead's reasons for every rejected attempt (``all_reasons``): run_attempts clears
    the first attempt's reasons when the retry passes, so they are re-derived here from the
    stored text through the same parse and checks (deterministic: same text, same reasons)."""
    from generation.checks import parse_and_check
    from outreach.errors import DraftRejected
    from generation.prompt import build_prompt
    from generation.llm_generate import few_shot_settings

    settings = load_settings()
    campaigns = {c.campaign_id: c for c, _ in leads(1)}
    for row in rows:
        if row["outcome"] == "dead-lettered":
            continue
        row["all_reasons"] = list(row["reasons"]) if row["outcome"] == "held" else []
        if row["outcome"] != "sent" or row["attempts"] == 1:
            continue
        campaign, request = campaigns[row["campaign"]], row["request"]
        prefill = ""
        if row.get("api") == "completions":
            prefill = build_prompt(request["lead"], campaign, None,
                                   few_shot_settings(settings)).prefill
        for n, (text, finish) in enumerate(zip(row["attempt_texts"][:-1], row["finish"]), 1):
            try:
                parse_and_check(prefill, text, request, settings.checks, campaign,
                                complete=finish != "length")
            except DraftRejected as exc:
                row["all_reasons"] += [f"llm attempt {n}: {r}" for r in exc.reasons]


def report(out: Path) -> str:
    lines = ["| stand-in | leads | first-try pass | pass after retries | held | rejected "
             "attempts | s per email (mean / median) | s per attempt | tok/s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    classes = []
    runs = {name: [json.loads(line) for line in (out / f"{name}.jsonl").open()]
            for name in ("gemma", "qwen") if (out / f"{name}.jsonl").exists()}
    if not runs:
        return f"no runs in {out}\n"
    # Only the leads every stand-in wrote for: a run stopped by --budget-s compares like with like.
    common = set.intersection(*({r["lead_id"] for r in rows} for rows in runs.values()))
    for name, rows in runs.items():
        rows = [r for r in rows if r["lead_id"] in common]
        for row in rows:
            row["api"] = "completions" if name == "gemma" else "chat"
        recheck(rows)
        f = figures(rows)
        lines.append(f"| {name} | {f['drafted']} | {f['first_try_pass']:.0%} | "
                     f"{f['pass_after_retries']:.0%} | {f['held']} | {f['rejected_attempts']} | "
                     f"{f['seconds_per_email']:.0f} / {f['median_seconds_per_email']:.0f} | "
                     f"{f['seconds_per_attempt']:.0f} | {f['tokens_per_s']:.1f} |")
        classes.append(f"- {name}: " + ", ".join(f"{k} {v}" for k, v in
                                                  f["rejections_by_class"].items()))
        (out / f"{name}-figures.json").write_text(json.dumps(f, indent=2) + "\n")
    return "\n".join(lines + ["", "Rejected attempts by class:", *classes]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m apps.llm_standin_eval")
    sub = parser.add_subparsers(dest="command", required=True)
    go = sub.add_parser("run")
    go.add_argument("name", choices=("gemma", "qwen"))
    go.add_argument("--out", type=Path, default=Path("runs/standin"))
    go.add_argument("--per-campaign", type=int, default=4)
    go.add_argument("--max-tokens", type=int, default=220)
    go.add_argument("--budget-s", type=float, default=3000.0)
    rep = sub.add_parser("report")
    rep.add_argument("--out", type=Path, default=Path("runs/standin"))
    args = parser.parse_args(argv)
    if args.command == "run":
        run(args.name, args.out, args.per_campaign, args.max_tokens, args.budget_s)
    else:
        print(report(args.out), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`outreach eval`: generate for held-out leads with each system and score with the rubric.

Systems compared (each over the same test leads):
- teacher: the reference email itself (the ceiling the miniature approaches).
- base-fewshot: the untuned GGUF with the worker's few-shot prompt (what is served untrained).
- base-trained-prompt: the untuned GGUF with the trained prompt (same input as the miniature).
- lora: the GGUF base + a GGUF LoRA adapter, trained prompt.
- hf:<dir>: a transformers model directory (e.g. a full fine-tune), trained prompt.
GGUF systems run through the worker's own engine (generation.engine.Generator) with the serving
sampling settings, so the scores are what production would get. Cost per email = the CPU
seconds llama.cpp used x settings.worker.usd_per_vcpu_hour / 3600.

Each test row carries its campaign (the Avro record) and evidence ids (training.campaign_data),
so every system sees the exact prompt serving would build, the rubric grounds each email in its
OWN campaign (a fact of any other test campaign is flagged as foreign), and the worker's checks
(generation.checks.check_draft with that campaign) decide "passes every post-check first time". Rows
without a campaign (older datasets) use the brief passed in. Summaries are cut by slice:
row["split"] (unseen campaigns / unseen leads) and row["script"] (latin / non_latin).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from statistics import mean
from typing import Any

from outreach.errors import DraftRejected
from outreach.settings import ChecksSettings, Settings
from schemas.campaign import Campaign
from training import embed, rubric
from training.prompt import email_text, split_email, trained_prompt

COMPONENTS = ("personalization", "grounding", "structure", "spam", "similarity", "overall")


@dataclass
class Output:
    subject: str
    body: str
    seconds: float
    cpu_seconds: float
    completion_tokens: int
    complete: bool = True  # False: cut off at max_tokens without a sign-off (a check fails)


Writer = Callable[[dict[str, Any], int], Output]  # (test row, seed) -> Output


class Campaigns:
    """Each row's own campaign, parsed once per (id, version); ``default`` for rows without."""

    def __init__(self, default: Campaign | None = None) -> None:
        self.default = default
        self._parsed: dict[tuple[str, int], Campaign] = {}

    def of(self, row: dict[str, Any]) -> Campaign:
        record = row.get("campaign")
        if not record:
            if self.default is None:
                raise ValueError(f"row {row.get('lead_id')} has no campaign and none was given")
            return self.default
        key = (record["campaign_id"], record["version"])
        if key not in self._parsed:
            self._parsed[key] = Campaign.from_record(record)
        return self._parsed[key]

    def evidence(self, row: dict[str, Any]) -> list | None:
        """The row's evidence (the facts its teacher email used); None = retrieve now."""
        ids = row.get("evidence_ids")
        campaign = self.of(row)
        return [campaign.fact(i) for i in ids] if ids else None

    def all(self) -> list[Campaign]:
        return list(self._parsed.values()) + ([self.default] if self.default else [])


def _parse(prefill: str, completion: str, lead: dict[str, Any], campaign: Campaign,
           complete: bool = True) -> tuple[str, str, bool]:
    """(subject, body, complete) as the worker frames it (generation.checks.parse_draft: the
    code's greeting and sign-off around the model's body)."""
    from generation.checks import parse_draft

    try:
        draft = parse_draft(prefill, completion, lead, campaign, complete)
        return draft.subject, draft.body, draft.complete
    except DraftRejected:  # no subject line: score what was written, it fails structure
        return (*split_email(prefill + completion), complete)


def _prompt(row: dict[str, Any], campaigns: Campaigns, settings: Settings,
            style: str) -> tuple[str, str, str]:
    """(prompt text, prefill, sender) for one test row in ``style``."""
    from generation.prompt import build_prompt, sender_name

    campaign = campaigns.of(row)
    evidence = campaigns.evidence(row)
    if style == "fewshot":
        cfg = settings.model_copy(deep=True)
        cfg.model.prompt_style = "few_shot"
        prompt = build_prompt(row["lead"], campaign, evidence, cfg)
        return prompt.text, prompt.prefill, prompt.sender
    text = trained_prompt(row["lead"], campaign, evidence, settings.checks.field_max_chars)
    return text, "", sender_name(campaign)


def gguf_writer(settings: Settings, lora: Path | None, style: str, max_tokens: int,
                campaigns: Campaigns | None = None) -> Writer:
    from generation.engine import Generator
    from generation.model import resolve_model
    from generation.prompt import STOP_SEQUENCES

    cfg = settings.model_copy(deep=True)
    cfg.model.lora_path = lora
    cfg.model.trimmed_path = None  # llama-cpp-python's Llama has no head cut: the full model
    generator = Generator(resolve_model(cfg), cfg)
    campaigns = campaigns or Campaigns()

    def write(row: dict[str, Any], seed: int) -> Output:
        text, prefill, _sender = _prompt(row, campaigns, cfg, style)
        done = generator.generate(text, max_tokens=max_tokens, seed=seed, stop=STOP_SEQUENCES)
        subject, body, complete = _parse(prefill, done.text, row["lead"], campaigns.of(row),
                                         done.finish_reason != "length")
        return Output(subject, body, done.seconds, done.cpu_seconds, done.completion_tokens,
                      complete)

    return write


def batched_gguf_writer(settings: Settings, lora: Path | None, style: str, max_tokens: int,
                        rows: list[dict[str, Any]], campaigns: Campaigns | None = None,
                        slots: int = 16) -> Writer:
    """A writer whose emails for ``rows`` (seeds 1000 + index, as run_system asks) are drafted
    up front, all together on the batched engine: 124 held-out rows take ~2.5 min on 2 cores
    instead of ~6 min one at a time. Per-email CPU seconds are the engine's busy time / rows."""
    from generation.batch import BatchEngine, GenRequest
    from generation.model import resolve_model
    from generation.prompt import STOP_SEQUENCES

    cfg = settings.model_copy(deep=True)
    cfg.model.lora_path = lora
    model = resolve_model(cfg)
    campaigns = campaigns or Campaigns()
    prompts = [_prompt(row, campaigns, cfg, style) for row in rows]
    with BatchEngine(model.path, cfg.model, slots=min(slots, len(rows)),
                     lora_path=model.lora_path) as engine:
        results = engine.generate_many([GenRequest(text, max_tokens=max_tokens, seed=1000 + i,
                                                   stop=STOP_SEQUENCES)
                                        for i, (text, _, _) in enumerate(prompts)])
        cpu_per_email = engine.stats().busy_seconds * engine.n_threads / max(1, len(rows))
    by_seed = {1000 + i: (result, prefill, sender)
               for i, (result, (_, prefill, sender)) in enumerate(zip(results, prompts))}

    def write(row: dict[str, Any], seed: int) -> Output:
        result, prefill, _sender = by_seed[seed]
        subject, body, complete = _parse(prefill, result.text, row["lead"], campaigns.of(row),
                                         result.finish_reason != "length")
        return Output(subject, body, result.seconds, cpu_per_email, result.completion_tokens,
                      complete)

    return write


def hf_writer(model_dir: Path, settings: Settings, max_tokens: int,
              campaigns: Campaigns | None = None) -> Writer:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = "cuda" if torch.cuda.is_available() else "cpu"
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).to(device).eval()
    campaigns = campaigns or Campaigns()

    def write(row: dict[str, Any], seed: int) -> Output:
        torch.manual_seed(seed)
        text, _, _sender = _prompt(row, campaigns, settings, "trained")
        ids = tokenizer(text, return_tensors="pt").input_ids.to(device)
        wall, cpu = time.perf_counter(), time.process_time()
        with torch.no_grad():
            out = model.generate(ids, max_new_tokens=max_tokens, do_sample=True,
                                 temperature=settings.model.temperature, top_p=settings.model.top_p)
        new = out[0, ids.shape[1]:]
        subject, body, complete = _parse("", tokenizer.decode(new, skip_special_tokens=True),
                                         row["lead"], campaigns.of(row),
                                         int(new.shape[0]) < max_tokens)
        return Output(subject, body, time.perf_counter() - wall, time.process_time() - cpu,
                      int(new.shape[0]), complete)

    return write


def hf_generate_batched(model: Any, tokenizer: Any, rows: list[dict[str, Any]], style: str,
                        settings: Settings, max_tokens: int, out: Path, seed: int = 1000,
                        campaigns: Campaigns | None = None) -> None:
    """All test leads in one left-padded batch (a GPU writes 60 emails in ~10 s instead of
    ~4 min one by one); same prompt styles and parsing as gguf_writer."""
    import torch

    from training.records import write_jsonl

    campaigns = campaigns or Campaigns()
    prompts, prefills, senders = [], [], []
    for row in rows:
        text, prefill, sender = _prompt(row, campaigns, settings, style)
        prompts.append(text)
        prefills.append(prefill)
        senders.append(sender)
    tokenizer.padding_side = "left"
    batch = tokenizer(prompts, return_tensors="pt", padding=True).to(model.device)
    torch.manual_seed(seed)
    started = time.perf_counter()
    with torch.no_grad():
        out_ids = model.generate(**batch, max_new_tokens=max_tokens, do_sample=True,
                                 temperature=settings.model.temperature,
                                 top_p=settings.model.top_p, pad_token_id=tokenizer.pad_token_id)
    seconds = (time.perf_counter() - started) / len(rows)
    results = []
    for row, prefill, sender, ids in zip(rows, prefills, senders,
                                         out_ids[:, batch.input_ids.shape[1]:]):
        text = tokenizer.decode(ids, skip_special_tokens=True)
        tokens = int((ids != tokenizer.pad_token_id).sum())
        subject, body, complete = _parse(prefill, text, row["lead"], campaigns.of(row),
                                         tokens < max_tokens)
        results.append({"lead_id": row["lead_id"], "subject": subject, "body": body,
                        "seconds": seconds, "cpu_seconds": 0.0, "completion_tokens": tokens,
                        "complete": complete})
    write_jsonl(out, results)


def generate_to_jsonl(writer: Writer, rows: list[dict[str, Any]], out: Path) -> None:
    """Generate now, score later: for a machine that has the model but not the rubric's
    embedding model (e.g. a GPU box); ``saved_writer`` replays the file."""
    from training.records import write_jsonl

    write_jsonl(out, [{"lead_id": row["lead_id"], **vars(writer(row, 1000 + i))}
                      for i, row in enumerate(rows)])


def saved_writer(path: Path) -> Writer:
    from training.records import read_jsonl

    saved = {row["lead_id"]: row for row in read_jsonl(path)}

    def write(row: dict[str, Any], seed: int) -> Output:
        row = saved[str(row["lead_id"])]
        return Output(row["subject"], row["body"], row["seconds"], row["cpu_seconds"],
                      row["completion_tokens"], row.get("complete", True))

    write.covers = lambda row: str(row["lead_id"]) in saved  # type: ignore[attr-defined]
    return write


def teacher_writer(rows: list[dict[str, Any]]) -> Writer:
    by_lead = {row["lead_id"]: row for row in rows}

    def write(row: dict[str, Any], seed: int) -> Output:
        subject, body = split_email(by_lead[str(row["lead_id"])]["completion"])
        return Output(subject, body, 0.0, 0.0, 0)

    return write


def run_system(name: str, writer: Writer, rows: list[dict[str, Any]],
               campaign: Campaign | Campaigns | None, usd_per_vcpu_hour: float,
               on_done: Callable[[], None] | None = None, teacher_cost_usd: float = 0.0,
               checks: ChecksSettings | None = None) -> dict[str, Any]:
    """Write one email per row, score it against its own campaign and run the worker's checks.

    ``campaign``: the Campaigns of the rows, or one campaign for rows that carry none.
    """
    from generation.checks import check_draft
    from generation.draft import Draft

    campaigns = campaign if isinstance(campaign, Campaigns) else Campaigns(campaign)
    checks = checks or ChecksSettings()
    outputs = []
    for index, row in enumerate(rows):
        outputs.append(writer(row, 1000 + index))
        if on_done:
            on_done()
    sims = embed.similarities([email_text(o.subject, o.body) for o in outputs],
                              [row["completion"] for row in rows])
    for row in rows:
        campaigns.of(row)  # every test campaign is an "other" campaign for the rest
    others = campaigns.all()  # a shared Campaigns passed in also knows the rows not scored
    examples = []
    for row, out, sim in zip(rows, outputs, sims):
        own = campaigns.of(row)
        score = rubric.score(out.subject, out.body, row["lead"], own, similarity=sim,
                             others=others)
        failures = check_draft(Draft(out.subject, out.body, out.complete), row["lead"], checks,
                               own)
        cost = out.cpu_seconds * usd_per_vcpu_hour / 3600 if name != "teacher" else teacher_cost_usd
        examples.append({"lead_id": row["lead_id"], "campaign_id": own.campaign_id,
                         "split": row.get("split", "test"), "script": row.get("script", "latin"),
                         "subject": out.subject, "body": out.body,
                         "seconds": round(out.seconds, 3), "cost_usd": cost,
                         "completion_tokens": out.completion_tokens,
                         "complete": out.complete,
                         "passes_checks": not failures, "check_failures": failures,
                         **score.as_dict()})
    return {"system": name, "summary": summarize(examples),
            "slices": {key: summarize(group) for key, group in slices(examples).items()},
            "examples": examples}


def summarize(examples: list[dict[str, Any]]) -> dict[str, Any]:
    summary = {c: round(mean(e[c] for e in examples), 4) for c in COMPONENTS
               if all(e.get(c) is not None for e in examples)}
    summary |= {"n": len(examples),
                "pass_rate": round(mean(e["passes_checks"] for e in examples), 4),
                "flag_rate": round(mean(bool(e["flags"]) for e in examples), 4),
                "foreign_drafts": sum(bool(e["foreign"]) for e in examples),
                "seconds_per_email": round(mean(e["seconds"] for e in examples), 3),
                "usd_per_email": mean(e["cost_usd"] for e in examples)}
    return summary


def slices(examples: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Examples grouped by split, by script, and by split x script."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for e in examples:
        for key in (e["split"], e["script"], f"{e['split']}/{e['script']}"):
            groups.setdefault(key, []).append(e)
    return dict(sorted(groups.items()))


def table(results: list[dict[str, Any]]) -> str:
    """A Markdown table: one row per system and slice (all rows first)."""
    head = ["system", "slice", "n", "pass checks 1st try", "rubric", "grounding",
            "personalization", "structure", "similarity", "foreign-fact drafts", "s/email"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for result in results:
        for key, s in [("all", result["summary"]), *result.get("slices", {}).items()]:
            cells = [result["system"], key, str(s["n"]), f"{100 * s['pass_rate']:.1f}%",
                     f"{s['overall']:.3f}", f"{s['grounding']:.3f}", f"{s['personalization']:.3f}",
                     f"{s['structure']:.3f}",
                     f"{s['similarity']:.3f}" if "similarity" in s else "-",
                     str(s["foreign_drafts"]), f"{s['seconds_per_email']:.2f}"]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)

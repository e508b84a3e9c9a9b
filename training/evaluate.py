"""`outreach eval`: generate for held-out leads with each system and score with the rubric.

Systems compared (each over the same test leads):
- teacher: the reference email itself (the ceiling the miniature approaches).
- base-fewshot: the untuned GGUF with the worker's few-shot prompt (what is served untrained).
- base-trained-prompt: the untuned GGUF with the trained prompt (same input as the miniature).
- lora: the GGUF base + a GGUF LoRA adapter, trained prompt.
- hf:<dir>: a transformers model directory (e.g. a full fine-tune), trained prompt.
GGUF systems run through the worker's own engine (workers.engine.Generator) with the serving
sampling settings, so the scores are what production would get. Cost per email = the CPU
seconds llama.cpp used x settings.worker.usd_per_vcpu_hour / 3600.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from statistics import mean
from typing import Any

from outreach.errors import DraftRejected
from outreach.settings import Settings
from training import embed, rubric
from training.brief import Brief
from training.prompt import email_text, split_email, trained_prompt

COMPONENTS = ("personalization", "grounding", "structure", "spam", "similarity", "overall")


@dataclass
class Output:
    subject: str
    body: str
    seconds: float
    cpu_seconds: float
    completion_tokens: int


Writer = Callable[[dict[str, Any], int], Output]


def _parse(prefill: str, completion: str) -> tuple[str, str]:
    from workers.draft import parse

    try:
        draft = parse(prefill, completion)
        return draft.subject, draft.body
    except DraftRejected:  # no subject line: score what was written, it fails structure
        return split_email(prefill + completion)


def gguf_writer(settings: Settings, lora: Path | None, style: str, max_tokens: int) -> Writer:
    from workers.engine import Generator
    from workers.model import resolve_model
    from workers.prompt import STOP_SEQUENCES, build_prompt

    cfg = settings.model_copy(deep=True)
    cfg.model.lora_path = lora
    generator = Generator(resolve_model(cfg), cfg)

    def write(lead: dict[str, Any], seed: int) -> Output:
        if style == "fewshot":
            prompt = build_prompt(lead, cfg)
            text, prefill = prompt.text, prompt.prefill
        else:
            text, prefill = trained_prompt(lead, cfg.checks.field_max_chars), ""
        done = generator.generate(text, max_tokens=max_tokens, seed=seed, stop=STOP_SEQUENCES)
        subject, body = _parse(prefill, done.text)
        return Output(subject, body, done.seconds, done.cpu_seconds, done.completion_tokens)

    return write


def hf_writer(model_dir: Path, settings: Settings, max_tokens: int) -> Writer:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = "cuda" if torch.cuda.is_available() else "cpu"
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).to(device).eval()

    def write(lead: dict[str, Any], seed: int) -> Output:
        torch.manual_seed(seed)
        ids = tokenizer(trained_prompt(lead, settings.checks.field_max_chars),
                        return_tensors="pt").input_ids.to(device)
        wall, cpu = time.perf_counter(), time.process_time()
        with torch.no_grad():
            out = model.generate(ids, max_new_tokens=max_tokens, do_sample=True,
                                 temperature=settings.model.temperature, top_p=settings.model.top_p)
        new = out[0, ids.shape[1]:]
        subject, body = _parse("", tokenizer.decode(new, skip_special_tokens=True))
        return Output(subject, body, time.perf_counter() - wall, time.process_time() - cpu,
                      int(new.shape[0]))

    return write


def hf_generate_batched(model: Any, tokenizer: Any, rows: list[dict[str, Any]], style: str,
                        settings: Settings, max_tokens: int, out: Path, seed: int = 1000) -> None:
    """All test leads in one left-padded batch (a GPU writes 60 emails in ~10 s instead of
    ~4 min one by one); same prompt styles and parsing as gguf_writer."""
    import torch
    from workers.prompt import build_prompt

    from training.records import write_jsonl

    prompts, prefills = [], []
    for row in rows:
        if style == "fewshot":
            prompt = build_prompt(row["lead"], settings)
            prompts.append(prompt.text)
            prefills.append(prompt.prefill)
        else:
            prompts.append(trained_prompt(row["lead"], settings.checks.field_max_chars))
            prefills.append("")
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
    for row, prefill, ids in zip(rows, prefills, out_ids[:, batch.input_ids.shape[1]:]):
        text = tokenizer.decode(ids, skip_special_tokens=True)
        subject, body = _parse(prefill, text)
        tokens = int((ids != tokenizer.pad_token_id).sum())
        results.append({"lead_id": row["lead_id"], "subject": subject, "body": body,
                        "seconds": seconds, "cpu_seconds": 0.0, "completion_tokens": tokens})
    write_jsonl(out, results)


def generate_to_jsonl(writer: Writer, rows: list[dict[str, Any]], out: Path) -> None:
    """Generate now, score later: for a machine that has the model but not the rubric's
    embedding model (e.g. a GPU box); ``saved_writer`` replays the file."""
    from training.records import write_jsonl

    write_jsonl(out, [{"lead_id": row["lead_id"], **vars(writer(row["lead"], 1000 + i))}
                      for i, row in enumerate(rows)])


def saved_writer(path: Path) -> Writer:
    from training.records import read_jsonl

    saved = {row["lead_id"]: row for row in read_jsonl(path)}

    def write(lead: dict[str, Any], seed: int) -> Output:
        row = saved[str(lead["lead_id"])]
        return Output(row["subject"], row["body"], row["seconds"], row["cpu_seconds"],
                      row["completion_tokens"])

    return write


def teacher_writer(rows: list[dict[str, Any]]) -> Writer:
    by_lead = {row["lead_id"]: row for row in rows}

    def write(lead: dict[str, Any], seed: int) -> Output:
        subject, body = split_email(by_lead[str(lead["lead_id"])]["completion"])
        return Output(subject, body, 0.0, 0.0, 0)

    return write


def run_system(name: str, writer: Writer, rows: list[dict[str, Any]], brief: Brief,
               usd_per_vcpu_hour: float, on_done: Callable[[], None] | None = None,
               teacher_cost_usd: float = 0.0) -> dict[str, Any]:
    outputs = []
    for index, row in enumerate(rows):
        outputs.append(writer(row["lead"], 1000 + index))
        if on_done:
            on_done()
    sims = embed.similarities([email_text(o.subject, o.body) for o in outputs],
                              [row["completion"] for row in rows])
    examples = []
    for row, out, sim in zip(rows, outputs, sims):
        score = rubric.score(out.subject, out.body, row["lead"], brief, similarity=sim)
        cost = out.cpu_seconds * usd_per_vcpu_hour / 3600 if name != "teacher" else teacher_cost_usd
        examples.append({"lead_id": row["lead_id"], "subject": out.subject, "body": out.body,
                         "seconds": round(out.seconds, 3), "cost_usd": cost,
                         "completion_tokens": out.completion_tokens, **score.as_dict()})
    summary = {c: round(mean(e[c] for e in examples), 4) for c in COMPONENTS}
    summary |= {"n": len(examples),
                "flag_rate": round(mean(bool(e["flags"]) for e in examples), 4),
                "seconds_per_email": round(mean(e["seconds"] for e in examples), 3),
                "usd_per_email": mean(e["cost_usd"] for e in examples)}
    return {"system": name, "summary": summary, "examples": examples}


def table(results: list[dict[str, Any]]) -> str:
    """A Markdown table of the summaries, one row per system."""
    head = ["system", *COMPONENTS, "flag_rate", "s/email", "USD/email"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for result in results:
        s = result["summary"]
        cells = [result["system"], *(f"{s[c]:.3f}" for c in COMPONENTS), f"{s['flag_rate']:.2f}",
                 f"{s['seconds_per_email']:.2f}", f"{s['usd_per_email']:.2e}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)

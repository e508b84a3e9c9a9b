"""Generate a system's emails for the campaigns test set now, score them later.

    # each system's emails (GGUF through the worker's engine; resumable, one JSON line a lead)
    python -m training.campaign_eval generate --system base-fewshot --out runs/base.jsonl
    python -m training.campaign_eval generate --system lora \\
        --adapter models/gemma3-270m-campaigns-lora/adapter.gguf --out runs/lora.jsonl
    # score every saved system (and the teacher) by slice: writes OUT.json and OUT.md
    outreach eval --data training-data/campaigns --no-base \\
        --saved base-fewshot=runs/base.jsonl --saved lora=runs/lora.jsonl --out runs/eval

Generation is the slow part on a shared CPU (~3-6 s an email); splitting it from scoring lets
each system run when the cores are free, and a killed run resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from outreach.settings import load_settings
from training import evaluate
from training.dataset import load_split


def generate(system: str, data: Path, out: Path, adapter: Path | None = None,
             limit: int | None = None, max_tokens: int = 220, stride: int = 1,
             start: int = 0, split: str | None = None) -> int:
    """Append ``system``'s email for every ``stride``-th test row not yet in ``out``; returns
    rows written. ``stride`` samples both splits evenly for a system too slow for all rows."""
    settings = load_settings(None)
    rows = [row for row in load_split(data, "test") if split in (None, row.get("split"))][:limit]
    done = set()
    if out.exists():
        done = {json.loads(line)["lead_id"] for line in out.read_text().splitlines() if line}
    todo = [(i, row) for i, row in enumerate(rows)
            if i % stride == start and row["lead_id"] not in done]
    if not todo:
        return 0
    style = "fewshot" if system == "base-fewshot" else "trained"
    lora = adapter if system == "lora" else None
    writer = evaluate.gguf_writer(settings, lora, style,
                                  settings.model.max_tokens if style == "fewshot" else max_tokens)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a", encoding="utf-8") as handle:
        for index, row in todo:
            # The same seed per row as evaluate.run_system, so a resumed run writes the same.
            output = writer(row, 1000 + index)
            handle.write(json.dumps({"lead_id": row["lead_id"], **vars(output)},
                                    ensure_ascii=False) + "\n")
            handle.flush()
    return len(todo)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="write one system's emails for the test rows")
    gen.add_argument("--system", choices=["base-fewshot", "base-trained-prompt", "lora"],
                     required=True)
    gen.add_argument("--adapter", type=Path)
    gen.add_argument("--data", type=Path, default=Path("training-data/campaigns"))
    gen.add_argument("--out", type=Path, required=True)
    gen.add_argument("--limit", type=int)
    gen.add_argument("--max-tokens", type=int, default=220)
    gen.add_argument("--stride", type=int, default=1, help="every N-th test row only")
    gen.add_argument("--start", type=int, default=0, help="first row of the stride (shards)")
    gen.add_argument("--split", help="only rows of this split (test_unseen_campaigns, ...)")
    args = parser.parse_args(argv)
    if args.system == "lora" and not args.adapter:
        parser.error("--system lora needs --adapter")
    written = generate(args.system, args.data, args.out, args.adapter, args.limit,
                       args.max_tokens, args.stride, args.start, args.split)
    print(f"{written} emails written to {args.out}")


if __name__ == "__main__":
    main()

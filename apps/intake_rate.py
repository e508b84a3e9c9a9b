"""`python -m apps.intake_rate`: the bench's intake rate alone, several rounds, no model.

The same measurement as `outreach bench`'s intake metrics (apps/bench.py ``_intake_rate``:
5,000 fresh Avro leads decided one at a time, then 5,000 more in batches of
kafka.intake_batch, against an embedded broker and Redis), without rows a-d, so intake can be
profiled and compared within a minute. The 2-core dev VM is shared and drifts by up to 40%
between runs minutes apart (docs/benchmarks.md): compare two trees by alternating their runs.

    .venv/bin/python -m apps.intake_rate --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path

from apps.bench import _intake_rate
from outreach.settings import load_settings
from outreach.stack import embedded_stack


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--leads", type=int, default=5000)
    args = parser.parse_args(argv)
    settings = load_settings()
    fresh = settings.model_copy(update={"kafka_bootstrap_servers": None, "redis_url": None})
    batched_rates, sequential_rates = [], []
    with tempfile.TemporaryDirectory(prefix="outreach-intake-") as tmp, \
            embedded_stack(fresh, Path(tmp) / "stack") as stack:
        bound = settings.with_connections(stack.bootstrap_servers, stack.redis_url)
        for n in range(args.rounds):
            sequential, batched = asyncio.run(
                _intake_rate(bound, args.leads, settings.kafka.intake_batch))
            sequential_rates.append(sequential)
            batched_rates.append(batched)
            print(f"round {n + 1}: {sequential:,.0f} leads/s one at a time, {batched:,.0f} "
                  f"leads/s in batches of {settings.kafka.intake_batch}", flush=True)
    print(f"median: {statistics.median(sequential_rates):,.0f} one at a time, "
          f"{statistics.median(batched_rates):,.0f} batched")


if __name__ == "__main__":
    main()

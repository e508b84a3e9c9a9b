"""`python -m apps.intake_rate`: the bench's intake rate alone, several rounds, no model.

The same measurement as `outreach bench`'s intake metrics (apps/bench.py ``_intake_rate``:
5,000 fresh Avro leads decided one at a time, then 5,000 more in batches of
kafka.intake_batch, against an embedded broker and Redis), without rows a-d, so intake can be
profiled and compared within a minute. The 2-core dev VM is shared and drifts by up to 40%
between runs minutes apart (docs/benchmarks.md): compare two trees by alternating their runs,
and read each round beside the load average it prints.

    .venv/bin/python -m apps.intake_rate --rounds 3
    .venv/bin/python -m apps.intake_rate --profile --leads 20000   # cProfile of batched intake
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import statistics
import tempfile
import time
from pathlib import Path
from typing import cast

from apps.bench import BENCH_CAMPAIGN, _intake_rate
from apps.campaigns import publish_as
from outreach import leadgen
from outreach.settings import Settings, load_settings
from outreach.stack import embedded_stack
from outreach.store import IntakeStore
from outreach.topics import LEADS
from schemas.codec import AvroCodec
from schemas.records import Lead
from streams.intake import Intake, RawRecord


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--leads", type=int, default=5000)
    parser.add_argument("--profile", action="store_true",
                        help="one batched pass of --leads fresh leads under cProfile instead")
    args = parser.parse_args(argv)
    settings = load_settings()
    fresh = settings.model_copy(update={"kafka_bootstrap_servers": None, "redis_url": None})
    batched_rates, sequential_rates = [], []
    with tempfile.TemporaryDirectory(prefix="outreach-intake-") as tmp, \
            embedded_stack(fresh, Path(tmp) / "stack") as stack:
        bound = settings.with_connections(stack.bootstrap_servers, stack.redis_url)
        if args.profile:
            asyncio.run(_profile(bound, args.leads, settings.kafka.intake_batch))
            return
        for n in range(args.rounds):
            sequential, batched = asyncio.run(
                _intake_rate(bound, args.leads, settings.kafka.intake_batch))
            sequential_rates.append(sequential)
            batched_rates.append(batched)
            print(f"round {n + 1}: {sequential:,.0f} leads/s one at a time, {batched:,.0f} "
                  f"leads/s in batches of {settings.kafka.intake_batch} (load average "
                  f"{os.getloadavg()[0]:.2f})", flush=True)
    print(f"median: {statistics.median(sequential_rates):,.0f} one at a time, "
          f"{statistics.median(batched_rates):,.0f} batched")


async def _profile(settings: Settings, leads: int, batch: int) -> None:
    """``leads`` fresh leads decided in batches of ``batch`` under cProfile; the rate, the CPU
    time a lead and the top entries (profiling itself roughly halves the rate)."""
    codec = AvroCodec()
    campaign = publish_as(settings, BENCH_CAMPAIGN, f"profile-{time.time_ns()}").campaign_id
    raw = [codec.encode("Lead", cast(Lead, lead)) for lead in leadgen.generate(
        leads + 1, seed=5, campaign=campaign, malformed=0, duplicates=0, suppressed=0).leads]
    store = IntakeStore(settings)
    intake = Intake(settings, store, codec)
    try:
        # The first record opens the campaigns table (seconds): not part of the profile.
        await intake.decide_many([RawRecord(raw[0], None, LEADS, 0, 0)])
        profile = cProfile.Profile()
        started, cpu = time.perf_counter(), time.process_time()
        profile.enable()
        for start in range(1, leads + 1, batch):
            await intake.decide_many([RawRecord(value, None, LEADS, 0, start + i)
                                      for i, value in enumerate(raw[start:start + batch])])
        profile.disable()
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        intake.close()
        await store.close()
    print(f"{leads:,} leads in batches of {batch} under cProfile: {leads / wall:,.0f} leads/s, "
          f"{cpu / leads * 1e6:.1f} us CPU a lead (load average {os.getloadavg()[0]:.2f})")
    stats = pstats.Stats(profile)
    stats.sort_stats("cumulative").print_stats(25)
    stats.sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()

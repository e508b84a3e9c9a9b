"""``python -m workers``: run one generation worker until SIGTERM/SIGINT.

The main CLI's ``outreach worker`` command calls the same ``run_tier``; this entry point exists
so tests and operators can start (and SIGKILL) a bare worker process.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from outreach.cli_support import setup_logging
from outreach.errors import OutreachError
from outreach.settings import TIERS, load_settings
from workers.run import run_tier

log = logging.getLogger("workers")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workers", description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, help="settings YAML (default ./outreach.yaml)")
    parser.add_argument("--tier", choices=TIERS, help="consume email.requests.<tier>")
    parser.add_argument("--model", type=Path, help="GGUF file (default: Gemma 3 270M Q4_K_M)")
    parser.add_argument("--max-messages", type=int, help="exit after this many messages")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config, **{"worker.tier": args.tier,
                                                 "model.gguf_path": args.model})
    except OutreachError as exc:
        parser.error(str(exc))
    setup_logging(settings.log_level)
    try:
        stats = run_tier(settings, max_messages=args.max_messages)
    except OutreachError as exc:
        log.error("worker failed: %s", exc)
        return 1
    log.info("done: %s", stats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

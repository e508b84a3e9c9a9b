"""Leads for the teacher: the project's generator, or a CRM export as CSV or JSONL.

A CRM export is validated row by row against the Lead contract's required fields; every bad
row is reported by its line number (DataError.problems), never silently skipped, because a
skipped row is a lead that silently gets no training example.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from outreach import leadgen
from outreach.errors import DataError

REQUIRED = ("lead_id", "first_name", "company")
INT_FIELDS = ("company_size", "lead_score")
FLOAT_FIELDS = ("deal_size",)


def generated(count: int, seed: int, campaign: str) -> list[dict[str, Any]]:
    """``count`` valid leads from the project's generator (its planted bad records left out)."""
    return leadgen.generate(count, seed=seed, campaign=campaign, malformed=0, duplicates=0,
                            suppressed=0).leads[:count]


def _normalise(row: dict[str, Any], campaign: str) -> tuple[dict[str, Any] | None, str | None]:
    lead = {k.strip(): (v.strip() if isinstance(v, str) else v) for k, v in row.items() if k}
    lead = {k: (None if v == "" else v) for k, v in lead.items()}
    missing = [name for name in REQUIRED if not lead.get(name)]
    if missing:
        return None, f"missing {', '.join(missing)}"
    for name, kind in [(n, int) for n in INT_FIELDS] + [(n, float) for n in FLOAT_FIELDS]:
        if lead.get(name) is not None:
            try:
                lead[name] = kind(lead[name])
            except (TypeError, ValueError):
                return None, f"{name} is not a number: {lead[name]!r}"
    lead.setdefault("campaign", campaign)
    lead["campaign"] = lead["campaign"] or campaign
    return lead, None


def load_file(path: Path, campaign: str) -> list[dict[str, Any]]:
    """Leads from a .csv (header row) or .jsonl file; DataError lists every bad line."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".ndjson"):
        raise DataError(f"{path}: lead files must be .csv or .jsonl")
    leads: list[dict[str, Any]] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            if suffix == ".csv":
                reader = csv.DictReader(handle)
                rows = ((reader.line_num, row) for row in reader)
            else:
                rows = ((number, line) for number, line in enumerate(handle, start=1))
            for number, raw in rows:
                if isinstance(raw, str):
                    if not raw.strip():
                        continue
                    try:
                        raw = json.loads(raw)
                    except ValueError as exc:
                        problems.append(f"line {number}: invalid JSON ({exc.msg})")
                        continue
                    if not isinstance(raw, dict):
                        problems.append(f"line {number}: not a JSON object")
                        continue
                elif None in raw:  # csv: more cells than header columns
                    problems.append(f"line {number}: more fields than the header has")
                    continue
                lead, problem = _normalise(raw, campaign)
                if problem:
                    problems.append(f"line {number}: {problem}")
                elif lead["lead_id"] in seen:
                    problems.append(f"line {number}: duplicate lead_id {lead['lead_id']!r} "
                                    f"(first on line {seen[lead['lead_id']]})")
                else:
                    seen[lead["lead_id"]] = number
                    leads.append(lead)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read leads from {path}: {exc}") from exc
    if problems:
        raise DataError(f"{path}: {len(problems)} bad row(s), {len(leads)} good", problems)
    return leads

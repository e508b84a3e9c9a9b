"""The dashboard's A/B arms (intention to treat beside per-writer figures) and campaign tables.

An arm is defined by who writes: the miniature arm's own writer is the miniature rung, the
LLM arm's the LLM rung. Drafts of an arm that another rung wrote (escalations) are listed on
their own line, never inside the arm's per-writer figures; the intention-to-treat line counts
every lead assigned to the arm, and it is the one decisions use (streams/abtest.DECISION_BASIS).
Every value is escaped.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from engagement.tables import esc as _e
from engagement.tables import pct as _pct
from engagement.tables import table
from engagement.tables import usd as _usd
from streams.kpi import rates


def own_writer(variant: dict[str, Any]) -> str:
    """The rung that writes for an arm: the LLM tier's arm is the LLM, every other a miniature."""
    return "llm" if variant.get("tier") == "llm" else "miniature"


def arm_rows(kpis: dict[str, dict[str, Any]], variants: list[dict[str, Any]]
             ) -> list[dict[str, Any]]:
    """Per arm: intention-to-treat counts, the own writer's, and each other writer's."""
    out = []
    for variant in variants:
        name = variant["name"]
        itt = kpis.get(f"variant:{name}", {}).get("counts", {})
        mine = own_writer(variant)
        writers = {dim.split("/", 1)[1]: k["counts"] for dim, k in kpis.items()
                   if dim.startswith(f"writer:{name}/")}
        out.append({"arm": name, "own_writer": mine, "itt": itt,
                    "per_writer": writers.get(mine, {}),
                    "escalated": {r: c for r, c in sorted(writers.items()) if r != mine}})
    return out


def _cells(counts: dict[str, float]) -> str:
    r = rates(counts)
    return (f"<td>{int(counts.get('sent', 0))}</td><td>{int(counts.get('positive_reply', 0))}"
            f"</td><td>{_pct(r['positive_reply_rate'])}</td><td>{_pct(r['unsubscribe_rate'])}"
            "</td>")


def arms_table(kpis: dict[str, dict[str, Any]], variants: list[dict[str, Any]],
               basis: str) -> str:
    rows = []
    for arm in arm_rows(kpis, variants):
        name = _e(arm["arm"])
        rows.append(f'<tr data-arm="{name}" data-figures="itt"><td>{name}</td>'
                    f"<td>intention to treat (decides)</td><td>any rung</td>"
                    f"{_cells(arm['itt'])}</tr>")
        rows.append(f'<tr data-arm="{name}" data-figures="per-writer"><td>{name}</td>'
                    f"<td>per writer</td><td>{_e(arm['own_writer'])}</td>"
                    f"{_cells(arm['per_writer'])}</tr>")
        for rung, counts in arm["escalated"].items():
            rows.append(f'<tr data-arm="{name}" data-figures="escalated" data-rung="{_e(rung)}">'
                        f"<td>{name}</td><td>escalated, reported apart</td><td>{_e(rung)}</td>"
                        f"{_cells(counts)}</tr>")
    return table("ab-arms", ("arm", "figures", "written by", "sent", "positive replies",
                             "positive-reply rate", "unsubscribe rate"), rows,
                 "no arms configured", f"Arms by who writes. Decisions use: {basis}.")


def campaign_link(prefix: str, campaign: str) -> str:
    return f"{prefix}/campaigns/{quote(campaign, safe='')}"


def campaigns_table(kpis: dict[str, dict[str, Any]], prefix: str) -> str:
    rows = []
    for dim, k in sorted(kpis.items()):
        if not dim.startswith("campaign:"):
            continue
        name, c = dim.split(":", 1)[1], k["counts"]
        rows.append(f'<tr data-campaign="{_e(name)}"><td><a href="'
                    f'{_e(campaign_link(prefix, name))}">{_e(name)}</a></td>'
                    + "".join(f"<td>{int(c.get(f, 0))}</td>" for f in
                              ("sent", "opened", "replied", "positive_reply", "unsubscribed",
                               "bounced"))
                    + f"<td>{_usd(c.get('cost_usd', 0.0))}</td>"
                    f"<td>{_usd(k['rates']['cost_per_positive_reply_usd'])}</td></tr>")
    return table("campaign-kpis", ("campaign", "sent", "opened", "replied", "positive",
                                   "unsubscribed", "bounced", "cost of sent drafts",
                                   "$ / positive reply"), rows, "no drafts yet",
                 "cumulative, per campaign (open one for its funnel, spend and dead letters)")


def synthetic_note(kpis: dict[str, dict[str, Any]], include_simulated: bool) -> str:
    left_out = kpis.get("all", {}).get("synthetic", {})
    parts = [f"{int(n)} {origin.replace('_', '-')} event(s)" for origin, n in
             sorted(left_out.items())]
    used = ("simulated events ARE counted (abtest.include_simulated)" if include_simulated
            else "simulated events are not counted")
    return (f'<p id="synthetic-note">Synthetic engagement: {used}; the system\'s own '
            f"self-tests never are. Left out of every table and decision here: "
            f"{_e(', '.join(parts) or 'none')}.</p>")

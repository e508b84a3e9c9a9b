"""The operator's part of the dashboard page: ladder, LLM budget, approval queue, dead letters,
latency and speed (data from engagement.operator.OperatorView). Every value is escaped."""

from __future__ import annotations

import html
from typing import Any

TOTAL = "_total"


def _e(value: Any) -> str:
    return html.escape(str(value))


def _usd(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"${value:,.{digits}f}"


def _sec(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def budget_cards(ops: dict[str, Any]) -> str:
    budget, llm = ops["budget"], ops["llm"]
    spent = budget["spent_usd"].get(TOTAL, 0.0)
    cap = budget["cap_usd"]
    share = "" if not cap else f" ({100 * spent / cap:.1f}% of the cap)"
    blocked = int(budget["blocked"].get(TOTAL, 0))
    approval = ops["approval"]
    latency = ops.get("lead_to_draft_s") or {}
    # Every part escaped here (the model name is a setting an endpoint may echo: never HTML).
    endpoint = (_e(llm["model"]) + (f" &mdash; {_e(llm['label'])}" if llm["label"] else "")
                if llm["configured"] else _e("not configured (no LLM rung)"))
    ledger = ops.get("spend") or {}
    today = ledger.get("today_by_rung", {})
    cards = [("spend today (UTC), all rungs", _usd(sum(today.values()))),
             ("LLM spend today (UTC)", f"{_usd(today.get('llm', 0.0))} of "
              f"{_usd(cap, 2) if cap else 'no cap'}<small>{_e(share)}</small>"),
             ("escalations stopped by the cap today", blocked),
             ("drafts awaiting review", int(approval.get("pending", 0))),
             ("lead-to-draft p50 / p95", f"{_sec(latency.get('p50'))} / "
                                        f"{_sec(latency.get('p95'))}")]
    body = "".join(f'<div class="card">{_e(k)}<b>{v}</b></div>' for k, v in cards)
    return (f'<div class="cards" id="ops-cards">{body}</div>'
            f'<p id="llm-endpoint">LLM tier: {endpoint}; '
            f"priced at ${llm['usd_per_m_input']:g} / ${llm['usd_per_m_output']:g} per million "
            "prompt / completion tokens.</p>")


def rung_table(ops: dict[str, Any], kpis: dict[str, dict[str, Any]]) -> str:
    rows = []
    rungs = ops.get("rungs", {})
    names = sorted(set(rungs) | {d.split(":", 1)[1] for d in kpis if d.startswith("rung:")})
    speed = ops.get("tokens_per_s", {})
    ledger = (ops.get("spend") or {}).get("by_rung_kind", {})
    for rung in names:
        tally = rungs.get(rung, {})
        written, failed = ledger.get(f"{rung}/written", 0.0), ledger.get(f"{rung}/failed", 0.0)
        kpi = kpis.get(f"rung:{rung}", {"counts": {}, "rates": {}})
        positive = kpi["counts"].get("positive_reply", 0)
        rate = kpi["rates"].get("positive_reply_rate")
        per_positive = kpi["rates"].get("cost_per_positive_reply_usd")
        tok = speed.get(rung)
        rows.append(f'<tr data-rung="{_e(rung)}"><td>{_e(rung)}</td>'
                    f"<td>{int(tally.get('drafts', 0))}</td>"
                    f"<td>{_usd(written + failed)}</td><td>{_usd(failed)}</td>"
                    f"<td>{_usd(kpi['counts'].get('cost_usd', 0.0))}</td>"
                    f"<td>{int(kpi['counts'].get('sent', 0))}</td><td>{int(positive)}</td>"
                    f"<td>{'-' if rate is None else f'{100 * rate:.2f}%'}</td>"
                    f"<td>{_usd(per_positive)}</td>"
                    f"<td>{'-' if tok is None else f'{tok:.1f}'}</td></tr>")
    head = ("<tr><th>rung</th><th>drafts written</th><th>spent (ledger)</th>"
            "<th>of which failed attempts</th><th>cost of sent drafts</th><th>sent</th>"
            "<th>positive replies</th><th>positive-reply rate</th><th>$ / positive reply</th>"
            "<th>tokens/s (per request)</th></tr>")
    empty = '<tr><td colspan="10">no drafts yet</td></tr>'
    return (f'<table id="rung-kpis"><caption>cumulative, per escalation rung (miniature &rarr; '
            f"LLM &rarr; human review). Spent = the spend ledger (every attempt, also failed "
            f"ones and drafts still held); cost of sent drafts = the part that reached the mail "
            f"sender (the KPI tables' figure).</caption>{head}{''.join(rows) or empty}</table>")


def dead_letter_table(ops: dict[str, Any]) -> str:
    rows = "".join(f'<tr><td>{_e(d["topic"])}</td><td>{_e(d["reason"])}</td>'
                   f'<td>{d["count"]}</td></tr>' for d in ops.get("dead_letters", []))
    return ('<table id="dead-letters"><caption>cumulative, since the topics began</caption>'
            "<tr><th>topic</th><th>reason</th><th>records</th></tr>"
            f"{rows or '<tr><td colspan=3>none</td></tr>'}</table>")


def ops_section(ops: dict[str, Any], kpis: dict[str, dict[str, Any]]) -> str:
    if not ops:
        return "<p>operator view unavailable</p>"
    return (budget_cards(ops) + "<h3>Escalation ladder</h3>" + rung_table(ops, kpis)
            + f'<p>Approval queue: <a href="{_e(ops.get("review_url", ""))}">'
              f'{_e(ops.get("review_url", ""))}</a> (operator app; sign in at /login)</p>'
            + "<h3>Dead letters per topic and reason</h3>" + dead_letter_table(ops))

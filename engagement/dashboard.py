"""The dashboard page: server-rendered HTML with inline SVG plots (no JavaScript, no CDN).

The machine serving it may have no internet, so nothing is fetched by the browser; the page
reloads itself every ``refresh_s`` seconds with a meta refresh. Every value shown is escaped.
"""

from __future__ import annotations

import html
from datetime import datetime, timezone
from typing import Any

from engagement.ab_tables import arms_table, campaigns_table, synthetic_note
from engagement.ops_page import ops_section

PALETTE = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2")
RATE_ROWS = (("open_rate", "open"), ("click_rate", "click"), ("reply_rate", "reply"),
             ("positive_reply_rate", "positive reply"), ("bounce_rate", "bounce"),
             ("unsubscribe_rate", "unsubscribe"), ("complaint_rate", "complaint"))
CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#111;background:#f8fafc}
h1{margin:0 0 4px} h2{margin:28px 0 8px;font-size:1.15em}
.sub{color:#555;margin-bottom:16px}
table{border-collapse:collapse;background:#fff;font-size:.9em}
th,td{border:1px solid #d4d4d8;padding:4px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}
.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{background:#fff;border:1px solid #d4d4d8;border-radius:6px;padding:10px 14px;min-width:150px}
.card b{display:block;font-size:1.5em}
.promote,.rollback{color:#059669;font-weight:600} .stop,.retire{color:#dc2626;font-weight:600}
svg{background:#fff;border:1px solid #d4d4d8}
.legend span{margin-right:14px}
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def _usd(value: float | None) -> str:
    return "-" if value is None else f"${value:.5f}"


def _time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%H:%M:%S")


def line_chart(series: dict[str, list[dict[str, Any]]], field: str, title: str,
               percent: bool, width: int = 640, height: int = 220) -> str:
    """One SVG line per series name; x = window start, y = ``field`` (missing points skipped)."""
    pad_l, pad_b, pad_t, pad_r = 56, 28, 24, 12
    values = [p.get(field) for points in series.values() for p in points]
    finite = [v for v in values if isinstance(v, (int, float))]
    top = max(finite, default=0.0) or 1.0
    if percent:  # windowed rates can pass 100% (a window's opens of earlier sends): clip
        top = min(top, 1.0)
    starts = sorted({p["window_start"] for points in series.values() for p in points})
    span = max(1, len(starts) - 1)
    x_of = {s: pad_l + i * (width - pad_l - pad_r) / span for i, s in enumerate(starts)}
    y_of = lambda v: pad_t + (1 - v / top) * (height - pad_t - pad_b)  # noqa: E731
    parts = [f'<svg role="img" aria-label="{_e(title)}" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" data-chart="{_e(field)}">',
             f'<text x="{pad_l}" y="16" font-size="13" font-weight="600">{_e(title)}</text>']
    for frac in (0, 0.5, 1):
        y = y_of(top * frac)
        label = _pct(top * frac) if percent else f"{top * frac:.3g}"
        parts.append(f'<line x1="{pad_l}" x2="{width - pad_r}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="#e4e4e7"/><text x="{pad_l - 4}" y="{y + 4:.1f}" font-size="10" '
                     f'text-anchor="end">{_e(label)}</text>')
    if starts:
        for s, anchor in ((starts[0], "start"), (starts[-1], "end")):
            parts.append(f'<text x="{x_of[s]:.1f}" y="{height - 8}" font-size="10" '
                         f'text-anchor="{anchor}">{_time(s)}</text>')
    for index, (name, points) in enumerate(series.items()):
        color = PALETTE[index % len(PALETTE)]
        xy = [(x_of[p["window_start"]], y_of(min(p[field], top))) for p in points
              if isinstance(p.get(field), (int, float))]
        if not xy:
            continue
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
        parts.append(f'<polyline class="series" data-series="{_e(name)}" fill="none" '
                     f'stroke="{color}" stroke-width="2" points="{coords}"/>')
        parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}"/>' for x, y in xy]
    parts.append("</svg>")
    legend = "".join(f'<span style="color:{PALETTE[i % len(PALETTE)]}">&#9632; {_e(n)}</span>'
                     for i, n in enumerate(series))
    return "".join(parts) + f'<div class="legend">{legend}</div>'


def kpi_table(kpis: dict[str, dict[str, Any]], prefix: str, caption: str) -> str:
    rows = [(dim.split(":", 1)[1], k) for dim, k in sorted(kpis.items()) if dim.startswith(prefix)]
    head = "".join(f"<th>{_e(label)}</th>" for _, label in RATE_ROWS)
    out = [f'<table id="{_e(prefix.rstrip(":"))}-kpis"><caption>{_e(caption)}</caption><tr>'
           f"<th>{_e(prefix.rstrip(':'))}</th><th>sent</th>{head}<th>$ / draft</th>"
           "<th>$ / positive reply</th></tr>"]
    for name, k in rows:
        counts, rates = k["counts"], k["rates"]
        cells = "".join(f"<td>{_pct(rates[key])}</td>" for key, _ in RATE_ROWS)
        # A long model id (a path-like release name) is shortened on screen, whole on hover.
        shown = name if len(name) <= 40 else name[:18] + "\u2026" + name[-18:]
        out.append(f'<tr data-variant="{_e(name)}"><td title="{_e(name)}">{_e(shown)}</td>'
                   f"<td>{int(counts.get('sent', 0))}</td>{cells}"
                   f"<td>{_usd(rates['cost_per_draft_usd'])}</td>"
                   f"<td>{_usd(rates['cost_per_positive_reply_usd'])}</td></tr>")
    if not rows:
        out.append(f'<tr><td colspan="{len(RATE_ROWS) + 4}">no drafts yet</td></tr>')
    return "".join(out) + "</table>"


def ab_section(ab: dict[str, Any]) -> str:
    state = ab["state"]
    status = "enabled" if ab["enabled"] else "disabled (routing keeps each rule's variant)"
    out = [f'<div class="cards" id="ab-summary"><div class="card">champion<b id="champion">'
           f'{_e(state["champion"])}</b></div><div class="card">allocation<b>'
           f'{_e(state["allocation"])}</b></div><div class="card">A/B test<b>{_e(status)}</b>'
           f'</div><div class="card">retired<b>{_e(", ".join(state["retired"]) or "none")}</b>'
           f"</div></div>",
           f"<p>Decision rule: at least {ab['min_sends']} sends per arm, two-sided z-test "
           f"p &lt; {ab['alpha']}, Bayesian P(beat) &ge; {ab['promote_probability']}, "
           "guardrails on unsubscribe, complaint and bounce rates.</p>",
           '<table id="ab-evidence"><tr><th>challenger</th><th>sends</th><th>positive</th>'
           "<th>champion sends</th><th>champion positive</th><th>z</th><th>p-value</th>"
           "<th>P(beat champion)</th><th>95% CI of difference</th><th>state</th><th>reason</th>"
           "</tr>"]
    for name, ev in sorted(state["evidence"].items()):
        ci = ev.get("diff_ci")
        out.append(f'<tr data-challenger="{_e(name)}"><td>{_e(name)}</td>'
                   f"<td>{ev['challenger_sends']}</td><td>{ev['challenger_positive']}</td>"
                   f"<td>{ev['champion_sends']}</td><td>{ev['champion_positive']}</td>"
                   f"<td>{_num(ev.get('z'))}</td><td>{_num(ev.get('p_value'))}</td>"
                   f"<td>{_pct(ev.get('prob_beat'))}</td>"
                   f"<td>{'-' if not ci else _pct(ci[0]) + ' .. ' + _pct(ci[1])}</td>"
                   f'<td class="{_e(ev["action"])}">{_e(ev["action"])}</td>'
                   f"<td>{_e(ev.get('reason', ''))}</td></tr>")
    if not state["evidence"]:
        out.append('<tr><td colspan="11">not evaluated yet</td></tr>')
    out.append('</table><h3>Decisions</h3><ul id="ab-history">')
    for item in reversed(state["history"][-10:]):
        out.append(f'<li><span class="{_e(item["action"])}">{_e(item["action"])}</span> '
                   f'{_e(item["challenger"])} vs {_e(item["champion"])} at '
                   f'{_time(item["decided_at"])}: {_e(item["reason"])} '
                   f'(p={_num(item.get("p_value"))}, P(beat)={_pct(item.get("prob_beat"))})</li>')
    if not state["history"]:
        out.append("<li>no promotion, rollback or retirement yet</li>")
    return "".join(out) + "</ul>"


def queue_url(snapshot: dict[str, Any], prefix: str) -> str:
    """The approval queue: beside a mounted dashboard (the operator app) its own /drafts/,
    else the operator app's address (the standalone dashboard has no queue)."""
    if prefix:
        return "/drafts/"
    return (snapshot.get("ops") or {}).get("review_url") or "/drafts/"


def paused_banner(paused: dict[str, Any]) -> str:
    """One line per paused campaign or mailbox, with why; `outreach sending resume` ends it."""
    rows = [f"<li>{kind} <b>{_e(name)}</b> paused: {_e(state.get('reason', ''))}</li>"
            for kind, key in (("campaign", "campaigns"), ("mailbox", "mailboxes"))
            for name, state in (paused.get(key) or {}).items()]
    if not rows:
        return ""
    return (f'<div id="paused-banner" class="banner" style="background:#fde2e1;border:1px solid '
            f'#d62728;padding:6px 10px"><b>Sending paused</b><ul>{"".join(rows)}</ul>'
            f'Resume with <code>outreach sending resume --campaign ID</code> or '
            f'<code>--mailbox ADDRESS</code>.</div>')


def render(snapshot: dict[str, Any], refresh_s: float, prefix: str = "") -> str:
    kpis, series = snapshot["kpis"], snapshot["series"]
    variant_series = {d.split(":", 1)[1]: pts for d, pts in series.items()
                      if d.startswith("variant:")}
    totals = kpis.get("all", {"counts": {}, "rates": {}})
    sup, lag = snapshot["suppression"], snapshot["lag"]
    cards = [("drafts sent", int(totals["counts"].get("sent", 0))),
             ("engagement events", int(totals["counts"].get("events", 0))),
             ("positive replies", int(totals["counts"].get("positive_reply", 0))),
             ("suppressed addresses", sup["addresses"]),
             ("leads suppressed at intake", sup["suppressed_at_intake"]),
             ("duplicate leads dropped at intake", sup.get("duplicates_at_intake", 0))]
    lag_rows = "".join(f"<tr><td>{_e(group)}</td><td>{_e(topic)}</td><td>{n}</td></tr>"
                       for group, topics in lag.items() for topic, n in topics.items())
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="{refresh_s:g}">
<title>Miniature Outreach - KPIs and A/B state</title><style>{CSS}</style></head><body>
<h1>Miniature Outreach: engagement KPIs and A/B state</h1>
{paused_banner(snapshot.get('paused') or {})}
<div class="sub">updated {_time(snapshot['generated_at'])} UTC; {snapshot['window_s']} s windows;
JSON at <a href="{_e(prefix)}/api/snapshot">{_e(prefix)}/api/snapshot</a>, Prometheus at <a href="/metrics">/metrics</a></div>
<div class="cards" id="totals">{''.join(f'<div class="card">{_e(k)}<b>{v}</b></div>'
                                         for k, v in cards)}</div>
<p id="queue-link"><a href="{_e(queue_url(snapshot, prefix))}">Approval queue</a> &middot; <a href="#campaign-kpis">campaigns</a></p>
<h2>A/B test</h2>{ab_section(snapshot['ab'])}
{synthetic_note(kpis, snapshot.get('include_simulated', False))}
{arms_table(kpis, snapshot['ab']['variants'], snapshot['ab'].get('basis', ''))}
<h2>Operations: escalation ladder, LLM budget, approval queue</h2>{ops_section(snapshot.get('ops') or {}, kpis)}
<h2>Campaigns</h2>{campaigns_table(kpis, prefix)}
<h2>KPIs per variant (intention to treat)</h2>{kpi_table(kpis, 'variant:', 'cumulative, per variant')}
<h2>KPIs per model version</h2>{kpi_table(kpis, 'model:', 'cumulative, per model id@version')}
<h2>Over time</h2>
{line_chart(variant_series, 'positive_reply_rate', 'Positive-reply rate per variant (per window)', True)}
{line_chart(variant_series, 'open_rate', 'Open rate per variant (per window)', True)}
{line_chart({'drafts': series.get('all', []), }, 'sent', 'Throughput: drafts per window', False)}
{line_chart({'events': series.get('all', [])}, 'events', 'Throughput: events per window', False)}
<h2>Consumer lag</h2><table id="lag"><tr><th>group</th><th>topic</th><th>lag (records)</th></tr>
{lag_rows or '<tr><td colspan="3">no data</td></tr>'}</table>
</body></html>"""

"""One campaign's view: funnel, sequence funnel per step, spend, cost per positive reply, A/B
state, top dead letters.

Built from the same snapshot as the dashboard (engagement/snapshot.py), so its figures are the
campaign rows of the dashboard's tables: the KPI counts of "campaign:<id>" (sent and after),
drafts and dead letters from the ops reader (email.drafts and dlq.* per campaign), the approval
queue's waiting drafts, the LLM budget's spend today; the sequence funnel per step from the
scheduler's counts (engagement/step_funnel.py). The A/B test spans campaigns; its arms are
shown here on this campaign's leads ("campaign-arm:<id>/<arm>") with the same tests the
evaluator runs, for reading only (decisions are taken on all leads). Every value is escaped.
"""

from __future__ import annotations

import re
from typing import Any

from engagement.step_funnel import render_step_funnel, step_rows_json
from engagement.tables import esc as _e
from engagement.tables import pct as _pct
from engagement.tables import table
from engagement.tables import usd as _usd
from outreach.step_funnel import StepCounts
from streams.significance import posterior, prob_b_beats_a, two_proportion_ztest

CAMPAIGN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
FUNNEL = (("sent", "sent"), ("opened", "opened"), ("replied", "replied"),
          ("positive_reply", "positive replies"), ("unsubscribed", "unsubscribed"),
          ("bounced", "bounced"))
TOP_LETTERS = 5


def campaign_view(snapshot: dict[str, Any], campaign: str,
                  steps: list[StepCounts] | None = None) -> dict[str, Any]:
    """The campaign's figures (also served as JSON); ``steps``: its sequence funnel."""
    kpi = snapshot["kpis"].get(f"campaign:{campaign}", {"counts": {}, "rates": {}})
    counts = kpi["counts"]
    ops = snapshot.get("ops") or {}
    tally = (ops.get("campaigns") or {}).get(campaign, {})
    letters = tally.get("dead_letters", [])
    # Drafts seen on email.drafts; never fewer than those counted sent (the ops reader may
    # have started after them, or be off).
    drafts_out = max(int(tally.get("drafts", {}).get("drafts", 0)), int(counts.get("sent", 0)))
    waiting = int((ops.get("held_by_campaign") or {}).get(campaign, 0))
    generation_letters = sum(d["count"] for d in letters
                             if d["topic"].startswith("dlq.email.requests"))
    # A lead's follow-ups are drafts too: counted once as a lead (follow-ups written for a
    # sequence that stopped meanwhile are not in the steps' counts, so they still add).
    follow_ups = sum(row.sent for row in steps or [] if row.step > 1)
    funnel = {"leads with an outcome": drafts_out + waiting + generation_letters - follow_ups,
              "drafted (sent on or held)": drafts_out + waiting,
              **({"of which follow-ups (steps 2+)": follow_ups} if follow_ups else {}),
              "held for review now": waiting,
              **{label: int(counts.get(name, 0)) for name, label in FUNNEL}}
    positive = counts.get("positive_reply", 0.0)
    cost = counts.get("cost_usd", 0.0)
    ledger = ops.get("spend") or {}
    spent = ledger.get("by_campaign", {}).get(campaign, 0.0)
    return {"campaign": campaign, "funnel": funnel, "steps": step_rows_json(steps or []),
            "spend": {"spent_usd": spent, "cost_of_sent_drafts_usd": cost,
                      "spent_today_usd": ledger.get("today_by_campaign", {}).get(campaign, 0.0),
                      "by_rung_usd": {r["rung"] + "/" + r["kind"]: r["usd"]
                                      for r in ledger.get("rows", [])
                                      if r["campaign"] == campaign},
                      "cost_per_positive_reply_usd": spent / positive if positive else None},
            "ab": arms(snapshot, campaign), "dead_letters": letters[:TOP_LETTERS],
            "synthetic_left_out": kpi.get("synthetic", {})}


def arms(snapshot: dict[str, Any], campaign: str) -> list[dict[str, Any]]:
    ab = snapshot["ab"]
    champion = ab["state"]["champion"]
    rows = {v["name"]: snapshot["kpis"].get(f"campaign-arm:{campaign}/{v['name']}",
                                            {}).get("counts", {}) for v in ab["variants"]}
    h = rows.get(champion, {})
    h_sent, h_pos = int(h.get("sent", 0)), int(h.get("positive_reply", 0))
    out = []
    for name, c in rows.items():
        sent, pos = int(c.get("sent", 0)), int(c.get("positive_reply", 0))
        row: dict[str, Any] = {"arm": name, "champion": name == champion, "sent": sent,
                               "positive": pos, "rate": pos / sent if sent else None,
                               "p_value": None, "prob_beat": None}
        if name != champion and min(sent, h_sent) > 0:
            row["p_value"] = two_proportion_ztest(h_pos, h_sent, pos, sent, ab["alpha"]).p_value
            row["prob_beat"] = prob_b_beats_a(*posterior(h_pos, h_sent), *posterior(pos, sent))
        out.append(row)
    return out


def _arm_row(arm: dict[str, Any]) -> str:
    p_value = "-" if arm["p_value"] is None else f"{arm['p_value']:.3f}"
    label = arm["arm"] + (" (champion)" if arm["champion"] else "")
    return (f'<tr data-arm="{_e(arm["arm"])}"><td>{_e(label)}</td><td>{arm["sent"]}</td>'
            f"<td>{arm['positive']}</td><td>{_pct(arm['rate'])}</td><td>{p_value}</td>"
            f"<td>{_pct(arm['prob_beat'])}</td></tr>")


def render_campaign(snapshot: dict[str, Any], campaign: str, prefix: str = "",
                    steps: list[StepCounts] | None = None) -> str:
    view = campaign_view(snapshot, campaign, steps)
    funnel = table("funnel", ("stage", "count"), (f"<tr><td>{_e(k)}</td><td>{v}</td></tr>"
                                                  for k, v in view["funnel"].items()), "none")
    spend = view["spend"]
    state = snapshot["ab"]["state"]
    arm_table = table("campaign-ab", ("arm", "sent", "positive", "rate", "p-value vs champion",
                                      "P(beats champion)"), map(_arm_row, view["ab"]), "no arms")
    by_rung = "".join(f"<tr><td>&nbsp;&nbsp;{_e(k)}</td><td>{_usd(v)}</td></tr>"
                      for k, v in sorted(spend["by_rung_usd"].items()))
    letters = table("campaign-dead-letters", ("topic", "reason", "records"),
                    (f"<tr><td>{_e(d['topic'])}</td><td>{_e(d['reason'])}</td>"
                     f"<td>{d['count']}</td></tr>" for d in view["dead_letters"]), "none")
    left_out = ", ".join(f"{int(n)} {o}" for o, n in sorted(view["synthetic_left_out"].items()))
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Campaign {_e(campaign)} - Miniature Outreach</title>
<style>body{{font-family:system-ui,sans-serif;margin:24px;background:#f8fafc;color:#111}}
table{{border-collapse:collapse;background:#fff;font-size:.9em;margin-bottom:12px}}
th,td{{border:1px solid #d4d4d8;padding:4px 8px;text-align:right}}
th:first-child,td:first-child{{text-align:left}}</style></head><body>
<p><a href="{_e(prefix)}/">&larr; dashboard</a> &middot; <a href="/drafts/">approval queue</a> &middot;
<a href="{_e(prefix)}/api/campaigns/{_e(campaign)}">JSON</a></p>
<h1>Campaign <span id="campaign-id">{_e(campaign)}</span></h1>
<h2>Funnel</h2>{funnel}
<h2>Sequence steps</h2><p>From the sequence scheduler (<code>outreach sequences</code>): a reply
counts at the step the sequence had reached; an auto-reply (out of office) does not stop it.</p>
{render_step_funnel(steps or [])}
<h2>Spend</h2><table id="spend"><tr><td>spent (the ledger: every attempt, every rung)</td><td>{_usd(spend['spent_usd'])}</td></tr>
<tr><td>of which today (UTC)</td><td>{_usd(spend['spent_today_usd'])}</td></tr>
{by_rung}
<tr><td>cost of the drafts sent on</td><td>{_usd(spend['cost_of_sent_drafts_usd'])}</td></tr>
<tr><td>spent per positive reply</td><td>{_usd(spend['cost_per_positive_reply_usd'])}</td></tr></table>
<h2>A/B on this campaign's leads</h2>
<p>Champion {_e(state['champion'])} ({_e(state['allocation'])}); decisions are taken on every
campaign's leads together, by intention to treat. Synthetic events left out: {_e(left_out or 'none')}.</p>
{arm_table}
<h2>Top dead-letter reasons</h2>{letters}
</body></html>"""

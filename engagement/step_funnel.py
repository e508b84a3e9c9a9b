"""The campaign view's sequence funnel: per step, sent, replied, stopped, finished.

Read from the counts the sequence scheduler keeps in Redis (outreach/step_funnel.py), one
HGETALL per page; rendered as a table whose last column says how many sequences are still
running at each step, so the rows add up: sent at step n = stopped at n + finished at n +
sent at step n+1 + waiting for step n+1.
"""

from __future__ import annotations

import redis
import redis.asyncio as aioredis

from engagement.tables import table
from outreach.errors import StoreError
from outreach.step_funnel import StepCounts, funnel_key, parse


async def read_step_funnel(client: aioredis.Redis, key_prefix: str,
                           campaign: str) -> list[StepCounts]:
    try:
        raw = await client.hgetall(funnel_key(key_prefix, campaign))
    except redis.RedisError as exc:
        raise StoreError(f"cannot read the sequence funnel of {campaign}: {exc}") from exc
    return parse(raw)


def waiting(rows: list[StepCounts]) -> list[int]:
    """Per step: sequences that were sent this step and have neither stopped, finished nor
    been sent the next step yet (never below 0: a stop can be counted before its step's
    send when the contact was stopped in another campaign)."""
    nxt = [r.sent for r in rows[1:]] + [0]
    return [max(0, r.sent - r.stopped - r.finished - n) for r, n in zip(rows, nxt)]


HEADER = ("step", "sent", "replied", "of which auto-replies", "stopped here", "finished here",
          "waiting for the next step")


def render_step_funnel(rows: list[StepCounts]) -> str:
    body = (f'<tr data-step="{r.step}"><td>step {r.step}</td><td>{r.sent}</td>'
            f"<td>{r.replied}</td><td>{r.auto_replied}</td><td>{r.stopped}</td>"
            f"<td>{r.finished}</td><td>{w}</td></tr>" for r, w in zip(rows, waiting(rows)))
    return table("step-funnel", HEADER, body, "no sequence steps recorded for this campaign "
                 "(a one-step campaign, or `outreach sequences` is not running)")


def step_rows_json(rows: list[StepCounts]) -> list[dict[str, int]]:
    return [{**r.as_dict(), "waiting": w} for r, w in zip(rows, waiting(rows))]


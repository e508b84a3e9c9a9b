"""Guardrails: rolling bounce and complaint rates per campaign and per mailbox, and the pauses
they cause.

Every send is recorded in two rolling windows (its campaign's, its mailbox's); a bounce or a
complaint is recorded against the send it answers (the draft id: an ESP that reports one bounce
twice counts once). Past a threshold, with at least ``min_sends`` sends in the window, the
campaign or the mailbox pauses: a campaign's drafts wait in their queues, a mailbox's move to
the rest of its pool. Only an operator resumes (``outreach sending resume``), and a resume
starts the window afresh: the rate that paused it is history once the list is fixed.

Keys (``P`` = ``<redis.key_prefix>:send``):
    P:g:<kind>:<scope>:<name>  ZSET draft_id -> virtual ms; kind s (sends), b (bounces),
                               x (complaints); scope c (campaign) or m (mailbox)
    P:by:<draft_id>            "<mailbox>\\x1f<campaign>" of a sent draft (for its events)
    P:camp:<campaign>          HASH status, reason, since_ms of a paused campaign
    P:paused                   SET of paused campaign ids (the dashboard's banner)
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import Any

import redis

from outreach.errors import StoreError
from outreach.settings import GuardrailSettings
from sending.keys import text
from sending.mailboxes import PAUSED, MailboxBook

BY_TTL_S = 30 * 86_400  # bounces and complaints arrive within days of the send, never later
BOUNCE, COMPLAINT = "b", "x"
KINDS = {"BOUNCED": BOUNCE, "COMPLAINED": COMPLAINT}


@dataclass(frozen=True)
class Trip:
    """A pause a guardrail caused: the operations event's content."""

    kind: str  # campaign_paused | mailbox_paused
    scope: str  # campaign | mailbox
    name: str
    reason: str
    rate: float
    at_ms: int

    def event(self) -> dict[str, Any]:
        return ops_event(self.kind, self.scope, self.name, self.reason, self.at_ms,
                         rate=self.rate)


def ops_event(kind: str, scope: str, name: str, reason: str, at_ms: int, *,
              rate: float | None = None, count: int | None = None) -> dict[str, Any]:
    """An OperationsEvent (schemas/ops.py)."""
    return {"event_id": uuid.uuid4().hex, "kind": kind, "scope": scope, "name": name,
            "reason": reason, "rate": rate, "count": count, "occurred_at": at_ms}


def wilson_lower(hits: int, n: int, z: float) -> float:
    """The lower end of the Wilson score interval of hits/n (the plain rate when z = 0)."""
    if n == 0:
        return 0.0
    p = hits / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, (centre - spread) / (1 + z * z / n))


class Guardrails:
    def __init__(self, client: redis.Redis, prefix: str, cfg: GuardrailSettings,
                 book: MailboxBook) -> None:
        self.redis = client
        self.prefix = prefix
        self.cfg = cfg
        self.book = book
        self.window_ms = int(cfg.window_days * 86_400_000)

    def _window(self, kind: str, scope: str, name: str) -> str:
        return f"{self.prefix}:g:{kind}:{scope}:{name}"

    # -- campaign pauses ----------------------------------------------------------------------
    def campaign_paused(self, campaign: str) -> bool:
        return text(self._call("hget", f"{self.prefix}:camp:{campaign}", "status") or b"") == PAUSED

    def pause_campaign(self, campaign: str, reason: str, now_ms: int) -> bool:
        key = f"{self.prefix}:camp:{campaign}"
        try:
            with self.redis.pipeline() as pipe:
                pipe.hget(key, "status")
                pipe.hset(key, mapping={"status": PAUSED, "reason": reason, "since_ms": now_ms})
                pipe.sadd(f"{self.prefix}:paused", campaign)
                was = pipe.execute()[0]
        except redis.RedisError as exc:
            raise StoreError(f"cannot pause campaign {campaign}: {exc}") from exc
        return text(was or b"") != PAUSED

    def resume_campaign(self, campaign: str, now_ms: int) -> bool:
        was = self.campaign_paused(campaign)
        self._call("hset", f"{self.prefix}:camp:{campaign}",
                   mapping={"status": "active", "reason": "", "since_ms": now_ms})
        self._call("srem", f"{self.prefix}:paused", campaign)
        self.reset("c", campaign)
        return was

    def paused_campaigns(self) -> dict[str, dict[str, str]]:
        names = sorted(text(x) for x in self._call("smembers", f"{self.prefix}:paused") or ())
        out = {}
        for name in names:
            raw = self._call("hgetall", f"{self.prefix}:camp:{name}") or {}
            out[name] = {text(k): text(v) for k, v in raw.items()}
        return out

    def reset(self, scope: str, name: str) -> None:
        self._call("delete", *(self._window(kind, scope, name) for kind in ("s", BOUNCE, COMPLAINT)))

    # -- recording ----------------------------------------------------------------------------
    def record_send(self, draft_id: str, campaign: str, mailbox: str, now_ms: int) -> None:
        try:
            with self.redis.pipeline() as pipe:
                for scope, name in (("c", campaign), ("m", mailbox)):
                    pipe.zadd(self._window("s", scope, name), {draft_id: now_ms})
                pipe.set(f"{self.prefix}:by:{draft_id}", f"{mailbox}\x1f{campaign}", ex=BY_TTL_S)
                pipe.execute()
        except redis.RedisError as exc:
            raise StoreError(f"cannot record the send of {draft_id}: {exc}") from exc

    def record_event(self, draft_id: str, event_type: str, now_ms: int) -> list[Trip]:
        """A bounce or complaint of a sent draft; the pauses it trips (none for other types or
        a draft this engine did not send)."""
        kind = KINDS.get(event_type)
        if kind is None:
            return []
        by = self._call("get", f"{self.prefix}:by:{draft_id}")
        if not by:
            return []
        mailbox, campaign = text(by).split("\x1f", 1)
        trips = []
        for scope, name in (("c", campaign), ("m", mailbox)):
            self._call("zadd", self._window(kind, scope, name), {draft_id: now_ms})
            trip = self._judge(kind, scope, name, now_ms)
            if trip is not None:
                trips.append(trip)
        return trips

    def rates(self, scope: str, name: str, now_ms: int) -> tuple[int, float, float]:
        """(sends, bounce rate, complaint rate) in the window ending at ``now_ms``."""
        counts = []
        try:
            with self.redis.pipeline() as pipe:
                for kind in ("s", BOUNCE, COMPLAINT):
                    key = self._window(kind, scope, name)
                    pipe.zremrangebyscore(key, "-inf", now_ms - self.window_ms)
                    pipe.zcard(key)
                counts = pipe.execute()[1::2]
        except redis.RedisError as exc:
            raise StoreError(f"cannot read the rates of {scope}:{name}: {exc}") from exc
        sends, bounces, complaints = (int(x) for x in counts)
        return sends, bounces / max(sends, 1), complaints / max(sends, 1)

    def _judge(self, kind: str, scope: str, name: str, now_ms: int) -> Trip | None:
        campaign = scope == "c"
        if self.campaign_paused(name) if campaign else self.book.is_paused(name):
            return None  # one pause, one event, and its first reason stays
        sends, bounce_rate, complaint_rate = self.rates(scope, name, now_ms)
        if sends < self.cfg.min_sends:
            return None
        limit = ((self.cfg.campaign_bounce_rate if campaign else self.cfg.mailbox_bounce_rate)
                 if kind == BOUNCE else
                 (self.cfg.campaign_complaint_rate if campaign else
                  self.cfg.mailbox_complaint_rate))
        rate = bounce_rate if kind == BOUNCE else complaint_rate
        bound = wilson_lower(round(rate * sends), sends, self.cfg.confidence_z)
        if bound < limit:
            return None
        what = "bounce" if kind == BOUNCE else "complaint"
        reason = (f"{what} rate {rate:.2%} over the last {self.cfg.window_days:g} days "
                  f"({round(rate * sends)} of {sends} sends; at least {bound:.2%} with "
                  f"z={self.cfg.confidence_z:g}) reached {limit:.2%}")
        paused = (self.pause_campaign(name, reason, now_ms) if campaign
                  else self.book.pause(name, reason, now_ms))
        if not paused:
            return None  # already paused: one event per pause
        return Trip("campaign_paused" if campaign else "mailbox_paused",
                    "campaign" if campaign else "mailbox", name, reason, rate, now_ms)

    def _call(self, command: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(self.redis, command)(*args, **kwargs)
        except redis.RedisError as exc:
            raise StoreError(f"guardrail state ({command}) failed: {exc}") from exc

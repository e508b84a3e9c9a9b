"""FeedbackExamples for retraining: outcome labels, a reward, preference pairs, PII redaction.

A draft's outcome is final at its first decisive event (a classified reply other than an
auto-reply or out-of-office notice, a bounce, an unsubscribe, a complaint) or, failing that,
when its outcome window ends ("ignored", possibly opened or clicked). Finalizing removes the
draft from the ``open`` ZSET first, so exactly one worker emits its example.

Preference pairs: a draft with a positive reply vs an ignored or declined one for a similar
lead (same ``feedback.similar_by`` fields). Waiting drafts sit in per-bucket Redis lists and
each is used in at most one pair.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any, cast, overload

import redis
import redis.asyncio as aioredis

from outreach.errors import StoreError
from outreach.settings import FeedbackSettings
from schemas.records import FeedbackExample, Lead

# Most severe first: a complaint outweighs the open that preceded it.
OUTCOME_ORDER = ("complained", "unsubscribed", "unsubscribe_request", "bounced", "interested",
                 "not_now", "not_interested", "out_of_office", "auto_reply", "clicked", "opened")
DECISIVE = frozenset({"complained", "unsubscribed", "unsubscribe_request", "bounced",
                      "interested", "not_now", "not_interested"})
CHOSEN = frozenset({"interested"})
REJECTED = frozenset({"ignored", "not_interested"})
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
# 7+ digits with optional +, spaces, dots, dashes and parentheses: phone numbers, not prices.
PHONE_RE = re.compile(r"(?<![\w$€£])\+?\(?\d[\d\s().-]{5,}\d(?![\w%])")
PAIR_BUCKET_CAP = 200  # per bucket: bounded memory when one side never arrives
FINAL_LEASE_MS = 60_000  # a finalizer that died is replaced after a minute
# KEYS: open. ARGV: draft_id, now ms, lease ms, force (1/0). Leases a due (or forced) draft.
CLAIM_FINAL = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return 0 end
local s, now, lease = tonumber(score), tonumber(ARGV[2]), tonumber(ARGV[3])
if s > now then
  if ARGV[4] == '0' then return 0 end    -- not due yet
  if s <= now + lease then return 0 end  -- leased by another finalizer (or due within a lease)
end
redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
return 1
"""


def flag_names(raw_flags: set[str]) -> set[str]:
    """KPI flags (engagement types, reply labels) -> outcome labels (lower case). Simulated
    flags label as their real kind (the demo learns from its simulator); a self-test never
    labels a draft (streams/synthetic.py)."""
    names = set()
    for flag in raw_flags:
        flag = flag.lower()
        if flag.startswith("self_test:"):
            continue
        names.add(flag.removeprefix("simulated:").removeprefix("reply:"))
    return names - {"positive"}


def primary_outcome(labels: set[str]) -> str:
    return next((name for name in OUTCOME_ORDER if name in labels), "ignored")


def reward(labels: set[str], rewards: dict[str, float]) -> float:
    return rewards.get(primary_outcome(labels), 0.0)


def _pii(value: str, kind: str, mode: str, salt: str) -> str:
    if mode == "hash":
        return f"<{kind}:{hashlib.sha256((salt + value.lower()).encode()).hexdigest()[:12]}>"
    return f"<{kind}>"


@overload
def redact_text(text: str, mode: str, salt: str = "") -> str: ...
@overload
def redact_text(text: None, mode: str, salt: str = "") -> None: ...
def redact_text(text: str | None, mode: str, salt: str = "") -> str | None:
    if text is None or mode == "keep":
        return text
    text = EMAIL_RE.sub(lambda m: _pii(m.group(0), "email", mode, salt), text)
    return PHONE_RE.sub(lambda m: _pii(re.sub(r"\D", "", m.group(0)), "phone", mode, salt), text)


def redact_lead(lead: Lead, mode: str, salt: str = "") -> Lead:
    if mode == "keep":
        return lead.copy()
    out: Lead = cast(Lead, {key: redact_text(value, mode, salt) if isinstance(value, str)
                            else value for key, value in lead.items()})
    out["email"] = _pii(lead.get("email") or "", "email", mode, salt)
    return out


def lead_from_draft(draft: Mapping[str, Any]) -> Lead:
    """What the draft itself tells about its lead, when email.requests was not seen."""
    return {"lead_id": draft["lead_id"], "campaign": draft["campaign"], "email": draft["to_email"],
            "first_name": draft.get("to_name") or "", "company": draft.get("company") or "",
            "created_at": draft.get("created_at") or 0}


def outcome_example(draft: Mapping[str, Any], lead: Lead, labels: set[str],
                    cfg: FeedbackSettings, now_ms: int) -> FeedbackExample:
    primary = primary_outcome(labels)
    ordered = [primary] + sorted(labels - {primary})
    return {
        "example_id": "fbo-" + hashlib.sha256(draft["draft_id"].encode()).hexdigest()[:24],
        "kind": "OUTCOME", "lead": redact_lead(lead, cfg.pii, cfg.pii_salt.get_secret_value()),
        "draft_id": draft["draft_id"],
        "subject": redact_text(draft["subject"], cfg.pii, cfg.pii_salt.get_secret_value()),
        "body": redact_text(draft["body"], cfg.pii, cfg.pii_salt.get_secret_value()),
        "model_id": draft["model_id"], "model_version": draft.get("model_version") or "",
        "variant": draft["variant"], "labels": ordered,
        "reward": reward(labels, cfg.rewards), "created_at": now_ms,
        # KPIs and retraining cut by campaign version and by proof point (0/[]: older drafts).
        "campaign_version": int(draft.get("campaign_version") or 0),
        "evidence_ids": list(draft.get("evidence_ids") or []),
    }


def preference_example(chosen: FeedbackExample, rejected: FeedbackExample,
                       cfg: FeedbackSettings, now_ms: int) -> FeedbackExample:
    """A PREFERENCE_PAIR record from two outcome examples (chosen = positive reply)."""
    digest = hashlib.sha256(f"{chosen['draft_id']}\x1f{rejected['draft_id']}".encode())
    return {**chosen, "example_id": "fbp-" + digest.hexdigest()[:24], "kind": "PREFERENCE_PAIR",
            "rejected_draft_id": rejected["draft_id"], "rejected_subject": rejected["subject"],
            "rejected_body": rejected["body"],
            "labels": [f"chosen:{chosen['labels'][0]}", f"rejected:{rejected['labels'][0]}"],
            "reward": chosen["reward"] - rejected["reward"], "created_at": now_ms}


class FeedbackState:
    """The Redis side: finalize claims, per-draft flags, preference buckets."""

    def __init__(self, client: aioredis.Redis, key_prefix: str, cfg: FeedbackSettings) -> None:
        self.redis = client
        self.prefix = f"{key_prefix}:fb"
        self.cfg = cfg
        self._claim = client.register_script(CLAIM_FINAL)

    async def claim_final(self, draft_id: str, now_ms: int, force: bool) -> bool:
        """Lease this draft's finalization for ``FINAL_LEASE_MS``; True for the one winner.

        ``force``: a decisive event finalizes before the outcome window ends. The draft leaves
        ``open`` only in ``done_final``, after the example is acknowledged, so a crash in
        between lets the sweep emit it again (same example_id: consumers de-duplicate).
        """
        try:
            return bool(await self._claim(keys=[f"{self.prefix}:open"],
                                          args=[draft_id, now_ms, FINAL_LEASE_MS, int(force)]))
        except redis.RedisError as exc:
            raise StoreError(f"cannot finalize {draft_id}: {exc}") from exc

    async def done_final(self, draft_id: str) -> None:
        try:
            await self.redis.zrem(f"{self.prefix}:open", draft_id)
        except redis.RedisError as exc:
            raise StoreError(f"cannot close {draft_id}: {exc}") from exc

    async def due(self, now_ms: int, limit: int = 500) -> list[str]:
        try:
            ids = await self.redis.zrangebyscore(f"{self.prefix}:open", "-inf", now_ms,
                                                 start=0, num=limit)
        except redis.RedisError as exc:
            raise StoreError(f"cannot list drafts past their outcome window: {exc}") from exc
        return [i.decode() for i in ids]

    async def labels(self, draft_id: str) -> set[str]:
        try:
            raw = await self.redis.smembers(f"{self.prefix}:flags:{draft_id}")
        except redis.RedisError as exc:
            raise StoreError(f"cannot read outcome flags of {draft_id}: {exc}") from exc
        return flag_names({f.decode() for f in raw})

    def bucket(self, lead: Lead) -> str:
        key = json.dumps([str(lead.get(name) or "").lower() for name in self.cfg.similar_by])
        return hashlib.sha256(key.encode()).hexdigest()[:16]

    async def pair(self, example: FeedbackExample, lead: Lead) -> FeedbackExample | None:
        """Match a finished example with a waiting opposite one, or leave it waiting."""
        primary = example["labels"][0]
        if primary in CHOSEN:
            mine, other = "pos", "neg"
        elif primary in REJECTED:
            mine, other = "neg", "pos"
        else:
            return None
        base = f"{self.prefix}:pref:{self.bucket(lead)}"
        try:
            waiting = await self.redis.lpop(f"{base}:{other}")
            if waiting is None:
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.rpush(f"{base}:{mine}", json.dumps(example))
                    pipe.ltrim(f"{base}:{mine}", -PAIR_BUCKET_CAP, -1)
                    pipe.expire(f"{base}:{mine}", self.cfg.state_ttl_s)
                    await pipe.execute()
                return None
        except redis.RedisError as exc:
            raise StoreError(f"cannot match a preference pair: {exc}") from exc
        partner = json.loads(waiting)
        chosen, rejected = (example, partner) if mine == "pos" else (partner, example)
        return preference_example(chosen, rejected, self.cfg, example["created_at"])

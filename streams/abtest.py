"""A/B testing: traffic allocation (split or Thompson sampling) and champion/challenger decisions.

The state (champion, previous champion, retired arms, the latest evidence per challenger) is one
JSON document in Redis, written by the feedback app's evaluator and read by routers and the
dashboard. Everything but ``load_state``/``save_state`` is pure, so routing can call
``choose_variant`` per lead without I/O and tests can replay decisions.

Decision rule for a challenger C against the champion H on positive-reply rate:
    collecting  either arm has fewer than ``min_sends`` sends
    stop        C breaks a guardrail (unsubscribe, complaint or bounce rate above its maximum)
    promote     z-test p < alpha, C's rate higher, and P(C beats H) >= promote_probability
    retire      z-test p < alpha, C's rate lower, and P(H beats C) >= promote_probability
    continue    otherwise
and for the champion itself, when it was promoted earlier:
    rollback    it breaks a guardrail, or the previous champion now beats it by the rule above

The counts are intention to treat (DECISION_BASIS); synthetic events are left out
(streams/synthetic.py) unless ``include_simulated``.
"""
from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import redis

from outreach.errors import StoreError
from outreach.settings import ABTestSettings, RoutingRule, VariantSpec
from schemas.records import ABDecision, Lead
from streams.significance import posterior, prob_b_beats_a, thompson_draw, two_proportion_ztest

log = logging.getLogger(__name__)

# Arms are compared on every lead assigned to them (intention to treat), whoever wrote the
# email: assignment is random, escalation is not. Per-writer figures drop the drafts a
# miniature failed (the hardest leads) from the miniature arm only, which would flatter it, so
# they are shown beside the decision (dashboard, demo summary), never used for it.
DECISION_BASIS = ("intention to treat: every lead assigned to an arm counts for that arm, also "
                  "when its email was escalated to another writer (assignment is random, "
                  "escalation is not, so per-writer figures would drop the miniature arm's "
                  "hardest leads and flatter it); per-writer figures are shown beside it")

Action = Literal["collecting", "continue", "promote", "retire", "stop", "rollback"]
STATE_CHANGING: frozenset[str] = frozenset({"promote", "retire", "stop", "rollback"})


@dataclass(frozen=True)
class ArmStats:
    """Cumulative counts of one variant (from the KPI totals)."""

    sends: int = 0
    positive: int = 0
    unsubscribed: int = 0
    complained: int = 0
    bounced: int = 0

    def rate(self, count: int) -> float:
        return count / self.sends if self.sends else 0.0


@dataclass
class Evidence:
    """What a decision was based on; logged and published with it."""

    action: Action
    challenger: str
    champion: str
    champion_sends: int = 0
    champion_positive: int = 0
    challenger_sends: int = 0
    challenger_positive: int = 0
    z: float | None = None
    p_value: float | None = None
    prob_beat: float | None = None  # P(challenger beats champion)
    diff_ci: tuple[float, float] | None = None
    reason: str = ""


@dataclass
class ABState:
    champion: str
    allocation: str = "split"
    previous_champion: str | None = None
    retired: list[str] = field(default_factory=list)
    arms: dict[str, dict[str, int]] = field(default_factory=dict)  # name -> ArmStats fields
    evidence: dict[str, dict[str, Any]] = field(default_factory=dict)  # challenger -> Evidence
    history: list[dict[str, Any]] = field(default_factory=list)  # state-changing decisions
    updated_at: int = 0

    @classmethod
    def initial(cls, cfg: ABTestSettings) -> ABState:
        return cls(champion=cfg.champion, allocation=cfg.allocation)

    def arm(self, name: str) -> ArmStats:
        return ArmStats(**self.arms.get(name, {}))

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, raw: str | bytes) -> ABState:
        """The stored state; a value this version cannot read is a StoreError (another process
        writes the key: routers keep their last state, the dashboard answers 503)."""
        try:
            return cls(**json.loads(raw))
        except (ValueError, TypeError) as exc:
            raise StoreError(f"stored A/B state unreadable: {exc}") from exc


# -- allocation ------------------------------------------------------------------------------
def lead_rng(lead: Lead, salt: str = "") -> random.Random:
    """A generator seeded by lead_id + campaign: a redelivered lead gets the same variant."""
    seed = hashlib.sha256(f"{lead.get('lead_id')}\x1f{lead.get('campaign')}\x1f{salt}".encode())
    return random.Random(int.from_bytes(seed.digest()[:8], "big"))


def choose_variant(lead: Lead, variants: list[VariantSpec], state: ABState,
                   rng: random.Random, prior_successes: int = 1,
                   prior_failures: int = 1) -> VariantSpec:
    """Pick the arm that writes this lead's email.

    split: by the configured weights. thompson: draw each arm's positive-reply rate from its
    Beta posterior and take the highest, so traffic drifts to the better arm while a weaker one
    still gets the occasional lead. Retired/stopped arms get no traffic; the champion always can.
    ``lead`` is unused by both policies today; it is the hook for per-segment allocation.
    """
    del lead
    live = [v for v in variants if v.name not in state.retired or v.name == state.champion]
    if not live:
        live = [v for v in variants if v.name == state.champion] or list(variants)
    if state.allocation == "thompson":
        draws = [(thompson_draw(state.arm(v.name).positive, state.arm(v.name).sends, rng,
                                prior_successes, prior_failures), v) for v in live]
        return max(draws, key=lambda pair: pair[0])[1]
    weights = [v.weight for v in live]
    if sum(weights) <= 0:
        return next((v for v in live if v.name == state.champion), live[0])
    return rng.choices(live, weights=weights, k=1)[0]


def apply_variant(rule: RoutingRule, lead: Lead, cfg: ABTestSettings,
                  state: ABState) -> RoutingRule:
    """The routing rule with the A/B arm's variant (and tier, when the arm sets one).

    Routing calls this right after choose_rule when ``abtest.enabled``; the generator is seeded
    by the lead, so a redelivered lead lands in the same arm.
    """
    if not cfg.enabled:
        return rule
    arm = choose_variant(lead, cfg.variants, state, lead_rng(lead), cfg.prior_successes,
                         cfg.prior_failures)
    return rule.model_copy(update={"variant": arm.name, "tier": arm.tier or rule.tier})


# -- decisions -------------------------------------------------------------------------------
def guardrail_breach(stats: ArmStats, cfg: ABTestSettings) -> str | None:
    """The first guardrail an arm breaks once it has ``min_sends`` sends, else None."""
    if stats.sends < cfg.min_sends:
        return None
    for label, count, limit in (("unsubscribe", stats.unsubscribed, cfg.max_unsubscribe_rate),
                                ("complaint", stats.complained, cfg.max_complaint_rate),
                                ("bounce", stats.bounced, cfg.max_bounce_rate)):
        if stats.rate(count) > limit:
            return f"{label} rate {stats.rate(count):.2%} > {limit:.2%} over {stats.sends} sends"
    return None


def compare(champion: str, challenger: str, state: ABState, cfg: ABTestSettings) -> Evidence:
    """Evidence for one challenger against the champion (no state change)."""
    h, c = state.arm(champion), state.arm(challenger)
    ev = Evidence(action="collecting", challenger=challenger, champion=champion,
                  champion_sends=h.sends, champion_positive=h.positive,
                  challenger_sends=c.sends, challenger_positive=c.positive)
    breach = guardrail_breach(c, cfg)
    if breach:
        ev.action, ev.reason = "stop", f"guardrail: {breach}"
        return ev
    if min(h.sends, c.sends) < cfg.min_sends:
        ev.reason = f"needs {cfg.min_sends} sends per arm"
        return ev
    test = two_proportion_ztest(h.positive, h.sends, c.positive, c.sends, cfg.alpha)
    ev.z, ev.p_value, ev.diff_ci = test.z, test.p_value, (test.ci_low, test.ci_high)
    priors = (cfg.prior_successes, cfg.prior_failures)
    ev.prob_beat = prob_b_beats_a(*posterior(h.positive, h.sends, *priors),
                                  *posterior(c.positive, c.sends, *priors))
    significant = test.p_value < cfg.alpha
    if significant and test.diff > 0 and ev.prob_beat >= cfg.promote_probability:
        ev.action, ev.reason = "promote", "significantly better positive-reply rate"
    elif significant and test.diff < 0 and 1 - ev.prob_beat >= cfg.promote_probability:
        ev.action, ev.reason = "retire", "significantly worse positive-reply rate"
    else:
        ev.action, ev.reason = "continue", "no significant difference yet"
    return ev


def evaluate(state: ABState, arms: dict[str, ArmStats], cfg: ABTestSettings,
             now_ms: int | None = None) -> tuple[ABState, list[Evidence]]:
    """Apply the rule to fresh counts; returns the new state and the state-changing decisions."""
    now_ms = now_ms or int(time.time() * 1000)
    new = ABState(**{**asdict(state), "arms": {n: asdict(a) for n, a in arms.items()},
                     "allocation": cfg.allocation, "updated_at": now_ms})
    decisions: list[Evidence] = []
    rollback = _rollback(new, cfg)
    if rollback is not None:
        decisions.append(rollback)
        new.retired = sorted(set(new.retired) | {new.champion})
        new.champion, new.previous_champion = rollback.champion, None
    # Retired arms keep their last evidence on display; the champion has none of its own.
    new.evidence = {k: v for k, v in new.evidence.items() if k != new.champion}
    challengers = [v.name for v in cfg.variants
                   if v.name != new.champion and v.name not in new.retired]
    results = [compare(new.champion, name, new, cfg) for name in challengers]
    for ev in results:
        new.evidence[ev.challenger] = asdict(ev)
        if ev.action in ("retire", "stop"):
            new.retired = sorted(set(new.retired) | {ev.challenger})
            decisions.append(ev)
    promotions = [ev for ev in results if ev.action == "promote"]
    if promotions and rollback is None:  # one change of champion per evaluation
        best = max(promotions, key=lambda ev: ev.prob_beat or 0.0)
        new.previous_champion, new.champion = new.champion, best.challenger
        decisions.append(best)
    for ev in decisions:
        new.history.append({**asdict(ev), "decided_at": now_ms})
        log.info("A/B %s: challenger=%s champion=%s p=%s P(beat)=%s reason=%s", ev.action,
                 ev.challenger, ev.champion, ev.p_value, ev.prob_beat, ev.reason)
    new.history = new.history[-50:]  # the dashboard shows the latest; the topic keeps all
    return new, decisions


def _rollback(state: ABState, cfg: ABTestSettings) -> Evidence | None:
    """Return to the previous champion when the promoted one breaks a guardrail or loses."""
    previous = state.previous_champion
    if previous is None:
        return None
    breach = guardrail_breach(state.arm(state.champion), cfg)
    ev = compare(state.champion, previous, state, cfg)
    if breach is None and ev.action != "promote":
        return None
    # Reported from the restored champion's side: the failed one becomes the "challenger".
    h, c = state.arm(previous), state.arm(state.champion)
    return Evidence(action="rollback", challenger=state.champion, champion=previous,
                    champion_sends=h.sends, champion_positive=h.positive,
                    challenger_sends=c.sends, challenger_positive=c.positive, z=ev.z,
                    p_value=ev.p_value,
                    prob_beat=None if ev.prob_beat is None else 1 - ev.prob_beat,
                    diff_ci=ev.diff_ci,
                    reason=f"guardrail: {breach}" if breach else
                    f"previous champion {previous} is significantly better")


def decision_record(ev: Evidence, decided_at_ms: int) -> ABDecision:
    """An ABDecision record (schemas/avro/ab_decision.avsc) with a deterministic id."""
    digest = hashlib.sha256(f"{ev.action}\x1f{ev.champion}\x1f{ev.challenger}\x1f"
                            f"{ev.champion_sends}\x1f{ev.challenger_sends}".encode())
    return {"decision_id": "abd-" + digest.hexdigest()[:24], "action": ev.action.upper(),
            "champion": ev.champion, "challenger": ev.challenger,
            "evidence_json": json.dumps(asdict(ev), sort_keys=True),
            "p_value": ev.p_value, "prob_beat": ev.prob_beat, "reason": ev.reason,
            "decided_at": decided_at_ms}


# -- persistence -----------------------------------------------------------------------------
def state_key(key_prefix: str) -> str:
    return f"{key_prefix}:ab:state"


def load_state(client: redis.Redis, key_prefix: str, cfg: ABTestSettings) -> ABState:
    """The stored state, or the configured initial one when nothing was stored yet."""
    try:
        raw = client.get(state_key(key_prefix))
    except redis.RedisError as exc:
        raise StoreError(f"cannot read A/B state: {exc}") from exc
    return ABState.from_json(raw) if raw else ABState.initial(cfg)


def save_state(client: redis.Redis, key_prefix: str, state: ABState) -> None:
    try:
        client.set(state_key(key_prefix), state.to_json())
    except redis.RedisError as exc:
        raise StoreError(f"cannot write A/B state: {exc}") from exc

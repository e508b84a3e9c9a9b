"""The escalation ladder: miniature -> LLM tier -> human review -> dead letter.

A request whose drafts fail every check on one rung goes up one rung instead of to a dead
letter: from the miniature to ``email.requests.llm`` (when ``llm.base_url`` is set and
``escalation.llm`` is on), from the LLM to the approval queue (Redis, ``escalation.review``),
and only when no rung is left to ``dlq.email.requests`` with every rung's reasons. Each rung
adds its reasons to the request (``rung_reasons``), and the draft finally written records the
rung that wrote it and why it got there (EmailDraft ``rung``/``rung_reasons``).

Held for a person (the draft goes to the approval queue instead of email.drafts, outreach/held):
drafts written on an escalation rung (``approval.hold_escalated``), drafts of a routing rule
with ``review: true``, and a ``approval.qc_sample_rate`` share of all others, picked by draft_id
so a redelivery makes the same choice.

Every step is an acknowledged write (a produced request, a Redis item) done before the worker
commits the source offset, so a crash repeats a step but never skips one; the repeated request
keeps its request_id and the repeated hold keeps the first item (HeldDrafts.hold is SET NX).
"""

from __future__ import annotations

import hashlib
import logging
import re

from confluent_kafka import Producer

from outreach.held import HeldDrafts, HeldItem
from outreach.kafka import produce_sync
from outreach.spend import SpendLedger
from outreach.settings import Settings
from outreach.store import sync_client
from outreach.topics import requests_topic
from schemas.codec import AvroCodec
from schemas.records import EmailDraft, GenerationRequest
from generation.generate import Outcome, _email_draft

log = logging.getLogger(__name__)

MINIATURE, LLM, REVIEW = "miniature", "llm", "review"
RUNGS = (MINIATURE, LLM, REVIEW)


def rung_of(request: GenerationRequest) -> str:
    """The rung a request is on: set by an escalation, else its tier's."""
    return request.get("rung") or (LLM if request["tier"] == "llm" else MINIATURE)


ATTEMPT = re.compile(r"^(?:(\w+) )?attempt (\d+): (.*)$", re.S)


def labelled(rung: str, reason: str) -> str:
    """``reason`` of ``rung`` with the rung named once: "llm attempt 2: ..." (the LLM's own
    label already says "llm attempt"), "miniature attempt 1: ...", "llm: budget spent"."""
    found = ATTEMPT.match(reason)
    if found:
        return f"{rung} attempt {found.group(2)}: {found.group(3)}"
    return reason if reason.startswith(f"{rung}: ") else f"{rung}: {reason}"


def on_screen(rung: str, reasons: list[str], attempts: int) -> list[str]:
    """What applies to the text a reviewer sees (the last attempt's): its own failures, said
    first, so earlier attempts' reasons are not read as this text's."""
    last = [m.group(3) for m in map(ATTEMPT.match, reasons)
            if m and int(m.group(2)) == attempts]
    if not last:  # no attempt reached the model (budget, refusal): the reasons are the rung's
        last = [r for r in reasons if not ATTEMPT.match(r)]
    return [f"text on screen ({rung} attempt {attempts}) fails: {r}" for r in last]


def qc_sampled(draft_id: str, rate: float) -> bool:
    if rate <= 0:
        return False
    bucket = int.from_bytes(hashlib.sha256(f"qc\x1f{draft_id}".encode()).digest()[:4], "big")
    return bucket < rate * 2 ** 32


def stub_draft(request: GenerationRequest, outcome: Outcome, settings: Settings,
               cost_usd: float | None = None, prefill: str = "") -> EmailDraft:
    """An EmailDraft of a failed request's last attempt (after the prompt's ``prefill``): what
    a reviewer starts from. Its draft_id is the one a passing draft of that model would have
    had."""
    text = prefill + outcome.completions[-1].text if outcome.completions else ""
    subject, body = split_text(text)
    assert outcome.model is not None
    draft = _email_draft(request, subject, body, "", outcome.completions, outcome.model,
                         settings, campaign_version=outcome.campaign_version,
                         evidence_ids=outcome.evidence_ids)
    if cost_usd is not None:
        draft["estimated_cost_usd"] = cost_usd
    return draft


def split_text(text: str) -> tuple[str, str]:
    """Best-effort subject/body of a rejected draft, for the reviewer to start from."""
    text = text.strip()
    first, _, rest = text.partition("\n")
    if first.startswith("Subject:"):
        return first[len("Subject:"):].strip(), rest.strip()
    return "", text


class Ladder:
    """What happens to a worker's outcome beyond "send it": escalate, hold, or dead-letter."""

    def __init__(self, settings: Settings, producer: Producer, codec: AvroCodec) -> None:
        self.settings = settings
        self.producer = producer
        self.codec = codec
        self.held: HeldDrafts | None = None
        self.spend: SpendLedger | None = None
        if settings.redis_url:
            client = sync_client(settings.redis_url)
            self.held = HeldDrafts(client, settings.redis.key_prefix, settings.approval.item_ttl_s)
            self.spend = SpendLedger(client, settings.redis.key_prefix)

    @property
    def llm_rung(self) -> bool:
        return bool(self.settings.escalation.llm and self.settings.llm.base_url)

    @property
    def review_rung(self) -> bool:
        return bool(self.settings.escalation.review and self.held is not None)

    def record_spend(self, request: GenerationRequest, outcome: Outcome, usd: float) -> None:
        """Add what this rung spent on ``request`` to the ledger (outreach/spend.py)."""
        if self.spend is not None:
            self.spend.add(request["lead"]["campaign"], rung_of(request),
                           "written" if outcome.ok else "failed", usd)

    # -- drafts that passed ---------------------------------------------------------------
    def mark(self, request: GenerationRequest, draft: EmailDraft) -> None:
        """Record on ``draft`` the rung that wrote it and why the request got there."""
        rung = rung_of(request)
        reasons = list(request.get("rung_reasons") or [])
        if not reasons and rung == LLM:
            reasons = [f"routing rule {request.get('rule', '?')} sends this lead to the LLM tier"]
        draft["rung"], draft["rung_reasons"] = rung, reasons

    def hold_reason(self, request: GenerationRequest, draft: EmailDraft) -> str | None:
        """Why ``draft`` must wait for a person, or None to send it now."""
        if self.held is None:
            return None
        approval = self.settings.approval
        rule = next((r for r in self.settings.routing.rules if r.name == request.get("rule")),
                    None)
        if request.get("screening_reasons"):
            return "untrusted lead text withheld: " + "; ".join(request["screening_reasons"])
        if request.get("review") or (rule is not None and rule.review):
            return f"routing rule {request.get('rule', '?')} asks for review"
        if approval.hold_escalated and request.get("rung_reasons"):
            return f"escalated to the {rung_of(request)} rung"
        if qc_sampled(draft["draft_id"], approval.qc_sample_rate):
            return f"quality-control sample ({approval.qc_sample_rate:.0%} of drafts)"
        return None

    def hold(self, request: GenerationRequest, draft: EmailDraft, reason: str) -> bool:
        """Queue ``draft`` for approval; False when it was queued before (a redelivery)."""
        assert self.held is not None
        # The text on screen passed every check on its own rung (generation.checks through
        # checked_draft): said first, so earlier rungs' failures are not read as this text's.
        rung = draft.get("rung", "")
        item = HeldItem(draft=draft, lead=request["lead"], rung=rung,
                        reasons=[f"text on screen ({rung}): passes every check",
                                 *draft.get("rung_reasons", []), f"held: {reason}"])
        fresh = self.held.hold(item)
        log.info("draft %s held for approval (%s)%s", draft["draft_id"], reason,
                 "" if fresh else ", already held")
        return fresh

    # -- requests that failed ---------------------------------------------------------------
    def escalate(self, request: GenerationRequest, outcome: Outcome, draft_stub: EmailDraft,
                 reasons: list[str]) -> str | None:
        """Move a failed request up one rung: "llm" or "review", or None (dead-letter it).

        ``draft_stub`` is an EmailDraft of the last attempt's text (for the reviewer to edit),
        ``reasons`` this rung's reasons.
        """
        rung = rung_of(request)
        history = [*(request.get("rung_reasons") or []), *(labelled(rung, r) for r in reasons)]
        if rung == MINIATURE and self.llm_rung:
            up: GenerationRequest = {**request, "tier": "llm", "rung": LLM, "rung_reasons": history}
            topic = requests_topic("llm")
            produce_sync(self.producer, topic,
                         self.codec.encode("GenerationRequest", up, topic=topic),
                         key=request["lead"]["lead_id"])
            log.info("request %s escalated to %s: %s", request["request_id"], topic,
                     "; ".join(reasons)[:200])
            return LLM
        if rung != REVIEW and self.review_rung:
            draft_stub["rung"], draft_stub["rung_reasons"] = REVIEW, history
            assert self.held is not None
            screen = on_screen(rung, reasons, len(outcome.completions))
            self.held.hold(HeldItem(draft=draft_stub, lead=request["lead"], rung=REVIEW,
                                    reasons=[*screen, *history]))
            log.info("request %s held for a person: %s", request["request_id"],
                     "; ".join(reasons)[:200])
            return REVIEW
        return None

    @staticmethod
    def dead_letter_reason(request: GenerationRequest | None, reasons: list[str]) -> str:
        """Every rung's reasons, for a request no rung is left for."""
        if request is None:
            return "; ".join(reasons)
        rung = rung_of(request)
        return "; ".join([*(request.get("rung_reasons") or []),
                          *(labelled(rung, r) for r in reasons)])

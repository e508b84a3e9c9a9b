"""One GenerationRequest -> one checked EmailDraft, or the reasons it could not be written.

Deterministic by design: the sampling seed of attempt ``n`` is derived from (request_id, n), and
the draft_id from (request_id, model id, model digest). A request redelivered after a crash is
regenerated with the same seeds into the same text under the same draft_id, so the duplicate is
harmless: mail senders de-duplicate on draft_id.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from outreach.errors import DraftRejected
from outreach.ids import draft_id as make_draft_id
from outreach.settings import Settings
from schemas.campaign import Campaign, Sender
from schemas.records import EmailDraft, GenerationRequest
from generation.checks import parse_and_check
from generation.draft import Draft
from generation.prompt_budget import over_budget
from generation.untrusted import domains_in
from generation.engine import Completion, Generator, SharedPrefix
from generation.model import ModelInfo
from generation.followup import draft_fields, thread_subject, with_previous_email
from generation.prompt import STOP_SEQUENCES, TRAINED_CUE, build_prompt

log = logging.getLogger(__name__)


def checked_draft(prefill: str, text: str, request: GenerationRequest, settings: Settings,
                  campaign: Campaign, campaign_domains: Sequence[str] = (),
                  complete: bool = True) -> Draft:
    """Frame a completion (code's greeting and sign-off) and run every post-check through the
    one entry point (generation.checks), on any rung (miniature or LLM). Raises DraftRejected
    with the reasons. ``campaign_domains`` is unused: the checks derive the campaign's own
    domains and allowed URLs themselves (kept for callers)."""
    del campaign_domains
    return parse_and_check(prefill, text, request, settings.checks, campaign, complete=complete)


def seed_for(request_id: str, attempt: int) -> int:
    """The sampling seed of ``attempt`` (1-based): stable across processes and Python versions
    (unlike hash()), and within llama.cpp's 32-bit seed range."""
    digest = hashlib.sha256(f"seed\x1f{request_id}\x1f{attempt}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Outcome:
    """A draft (``draft`` set) or a rejection (``reasons`` set) plus what the attempts cost."""

    request_id: str
    lead_id: str
    draft: EmailDraft | None = None
    reasons: list[str] = field(default_factory=list)
    # Every attempt's rejection, kept when a later attempt passes (``reasons`` is cleared
    # then): the quality report counts defect classes over all attempts.
    rejections: list[str] = field(default_factory=list)
    completions: list[Completion] = field(default_factory=list)
    model: ModelInfo | None = None  # the model that wrote it (hot reload: one of two)
    campaign_version: int | None = None  # the campaign version the prompt quoted
    evidence_ids: tuple[str, ...] = ()  # the campaign facts quoted for this lead
    repairs: tuple[str, ...] = ()  # slips code fixed in the sent draft (generation.repair)

    @property
    def ok(self) -> bool:
        return self.draft is not None

    @property
    def attempts(self) -> int:
        return len(self.completions)


def estimated_cost_usd(completions: list[Completion], usd_per_vcpu_hour: float) -> float:
    # process_time() deltas count the CPU seconds of every thread of this process during the
    # calls, i.e. what llama.cpp's n_threads really burned (2 threads busy for 2 s = 4 vCPU-s),
    # which is what a $/vCPU-hour price bills. Threads x wall time would overstate it whenever
    # threads wait on memory or the machine is shared. GPU time is not in it: on a GPU worker
    # this is the host's share only.
    cpu_seconds = sum(c.cpu_seconds for c in completions)
    return cpu_seconds * usd_per_vcpu_hour / 3600.0


def draft_for_request(request: GenerationRequest, generator: Generator, model: ModelInfo,
                      settings: Settings, campaign: Campaign) -> Outcome:
    """Generate, parse and check, retrying with another deterministic seed on rejection.

    The first attempt samples freely (fast); later attempts add the retry grammar when
    ``settings.worker.grammar_on_retry`` is set (~5x slower per token with Gemma's vocabulary,
    so it is only paid for the minority of leads whose first draft failed). ModelError from the
    engine propagates: a model that cannot generate is not the request's fault. ``campaign`` is
    the lead's campaign (the caller resolves Lead.campaign; there is no default product).
    """
    lead = request["lead"]
    # A follow-up (sequence step > 1) also quotes the previous email (generation/followup.py).
    prompt = with_previous_email(build_prompt(lead, campaign, None, settings), request,
                                 campaign, TRAINED_CUE,
                                 fits=lambda text: over_budget(text, generator, settings) is None)
    outcome = Outcome(request_id=request["request_id"], lead_id=lead["lead_id"], model=model,
                      campaign_version=campaign.version, evidence_ids=prompt.evidence_ids)
    # Every prompt of one campaign version (and prompt style) starts with the same text: an
    # engine that keeps prefixes evaluates it once for all of that campaign's leads.
    shared = SharedPrefix(key=(campaign.campaign_id, campaign.version,
                               settings.model.prompt_style), text=prompt.static_prefix)
    campaign_domains = domains_in(campaign.model_dump_json())  # the campaign's own may recur
    too_long = over_budget(prompt.text, generator, settings)
    if too_long:  # the request's own fault: a dead letter, not a ModelError redelivered forever
        outcome.reasons.append(too_long)
        return outcome

    def write(attempt: int, seed: int) -> Completion:
        grammar = prompt.retry_grammar if attempt > 1 and settings.worker.grammar_on_retry else None
        return generator.generate(prompt.text, settings.model.max_tokens, seed, grammar=grammar,
                                  stop=STOP_SEQUENCES, prefix=shared)

    def check(completion: Completion) -> Draft:
        # generation.checks also rejects a follow-up that repeats the previous email
        return checked_draft(prompt.prefill, completion.text, request, settings, campaign,
                             campaign_domains, complete=completion.finish_reason != "length")

    draft = run_attempts(outcome, settings.worker.max_attempts, write, check)
    if draft is not None:
        outcome.repairs = draft.repairs
        subject = thread_subject(request, draft.subject)  # a follow-up keeps the thread's
        outcome.draft = _email_draft(request, subject, draft.body, prompt.prompt_hash,
                                     outcome.completions, model, settings,
                                     campaign_version=campaign.version,
                                     evidence_ids=prompt.evidence_ids, sender=campaign.sender)
    return outcome


def run_attempts(outcome: Outcome, max_attempts: int, write: Callable[[int, int], Completion],
                 check: Callable[[Completion], Draft], label: str = "attempt") -> Draft | None:
    """The attempt loop of every rung (miniature and LLM): attempt n writes with
    seed_for(request_id, n) and is checked; the first draft that passes is returned, with
    ``outcome.reasons`` cleared. Every attempt's Completion is kept on ``outcome`` (cost and
    token counts add up every attempt); each rejection adds "<label> n: <reason>"."""
    for attempt in range(1, max_attempts + 1):
        completion = write(attempt, seed_for(outcome.request_id, attempt))
        outcome.completions.append(completion)
        try:
            draft = check(completion)
        except DraftRejected as exc:
            outcome.reasons.extend(f"{label} {attempt}: {reason}" for reason in exc.reasons)
            outcome.rejections.extend(f"{label} {attempt}: {reason}" for reason in exc.reasons)
            log.info("request %s %s %d rejected: %s", outcome.request_id, label, attempt, exc)
            continue
        outcome.reasons.clear()
        return draft
    return None


def _email_draft(request: GenerationRequest, subject: str, body: str, prompt_hash: str,
                 completions: list[Completion], model: ModelInfo,
                 settings: Settings, campaign_version: int | None = None,
                 evidence_ids: Sequence[str] = (), sender: Sender | None = None) -> EmailDraft:
    """An EmailDraft record (schemas/avro/email_draft.avsc).

    Token counts, latency and cost add up every attempt: a retried draft really cost both.
    ``campaign_version`` is the version whose facts the prompt quoted (default: the one the
    request was routed with) and ``evidence_ids`` the facts retrieval chose, so KPIs can be cut
    by campaign version and by proof point. ``sender`` (the campaign's) is the mailbox the mail
    leaves from: the From name the body is signed with, its address, Reply-To, postal address.
    """
    lead = request["lead"]
    created = now_ms()
    to_name = " ".join(part for part in (lead.get("first_name"), lead.get("last_name")) if part)
    return {
        "draft_id": make_draft_id(request["request_id"], model.model_id, model.identity),
        "request_id": request["request_id"], "lead_id": lead["lead_id"],
        "campaign": lead["campaign"], "to_email": lead["email"], "to_name": to_name,
        "company": lead["company"], "subject": subject, "body": body,
        "tier": request["tier"], "variant": request["variant"],
        "model_id": model.model_id, "model_sha256": model.sha256, "model_version": model.version,
        "prompt_hash": prompt_hash,
        "prompt_tokens": sum(c.prompt_tokens for c in completions),
        "completion_tokens": sum(c.completion_tokens for c in completions),
        "attempts": len(completions),
        "latency_ms": sum(c.seconds for c in completions) * 1000.0,
        "lead_to_draft_ms": float(max(0, created - int(request["received_at"]))),
        "estimated_cost_usd": estimated_cost_usd(completions, settings.worker.usd_per_vcpu_hour),
        "created_at": created,
        "campaign_version": int(request.get("campaign_version") or 0
                                if campaign_version is None else campaign_version),
        "evidence_ids": list(evidence_ids),
        "from_name": sender.name if sender else "",
        "from_email": sender.email if sender else "",
        "reply_to": (sender.reply_to or sender.email) if sender else "",
        "postal_address": sender.postal_address if sender else "",
        **draft_fields(request),
    }

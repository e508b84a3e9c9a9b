"""One GenerationRequest -> one checked EmailDraft written by the LLM tier, or the reasons not.

The same contract as generation/generate.py: the lead and campaign are quoted data (the user
message; instructions only in the system message), the same parser and post-checks decide,
attempts use deterministic seeds, and the draft_id is derived from (request_id, the endpoint's
identity), so a redelivered request lands on the same draft_id and senders drop the duplicate.
The endpoint's identity is its URL, model and sampling settings: changing any of them is a new
"model" with new draft ids, as a new GGUF is for the miniature.

Cost is the endpoint's token usage x the configured prices (not CPU time): what a provider
bills. ``llm.api = completions`` serves a base model with the miniature's few-shot prompt
(the demo's local stand-in for a hosted LLM).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from outreach.ids import prompt_hash
from outreach.settings import Settings
from schemas.campaign import Campaign
from schemas.records import GenerationRequest
from generation.untrusted import domains_in
from generation.engine import Completion
from generation.draft import Draft
from generation.generate import Outcome, _email_draft, checked_draft, run_attempts
from generation.llm_client import ChatClient, ChatResult
from generation.model import ModelInfo
from generation.prompt import STOP_SEQUENCES, build_prompt, chat_messages

log = logging.getLogger(__name__)


def endpoint_model(settings: Settings) -> ModelInfo:
    """The LLM endpoint as the ModelInfo drafts record (model_id "llm:<model>")."""
    cfg = settings.llm
    identity = "\x1f".join(str(v) for v in (cfg.base_url, cfg.model, cfg.api, cfg.temperature,
                                            cfg.max_tokens))
    return ModelInfo(path=Path(cfg.base_url or "-"), model_id=f"llm:{cfg.model}",
                     sha256=hashlib.sha256(identity.encode()).hexdigest(),
                     version=cfg.label or cfg.model)


def few_shot_settings(settings: Settings) -> Settings:
    """The completions API serves a base model: it continues the few-shot prompt, whatever
    style the miniature's own (fine-tuned) model is served with."""
    if settings.model.prompt_style == "few_shot":
        return settings
    return settings.model_copy(update={"model": settings.model.model_copy(
        update={"prompt_style": "few_shot"})})


def _completion(result: ChatResult) -> Completion:
    # cpu_seconds 0: the tokens are billed by price, not by this host's CPU.
    return Completion(text=result.text, prompt_tokens=result.prompt_tokens,
                      completion_tokens=result.completion_tokens, seconds=result.seconds,
                      cpu_seconds=0.0, finish_reason=result.finish_reason)


def llm_draft_for_request(request: GenerationRequest, client: ChatClient, settings: Settings,
                          campaign: Campaign) -> tuple[Outcome, float]:
    """(outcome, USD the calls cost). LLMUnavailable propagates (the worker holds the
    request); a draft failing its checks is retried with the next seed, then reported."""
    lead = request["lead"]
    model = endpoint_model(settings)
    if settings.llm.api == "completions":
        settings = few_shot_settings(settings)
    prompt = build_prompt(lead, campaign, None, settings)  # evidence retrieval, few-shot text
    if settings.llm.api == "chat":
        from generation.retrieval import evidence_for

        system, user = chat_messages(lead, campaign, evidence_for(campaign, lead), settings)
        hashed, prefill = prompt_hash(system + "\x1f" + user), ""
    else:
        hashed, prefill = prompt.prompt_hash, prompt.prefill
    outcome = Outcome(request_id=request["request_id"], lead_id=lead["lead_id"], model=model,
                      campaign_version=campaign.version, evidence_ids=prompt.evidence_ids)
    campaign_domains = domains_in(campaign.model_dump_json())  # the campaign's own may recur
    costs: list[float] = []

    def write(_attempt: int, seed: int) -> Completion:
        result = (client.chat(system, user, seed) if settings.llm.api == "chat"
                  else client.complete(prompt.text, seed, STOP_SEQUENCES))
        costs.append(result.cost_usd(settings.llm))
        return _completion(result)

    def check(completion: Completion) -> Draft:
        return checked_draft(prefill, completion.text, request, settings, campaign,
                             campaign_domains, complete=completion.finish_reason != "length")

    draft = run_attempts(outcome, settings.llm.max_attempts, write, check, label="llm attempt")
    if draft is not None:
        outcome.draft = _email_draft(request, draft.subject, draft.body, hashed,
                                     outcome.completions, model, settings,
                                     campaign_version=campaign.version,
                                     evidence_ids=prompt.evidence_ids, sender=campaign.sender)
        outcome.draft["estimated_cost_usd"] = sum(costs)
    return outcome, sum(costs)

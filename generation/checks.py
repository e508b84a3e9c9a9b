"""The one checks entry point: every reason a draft must not be sent.

The worker (miniature and LLM rungs), the release gate, the evaluation, the training-data filter
and the review re-score all call ``check_draft``, so a draft that one of them rejects, every
one of them rejects. It runs:
- the format and campaign checks (generation.draft.check: limits, names, placeholders, URLs,
  invented contact details, leaked prompt text, copying, repetition, one sign-off);
- the reader's defects (generation.style_checks: glued greeting, article slips, a capital after
  a lead-in label, the product's casing, two calls to action or none, the product named as
  a customer);
- figures the lead and the campaign never gave, and a fact retold with other numbers
  (generation.figures);
- the recipient's situation stated without the lead's pain, the lead's company renamed, cut
  short or replaced in the subject, another role in the role opener (generation.lead_claims);
- a sequence's closing line in a first email, a benefit alone as a sentence or said twice, a
  bridge line with nothing before it (generation.sentence_checks);
- claims of earlier contact the CRM notes do not record (generation.contact_claims), but for
  a follow-up (step 2+) its own thread's earlier email ("my note last week");
- a follow-up's sentences the previous email already said (generation.followup);
- withheld lead text and links however written (generation.untrusted), against the campaign's
  own allowed URLs and domains as well as the global allow list (checks.allowed_urls);
- a draft cut off at max_tokens (``Draft.complete`` False) is incomplete.

``parse_draft`` turns generated text into the framed draft (generation.frame: code writes the
greeting and the sign-off; generation.repair fixes the slips with one right answer, such as
"a HR" or a name's casing, before any check sees them); ``parse_and_check`` is both steps, raising DraftRejected.
"""

from __future__ import annotations

from collections.abc import Mapping
import logging
from functools import lru_cache
from typing import Any

from outreach.errors import DraftRejected
from outreach.settings import ChecksSettings
from schemas.campaign import Campaign
from generation import contact_claims, figures, followup, frame, lead_claims, \
    sentence_checks, style_checks
from generation.draft import Draft, check, parse
from generation.repair import repair
from generation.prompt import NAME_MAX_CHARS, clean_field
from generation.untrusted import domains_in, untrusted_reasons

log = logging.getLogger(__name__)
CUT_OFF = "cut off at max_tokens (incomplete: no sign-off and no final sentence)"


@lru_cache(maxsize=64)
def campaign_domains(campaign: Campaign) -> tuple[str, ...]:
    """The hosts the campaign itself names (allowed URLs, a case study's "Booking.com", the
    sender's mailbox): a draft may repeat them. Cached per campaign version (frozen model)."""
    return tuple(domains_in(campaign.model_dump_json()))


def _request(request_or_lead: Mapping[str, Any]) -> Mapping[str, Any]:
    """A GenerationRequest as is; a bare lead (evaluation rows, teacher data) as a request with
    nothing withheld."""
    if isinstance(request_or_lead.get("lead"), Mapping):
        return request_or_lead
    return {"lead": request_or_lead, "withheld": {}}


def check_draft(draft: Draft, request_or_lead: Mapping[str, Any], checks: ChecksSettings,
                campaign: Campaign) -> list[str]:
    """Every reason ``draft`` must not be sent; an empty list means it passes."""
    request = _request(request_or_lead)
    lead = dict(request["lead"])
    reasons = [] if draft.complete else [CUT_OFF]
    reasons += check(draft, lead, checks, campaign)
    text = f"{draft.subject}\n{draft.body}"
    first_name = clean_field(lead.get("first_name") or "", NAME_MAX_CHARS)
    reasons += style_checks.glued_greeting(draft.body, first_name)
    reasons += style_checks.article_slips(text)
    reasons += style_checks.label_capitals(draft.body)
    company = clean_field(lead.get("company") or "", NAME_MAX_CHARS)
    reasons += style_checks.name_casing(text, campaign, company)
    reasons += style_checks.calls_to_action(draft.body, campaign)
    reasons += style_checks.missing_call_to_action(draft.body)
    reasons += style_checks.product_as_customer(draft.body, campaign)
    reasons += style_checks.near_miss_names(text, campaign)
    reasons += style_checks.customer_as_product(draft.body, campaign)
    reasons += style_checks.doubled_punctuation(draft.body)
    reasons += style_checks.glued_scripts(text, tuple(
        str(value) for value in lead.values() if isinstance(value, str)))
    reasons += style_checks.peer_claims(draft.body, campaign, str(lead.get("industry") or ""))
    reasons += figures.invented_figures(text, lead, campaign)
    reasons += figures.altered_facts(text, campaign)
    reasons += lead_claims.unsupported_situation(draft.body, lead, campaign)
    reasons += lead_claims.company_renamed(text, lead, campaign)
    reasons += lead_claims.company_cut_short(text, lead)
    reasons += lead_claims.subject_names_another(draft.subject, lead, campaign)
    reasons += sentence_checks.first_email_closers(draft.body, request)
    reasons += sentence_checks.bare_benefits(draft.body, campaign)
    reasons += sentence_checks.repeated_benefits(draft.body, campaign)
    reasons += sentence_checks.dangling_bridge(draft.body)
    reasons += lead_claims.role_rewritten(text, lead)
    reasons += lead_claims.company_slot_reasons(draft.body, lead)
    reasons += [f"claims earlier contact the CRM does not record: {claim!r}"
                for claim in contact_claims.unsupported_claims(draft.body, lead)
                if not followup.thread_makes_true(claim, request)]  # steps 2+: "my last note"
    reasons += followup.followup_reasons(draft.body, request)  # steps 2+: nothing said again
    allowed = [*campaign.allowed_urls, *checks.allowed_urls]
    untrusted = untrusted_reasons(draft.subject, draft.body, request, allowed,
                                  campaign_domains(campaign))
    # draft.check names a disallowed URL already; the untrusted check adds what it alone sees
    # (bare domains, addresses, obfuscated links, withheld text).
    seen = " ".join(reasons)
    reasons += [r for r in untrusted if not _same_url(r, seen)]
    return reasons


def _same_url(reason: str, seen: str) -> bool:
    return reason.startswith("link not allowed: ") and reason.split(": ", 1)[1] in seen


def parse_draft(prefill: str, completion: str, lead: Mapping[str, Any], campaign: Campaign,
                complete: bool = True, step: int = 1) -> Draft:
    """The framed draft of ``prefill + completion``: the model's subject, the code's greeting,
    the model's body, the code's one sign-off. ``complete`` False (finish reason "length"):
    the text counts as complete only if the model signed off. DraftRejected if no subject."""
    raw = parse(prefill, completion)
    body, signed = frame.middle(raw.body, campaign)
    ended = signed or (complete and body.rstrip().endswith((".", "!", "?")))
    fixed = repair(raw.subject, body, lead, campaign, step)  # mechanical slips: generation.repair
    if fixed.fixes:
        log.debug("repaired %d slips: %s", len(fixed.fixes), "; ".join(fixed.fixes))
    return Draft(subject=fixed.subject, body=frame.framed(fixed.body, dict(lead), campaign),
                 complete=ended, repairs=fixed.fixes)


def parse_and_check(prefill: str, completion: str, request_or_lead: Mapping[str, Any],
                    checks: ChecksSettings, campaign: Campaign, complete: bool = True) -> Draft:
    """The framed, checked draft, or DraftRejected listing every failed check."""
    request = _request(request_or_lead)
    draft = parse_draft(prefill, completion, request["lead"], campaign, complete,
                        step=int(request.get("step") or 1))
    reasons = check_draft(draft, request, checks, campaign)
    if reasons:
        raise DraftRejected(reasons)
    return draft

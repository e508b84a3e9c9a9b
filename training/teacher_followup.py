"""The offline teacher's follow-ups: steps 2 and 3 of a sequence, for the next retrain.

The served miniature was trained on first emails only; given a follow-up prompt (the step, its
brief and the previous email's opening, generation/followup.py) it writes another first email,
often with the same sentences (docs/results/2026-12-07-followup-eval.md). These examples teach
the follow-up the way a rep writes it (training/teacher_style.md), on the exact prompt the
worker serves (``followup_rows``: the trained prompt with the follow-up line before its cue):

- step 2, a short bump: one line that refers to our own earlier email and nothing else ("In
  case my last email got buried"), one proof point the previous email did not use, the
  campaign's call to action;
- step 3, the last note: says it is the last, the value once more in other words, an offer
  to close the file, the call to action.

Honest and new by construction: no contact beyond the thread's own email (no call, meeting or
reply that did not happen), no sentence of the previous email again (the call to action's
question excepted, as in the checks). The lead's first email is teacher_offline's; ids and the
RNG are seeded per (seed, campaign, lead, step), like the first email's.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from generation import frame
from generation.followup import REPLY_PREFIX, with_followup_line
from generation.prompt import TRAINED_CUE
from generation.retrieval import evidence_for
from schemas.campaign import Campaign, Fact, Step
from training import proof
from training import teacher_offline as first_email
from training.dataset import row as dataset_row
from training.prompt import DEFAULT_FIELD_MAX_CHARS, trained_prompt
from training.records import example_id

TEACHER_NAME = "offline-followup-v1"
# The steps a training campaign gets when the dataset asks for follow-ups (the sequence demo's
# briefs, apps/sequence_demo.py, which `outreach followup-eval` measures with).
TEACHING_STEPS = (Step(delay_business_days=0, brief=""),
                  Step(delay_business_days=2, brief="a short bump that adds one proof point"),
                  Step(delay_business_days=3,
                       brief="a last, two-line note; offer to close the file"))
# Our own earlier email is the only contact a follow-up may mention (generation.followup).
BUMP_OPENERS = ("In case my last email got buried, one more example.",
                "A short note in case my last email slipped past.",
                "One more thought since my last email.",
                "I know inboxes fill up fast, so here is one more example.")
LAST_OPENERS = ("This is my last note on this.",
                "I will keep this one short, as it is my last note.",
                "One last note from me on this.")
LAST_VALUE = ("The short version: {value}",
              "In one line: {value}",
              "To sum it up, {product} is there to help your team {benefit}.")
HELP_LINES = ("{product} is built to help teams like yours {benefit}.",
              "{product} is built to help companies like yours {benefit}.")
CLOSE_LINES = ("If the timing is wrong, no reply is needed and I will close the file.",
               "If this is not a priority for {company} right now, I will close the file.",
               "If it is not the right time, just let me know and I will close the file.")


def _new_fact(campaign: Campaign, evidence: Sequence[Fact], previous_body: str) -> Fact | None:
    """A fact the previous email did not state: the lead's evidence first (the prompt shows
    it), then the campaign's other facts; None when the previous email used them all."""
    seen = " ".join(previous_body.lower().split())
    for fact in [*evidence, *campaign.facts]:
        # A stated fact keeps its last words whatever its lead-in ("In practice, ...", "One
        # of our customers, X, ..."): teacher_offline's own test reads it so.
        if " ".join(fact.text.lower().rstrip(".").split()[-4:]) not in seen:
            return fact
    return None


def _extras(lead: dict[str, Any], campaign: Campaign, evidence: Sequence[Fact],
            previous_body: str, rng: random.Random) -> list[str]:
    """Sentences a short follow-up may add, none of them the previous email's: another fact,
    then what the product helps with, then the value proposition."""
    said = " ".join(previous_body.lower().split())
    facts = {f.id: f for f in [*evidence, *campaign.facts]
             if " ".join(f.text.lower().rstrip(".").split()[-4:]) not in said}
    lines = [proof.render(f, campaign, lead, rng, False)
             for f in list(facts.values())[1:2]]  # the first is the bump's own
    lines += [template.format(product=campaign.product, benefit=benefit)
              for benefit in campaign.benefits for template in HELP_LINES]
    lines.append(campaign.value_proposition)
    return [line for line in lines if line.lower().rstrip(".") not in said]


def _pad(paragraphs: list[list[str]], extras: list[str], min_words: int) -> None:
    """Sentences from ``extras`` added to the first paragraph until the body has
    ``min_words`` (a campaign's limit: 25 by default, the example campaigns' 40)."""
    for line in extras:
        if sum(len(" ".join(p).split()) for p in paragraphs) >= min_words:
            return
        if line not in paragraphs[0]:
            paragraphs[0].append(line)


def write_followup(lead: dict[str, Any], campaign: Campaign, evidence: Sequence[Fact],
                   previous_subject: str, previous_body: str, step: int, last: bool,
                   rng: random.Random) -> tuple[str, str]:
    """(subject, body) of step ``step`` after ``previous_body``; ``last``: the final step."""
    slots = first_email.slots_for(lead, campaign)
    benefit = rng.choice(campaign.benefits) if campaign.benefits else ""
    cta = rng.choice(campaign.calls_to_action)
    if last:
        value = rng.choice(LAST_VALUE if benefit else LAST_VALUE[:2]).format(
            **{**slots, "benefit": benefit, "value": campaign.value_proposition.rstrip(".")})
        paragraphs = [[rng.choice(LAST_OPENERS), value.rstrip(".") + "."],
                      [rng.choice(CLOSE_LINES).format(**slots), cta]]
    else:
        fact = _new_fact(campaign, evidence, previous_body)
        proof_line = (proof.render(fact, campaign, lead, rng, False) if fact is not None
                      else campaign.value_proposition)
        paragraphs = [[rng.choice(BUMP_OPENERS), proof_line], [cta]]
    _pad(paragraphs, _extras(lead, campaign, evidence, previous_body, rng),
         campaign.body_min_words + 2)  # + the greeting's and the sign-off's words
    text = "\n\n".join(" ".join(p) for p in paragraphs)
    # The thread's subject, as the first email had it: the worker sends "Re: " + it
    # (generation.followup.thread_subject), code's like the greeting, so the checks' subject
    # limit holds for what the model writes.
    return previous_subject.removeprefix(REPLY_PREFIX), frame.framed(text, lead, campaign)


def rng_for(seed: int, lead_id: Any, campaign: Campaign, step: int) -> random.Random:
    return first_email.rng_for(seed, lead_id, campaign, 1000 + step)


def followup_rows(leads: list[dict[str, Any]], campaign: Campaign, seed: int = 0,
                  field_max_chars: int = DEFAULT_FIELD_MAX_CHARS) -> list[dict[str, Any]]:
    """Dataset rows (training.dataset.row, plus ``step``) for steps 2..n of ``campaign``'s
    sequence (one row per lead and step; none for a one-step campaign). Each prompt is the
    worker's follow-up prompt after the previous step's teacher email."""
    steps = campaign.sequence
    rows = []
    for lead in leads:
        evidence = evidence_for(campaign, lead)
        subject, body = first_email.write(lead, campaign, evidence,
                                          first_email.rng_for(seed, lead.get("lead_id"),
                                                              campaign, 0))
        for step in range(2, len(steps) + 1):
            request = {"lead": lead, "step": step, "previous_subject": subject,
                       "previous_body": body}
            prompt = with_followup_line(trained_prompt(lead, campaign, evidence, field_max_chars),
                                        request, campaign, TRAINED_CUE)  # type: ignore[arg-type]
            subject, body = write_followup(lead, campaign, evidence, subject, body, step,
                                           step == len(steps),
                                           rng_for(seed, lead.get("lead_id"), campaign, step))
            item = dataset_row(example_id(str(lead.get("lead_id")), campaign.campaign_id,
                                          TEACHER_NAME, step),
                               lead, subject, body, "synthetic", TEACHER_NAME, None,
                               field_max_chars, campaign)
            rows.append({**item, "prompt": prompt, "step": step,
                         "evidence_ids": [fact.id for fact in evidence],
                         "previous_subject": request["previous_subject"],
                         "previous_body": request["previous_body"]})
    return rows

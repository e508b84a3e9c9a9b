"""The engagement SIMULATOR's audience model: how simulated recipients react to a draft.

Nobody real is involved. Reaction probabilities depend on qualities one can measure on the
email and the lead, so a better-written variant earns more positive replies in simulation and
the A/B machinery has something true to find:
    personalization  first name, company, role/industry and pain point mentioned (0..1)
    length           50-125 words reads best (cold-email studies); penalised outside
    subject          <= 60 characters, not shouting
    call to action   a question or a concrete next step
    spamminess       "free", "guarantee", "!!!", "act now"... raise unsubscribes and complaints
    lead fit         CRM lead score 0-100; enterprise inboxes answer less
Every draw comes from a generator seeded by (seed, draft_id): the same draft always gets the
same reactions, whatever order drafts are read in (deterministic under a seed).
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass

from outreach.settings import SimulatorSettings
from schemas.records import EmailDraft, EngagementType, Lead

SPAM_RE = re.compile(r"\b(free|guarantee[d]?|act now|limited time|risk[- ]free|winner|"
                     r"click here|100%|urgent)\b|!{2,}|\$\$", re.IGNORECASE)
CTA_RE = re.compile(r"\?|\b(call|chat|demo|meeting|15 minutes|20 minutes|calendar|reply)\b",
                    re.IGNORECASE)
REPLY_TEMPLATES: dict[str, list[str]] = {
    "interested": ["Hi, thanks for reaching out - this is relevant for {company}. Could we "
                   "talk next week?", "{first} here. Yes, I'd like to see a demo. What times "
                   "work for you?", "Good timing. Send me a few slots for a call."],
    "not_now": ["Thanks, but we can't look at this until next quarter. Please follow up then.",
                "Not right now - budget is frozen. Try me again in a few months."],
    "not_interested": ["No thanks, {company} already has this covered.",
                       "Not interested, thank you."],
    "unsubscribe_request": ["Please remove me from your list.", "Unsubscribe."],
    "out_of_office": ["I am out of the office until next Monday with limited access to email."],
    "auto_reply": ["This is an automated response: your message has been received."],
}


@dataclass(frozen=True)
class Reaction:
    """One simulated engagement: what, after how long, and for replies the text and truth."""

    type: EngagementType
    delay_s: float
    reply_text: str | None = None
    true_label: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Qualities:
    personalization: float
    length: float
    subject: float
    cta: float
    spam: float
    fit: float

    @property
    def writing(self) -> float:
        """0..1: how well written the email is, regardless of the lead."""
        return (0.4 * self.personalization + 0.2 * self.length + 0.15 * self.subject
                + 0.25 * self.cta) * (1 - 0.5 * self.spam)


def measure(draft: EmailDraft, lead: Lead) -> Qualities:
    body, subject = draft.get("body") or "", draft.get("subject") or ""
    text = f"{subject}\n{body}".lower()
    mentions = [lead.get("first_name"), lead.get("company"), lead.get("role") or
                lead.get("industry"), (lead.get("pain_point") or "").split(" ")[-1] or None]
    present = [m for m in mentions if m]
    personal = sum(1 for m in present if str(m).lower() in text) / max(1, len(present))
    words = len(body.split())
    length = 1.0 if 50 <= words <= 125 else max(0.0, 1 - min(abs(words - 50), abs(words - 125))
                                                / 100)
    shouting = sum(c.isupper() for c in subject) > 0.5 * max(1, len(subject))
    subject_q = 1.0 if 0 < len(subject) <= 60 and not shouting else 0.4
    score = lead.get("lead_score")
    fit = (0.5 + (score if score is not None else 50) / 100) * (
        0.7 if lead.get("segment") == "enterprise" else 1.0)
    return Qualities(personalization=personal, length=length, subject=subject_q,
                     cta=1.0 if CTA_RE.search(body) else 0.0,
                     spam=min(1.0, len(SPAM_RE.findall(text)) / 3), fit=fit)


class AudienceModel:
    def __init__(self, cfg: SimulatorSettings, seed: int | None = None) -> None:
        self.cfg = cfg
        self.seed = cfg.seed if seed is None else seed

    def rng(self, draft_id: str) -> random.Random:
        digest = hashlib.sha256(f"{self.seed}\x1f{draft_id}".encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))

    def react(self, draft: EmailDraft, lead: Lead) -> list[Reaction]:
        """Everything one simulated recipient does with this draft, in time order."""
        cfg, rng, q = self.cfg, self.rng(draft["draft_id"]), measure(draft, lead)
        delay = lambda: rng.uniform(0.05, 1.0) * cfg.max_delay_s  # noqa: E731
        if rng.random() < cfg.bounce_rate:
            return [Reaction("BOUNCED", delay())]
        out = [Reaction("DELIVERED", delay())]
        # Subject quality moves opens 0.6x..1.4x around the configured base rate.
        if rng.random() >= min(1.0, cfg.open_rate * (0.6 + 0.8 * q.subject)):
            return _sorted(out)
        out.append(Reaction("OPENED", delay()))
        if rng.random() < cfg.click_rate * (0.5 + q.writing):
            out.append(Reaction("CLICKED", delay(), url="https://example.com/case-study"))
        # Writing 0 -> 0.25x, average (~0.5) -> 1x, 1 -> 1.75x the base reply rate.
        if rng.random() < min(1.0, cfg.reply_rate * (0.25 + 1.5 * q.writing) * q.fit):
            label = self._reply_label(rng, q)
            text = rng.choice(REPLY_TEMPLATES[label]).format(
                first=lead.get("first_name") or "Hi", company=lead.get("company") or "we")
            out.append(Reaction("REPLIED", delay(), reply_text=text, true_label=label))
            return _sorted(out)
        spam_factor = 1 + 3 * q.spam
        if rng.random() < cfg.complaint_rate * spam_factor:
            out.append(Reaction("COMPLAINED", delay()))
        elif rng.random() < cfg.unsubscribe_rate * (1.5 - q.writing) * spam_factor:
            out.append(Reaction("UNSUBSCRIBED", delay()))
        return _sorted(out)

    @staticmethod
    def _reply_label(rng: random.Random, q: Qualities) -> str:
        interested = 0.2 + 0.5 * q.writing  # better emails get warmer answers
        weights = {"interested": interested, "not_now": 0.2, "not_interested": 0.3 - 0.2 *
                   q.writing, "unsubscribe_request": 0.03 + 0.1 * q.spam, "out_of_office": 0.08,
                   "auto_reply": 0.05}
        return rng.choices(list(weights), weights=list(weights.values()), k=1)[0]


def _sorted(reactions: list[Reaction]) -> list[Reaction]:
    # Opens come after delivery, replies after opens: cumulative delays keep causality.
    total, out = 0.0, []
    for r in reactions:
        total += r.delay_s
        out.append(Reaction(r.type, total, r.reply_text, r.true_label, r.url))
    return out

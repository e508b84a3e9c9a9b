"""An evaluation rubric that needs no LLM: every score is a rule a reviewer can read.

Components (each 0..1; ``overall`` is their mean):
- personalization: first name, company and the lead's stated pain point are used (1/3 each;
  the pain point counts when at least half of its content words appear). The pain point is
  expected only when the campaign addresses it (generation.relevance.pain_fits, the rule the
  prompt applies); a pain used where the campaign does not address it
  is flagged ("a cold-chain sensor as the answer to hiring engineers").
- grounding: names (capitalised words), numbers and stock claims that appear in neither the lead
  nor the request's OWN campaign are flagged; score = 1 / (1 + flags), so one invention already
  costs half. With ``others`` (the other campaigns), a product, customer, number or fact sentence
  that belongs to another campaign is flagged as such ("from another campaign: ..."): the
  hallucination a multi-campaign miniature is most prone to.
- structure: subject length, body word count, greeting, exactly one call to action, sign-off
  (1/5 each).
- spam: spam-trigger words and shouting; score = 1 - 0.25 per hit.
- similarity: cosine similarity to the teacher's reference email (training.embed), when given.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from schemas.campaign import Campaign
from generation.prompt import NAME_MAX_CHARS, clean_field
from generation import relevance

_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")
_CAPITALISED = re.compile(r"(?<![\w'])([A-Z][a-zA-Z\-]*)(?:'s)?")
_NUMBER = re.compile(r"\$?\d[\d,.]*%?")
_SENTENCE_START = re.compile(r"(?:^|[.!?:]\s+|\n\s*)$")
_GREETING = re.compile(r"^(?:Hi|Hello|Dear|Hey)\s+([^\n,]+),?\s*$")
# The closing, the sender's name and, where the campaign signs with it (generation.frame), a
# "title, company" line.
_SIGN_OFF = re.compile(r"\n\s*(?:Best(?: regards| wishes)?|Kind regards|Regards|Thanks|Thank you|"
                       r"Cheers|Sincerely|Warm regards|All the best),?\s*\n\s*\S[^\n]{0,60}"
                       r"(?:\n[^\n]{1,160})?\s*$", re.IGNORECASE)
# An ask without a question mark: "let me know", "book a call". "Book a desk" (a product's
# benefit) is not an ask for the recipient's time.
_CTA_PHRASES = re.compile(r"\b(?:let me know|(?:book|schedule|set up|grab|hop on) a (?:quick |"
                          r"short )?(?:call|meeting|demo|time|slot|chat)\b)", re.IGNORECASE)
# Words that may start a sentence or be capitalised without being a name: pronouns, articles,
# openers, days and months (a proposed "Thursday" is an offer, not a fact about the lead).
COMMON = frozenset("""
i i'm i'd i'll i've we we're we've our ours us you you're your yours it it's its this that these
those they their there here the a an and but or so if as at by for from in into of on to with
without about after before during while when what which who why how would could can do does did
is are was were be been being have has had will shall should may might must just also most many
much more some any each every all no not one two three just hi hello dear hey best thanks thank
regards cheers sincerely warm kind subject re fwd ps quick idea looking happy glad great good
hope let please imagine curious since because however plus then now today tomorrow next last
monday tuesday wednesday thursday friday saturday sunday january february march april may june
july august september october november december am pm email emails team teams sales call
""".split())
SPAM_WORDS = ("free", "guarantee", "guaranteed", "act now", "limited time", "urgent", "winner",
              "click here", "buy now", "risk-free", "risk free", "no obligation", "cash", "earn",
              "100%", "once in a lifetime", "exclusive deal", "special promotion", "order now",
              "congratulations", "$$$", "miracle", "double your", "cheap")
CLAIMS = ("guarantee", "proven", "#1", "award-winning", "industry-leading", "world-class",
          "clients like", "customers like", "trusted by", "leading provider")
_STOP = COMMON | frozenset("team teams too much per".split())


@dataclass
class RubricScore:
    personalization: float
    grounding: float
    structure: float
    spam: float
    similarity: float | None = None
    flags: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)  # facts of another campaign in the email

    @property
    def overall(self) -> float:
        parts = [self.personalization, self.grounding, self.structure, self.spam]
        if self.similarity is not None:
            parts.append(self.similarity)
        return sum(parts) / len(parts)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "overall": round(self.overall, 4)}


def lead_text(lead: dict[str, Any]) -> str:
    return "\n".join(str(v) for v in lead.values() if v is not None)


_LETTER_RUN = re.compile(r"[^\W\d_]+")


def _words(text: str) -> set[str]:
    # Plus every run of letters in any script, so the parts of "Wołos-Gwizdek" and "O'Hanlon"
    # that the ASCII pattern splits off still count as the lead's own words.
    # And the hyphen-parts of each ASCII run: "Nagórka-Boguś" gives the run "rka-Bogu", whose
    # part "bogu" is what _CAPITALISED finds in the email.
    ascii_words = {w.lower().removesuffix("'s") for w in _WORD.findall(text)}
    return (ascii_words | {part for w in ascii_words for part in w.split("-") if part}
            | {w.lower() for w in _LETTER_RUN.findall(text)})


def _numbers(text: str) -> set[str]:
    # "1,200" in an email and 1200 in the lead are the same number.
    return {n.strip("$.,%").replace(",", "") for n in _NUMBER.findall(text)}


def grounding_flags(text: str, lead: dict[str, Any], campaign: Campaign) -> list[str]:
    """Names, numbers and stock claims in ``text`` found in neither the lead nor the campaign."""
    source = lead_text(lead) + "\n" + campaign.source_text()
    source_words, source_numbers = _words(source), _numbers(source)
    lowered_text = text.lower()
    flags: list[str] = []
    invented: list[str] = []
    for match in _CAPITALISED.finditer(text):
        word = match.group(1)
        low = word.lower()
        at_start = bool(_SENTENCE_START.search(text[:match.start()]))
        ok = low in source_words or (low in COMMON) or (
            at_start and re.search(rf"(?<![\w'-]){re.escape(low)}(?![\w'-])",
                                   lowered_text[match.end():]) is not None)
        # A sentence-initial -ing/-ed/-ly word ("Saving", "Curious") is grammar, not a name.
        if at_start and (len(word) <= 2 or low.endswith(("ing", "ed", "ly"))):
            ok = True
        if not ok:
            invented.append(word)
    for word in dict.fromkeys(invented):
        flags.append(f"name not in lead or campaign: {word}")
    for number in dict.fromkeys(_numbers(text)):
        if number and number not in source_numbers:
            flags.append(f"number not in lead or campaign: {number}")
    source_low = source.lower()
    for claim in CLAIMS:
        if claim in lowered_text and claim not in source_low:
            flags.append(f"unsupported claim: {claim!r}")
    return flags


def pain_expected(lead: dict[str, Any], campaign: Campaign | None) -> bool:
    """Whether an email should use the lead's pain point: the campaign addresses it (without a
    campaign, as before: whenever the lead has one)."""
    pain = str(lead.get("pain_point") or "")
    if not pain.strip() or campaign is None:
        return bool(pain.strip())
    return relevance.pain_fits(campaign, pain)


def personalization(text: str, lead: dict[str, Any],
                    campaign: Campaign | None = None) -> tuple[float, list[str]]:
    """Share of what the lead offers (name, company, pain point) that the email uses; a lead
    without a pain point, or with one the campaign does not address, is scored on the other
    two. Names are compared as the prompt shows them (NFC, capped like generation.prompt), in
    any script."""
    low = unicodedata.normalize("NFC", text).lower()
    flags, hits, expected = [], 0, 0
    for name in ("first_name", "company"):
        value = clean_field(lead.get(name) or "", NAME_MAX_CHARS).lower()
        expected += bool(value)
        if value and value in low:
            hits += 1
        elif value:
            flags.append(f"{name} not used")
    pain_words = [w for w in _words(str(lead.get("pain_point") or "")) if w not in _STOP
                  and len(w) > 3]
    used = bool(pain_words) and sum(w in _words(text) for w in pain_words) * 2 >= len(pain_words)
    if pain_expected(lead, campaign):
        expected += bool(pain_words)
        hits += used
        if pain_words and not used:
            flags.append("pain point not addressed")
    elif campaign is not None and pain_used(text, lead):
        flags.append("pain point used but the campaign does not address it")
    return hits / max(1, expected), flags


def pain_used(text: str, lead: dict[str, Any]) -> bool:
    """Whether ``text`` states the lead's pain point (its words in order, any case)."""
    pain = clean_field(lead.get("pain_point") or "", 200).rstrip(".").lower()
    return bool(pain) and pain in " ".join(text.lower().split())


def structure(subject: str, body: str, campaign: Campaign) -> tuple[float, list[str]]:
    flags = []
    if not subject or len(subject) > campaign.subject_max_chars:
        flags.append(f"subject length {len(subject)} outside 1-{campaign.subject_max_chars}")
    words = len(body.split())
    low, high = campaign.body_min_words, campaign.body_max_words
    if not low <= words <= high:
        flags.append(f"body has {words} words, outside {low}-{high}")
    first_line = body.strip().split("\n", 1)[0].strip()
    if not _GREETING.match(first_line):
        flags.append("no greeting line")
    questions = len(re.findall(r"\?(?=\s|$)", body))
    ctas = questions + len(_CTA_PHRASES.findall(body))
    if ctas != 1:
        flags.append(f"{ctas} calls to action (want exactly 1)")
    if not _SIGN_OFF.search("\n" + body.strip()):
        flags.append("no sign-off")
    return 1 - len(flags) / 5, flags


def spam(text: str, source: str = "") -> tuple[float, list[str]]:
    """Spam words and shouting; words the lead or campaign wrote themselves ("free cash tied up
    in stock", a company called "TNHH", a "CISO") are theirs, not spam."""
    low, source_low = text.lower(), source.lower()
    hits = [w for w in SPAM_WORDS if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", low)
            and not re.search(rf"(?<!\w){re.escape(w)}(?!\w)", source_low)]
    shouting = [w for w in re.findall(r"\b[A-Z]{4,}\b", text) if w not in source]
    if shouting:
        hits.append("shouting: " + " ".join(shouting[:3]))
    if "!!" in text:
        hits.append("!!")
    return max(0.0, 1 - 0.25 * len(hits)), [f"spam: {h}" for h in hits]


_FACT_NGRAM = 6  # a 6-word run shared with another campaign's fact is that fact, not chance
_NGRAM_WORD = re.compile(r"\w+")


def _ngrams(text: str, n: int = _FACT_NGRAM) -> set[tuple[str, ...]]:
    words = _NGRAM_WORD.findall(text.lower())
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def foreign_facts(text: str, lead: dict[str, Any], campaign: Campaign,
                  others: Sequence[Campaign]) -> list[str]:
    """What ``text`` says that belongs to another campaign and not to this lead or campaign:
    its product, a case-study customer, a fact sentence (6-word run) or a number of its facts."""
    own = lead_text(lead) + "\n" + campaign.source_text()
    own_low, own_numbers, own_grams = own.lower(), _numbers(own), _ngrams(own)
    low, numbers, grams = text.lower(), _numbers(text), _ngrams(text)
    flags: list[str] = []
    for other in others:
        if other.campaign_id == campaign.campaign_id:
            continue
        names = [other.product] + [f.customer for f in other.facts if f.customer]
        for name in names:
            if name.lower() not in own_low and re.search(
                    rf"(?<!\w){re.escape(name.lower())}(?!\w)", low):
                flags.append(f"from another campaign ({other.campaign_id}): {name}")
        other_text = "\n".join(f.text for f in other.facts)
        shared = (grams & _ngrams(other_text)) - own_grams
        if shared:
            flags.append(f"from another campaign ({other.campaign_id}): "
                         f"{' '.join(min(shared))!r}")
        for number in sorted((numbers & _numbers(other_text)) - own_numbers):
            # Only distinctive figures ("1,400", "250"): 56 campaigns share most 1-2 digit
            # numbers by chance; an invented "18" is still flagged by grounding_flags.
            if len(number) >= 3:
                flags.append(f"from another campaign ({other.campaign_id}): number {number}")
    return list(dict.fromkeys(flags))


def score(subject: str, body: str, lead: dict[str, Any], campaign: Campaign,
          similarity: float | None = None, others: Sequence[Campaign] = ()) -> RubricScore:
    """All components for one email; grounding is judged against the request's own
    ``campaign`` (and ``others``, when given, name the campaign a foreign fact came from)."""
    text = f"{subject}\n{body}"
    pers, pers_flags = personalization(text, lead, campaign)
    ground_flags = grounding_flags(text, lead, campaign)
    foreign = foreign_facts(text, lead, campaign, others) if others else []
    struct, struct_flags = structure(subject, body, campaign)
    spam_score, spam_flags = spam(text, lead_text(lead) + "\n" + campaign.source_text())
    return RubricScore(personalization=pers,
                       grounding=1 / (1 + len(ground_flags) + len(foreign)),
                       structure=struct, spam=spam_score, similarity=similarity,
                       flags=pers_flags + ground_flags + foreign + struct_flags + spam_flags,
                       foreign=foreign)

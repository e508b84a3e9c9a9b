"""Claims of earlier contact with the recipient: a rule set, not a phrase list.

A cold email may not say "Thanks for visiting our site.", "You asked, so I will keep this
short." or "following up on my last email" unless the CRM notes record that contact: the
recipient knows it is false (7 of 40 held-out drafts of the 40-step campaign miniature claimed
one with no note, 0 of 124 teacher emails, 2026-12-01). The rules are patterns over
- a verb of contact, meeting, visit or request ("asked", "met", "spoke", "visited",
  "downloaded", "reached out", "follow up", "discussed"),
- who did it: the recipient ("you", "your") or sender and recipient together ("we", "our"),
- and when: past tense, "again", "last"/"previous", "as promised", "following up".
Third person ("Teams that follow up within a day..."), conditionals ("If you asked your
reps..."), questions about the recipient's own work ("Have you visited a customer...") and the
future ("Could we meet next week?") are not claims. Precision and recall on 200+ labelled
sentences (tests/generation/data/contact_claims.tsv) are printed by
tests/generation/test_contact_claims.py.

Each rule names the kind of contact it claims, so a CRM note can make exactly that kind true
(training/teacher_offline.py NOTE_LINES writes such sentences only from such a note).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_I = re.IGNORECASE
# Contact nouns: what "our <noun>", "my last <noun>" or "your <noun>" refer to.
_CONTACT_NOUN = (r"(?:e-?mails?|notes?|messages?|calls?|conversations?|chats?|meetings?|"
                 r"discussions?|demos?|exchanges?|talks?|intro(?:duction)?s?|letters?|"
                 r"voicemails?|inquir(?:y|ies)|enquir(?:y|ies)|requests?|questions?|visits?|"
                 r"replies|reply|responses?|downloads?|sign-?ups?|registrations?)")
# A conditional or hypothetical in front of "you <verb>" ("If you asked...") is no claim.
_NOT_CLAIM_BEFORE_YOU = re.compile(
    r"\b(?:if|when|whenever|whether|once|unless|before|after|until|have|has|had|did|do|does|"
    r"could|would|should|might|may|can|will|ever|never|that|who|where)\s+(?:\w+\s+)?$", _I)

# Who makes a second contact: the sender ("I'm", "we wanted to") or nobody (a sentence that
# starts with "Following up"); "Teams that follow up..." and "your reps could reach out again"
# name someone else.
_FIRST = (r"(?:^\s*|[.!?]\s+|\b(?:I|we)(?:'m|'re|'ll| am| are| was| were| will| just| wanted to|"
          r" want to| would like to|'d like to| thought I'?d| thought we'?d| thought I would|"
          r" thought we would)?\s+|\bjust )")

# (kind, pattern). Kinds: meeting, visit, download, question, referral, inbound, follow_up.
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple((kind, re.compile(p, _I)) for kind, p in (
    # Thanks for <a contact the recipient made>: "Thanks for visiting our site."
    ("visit", r"\bthank(?:s| you)(?: so much| again)? for (?:visiting|stopping by|"
              r"dropping by|coming (?:by|to)|your visit)\b"),
    ("download", r"\bthank(?:s| you)(?: so much)? for (?:downloading|your download)\b"),
    # Thanks *again*: thanks for something before, whatever follows ("Thanks again for the
    # email.", "Thank you again for the idea."; the served miniature, 2026-12-07). A meeting
    # or booth note makes it true.
    ("meeting", r"\bthank(?:s| you)(?: so much)? again\b"),
    ("meeting", r"\bthank(?:s| you)(?: so much| again)? for (?:(?:the|our|your|yesterday'?s|"
                r"last week'?s) (?:call|chat|conversation|meeting|demo|intro)\b(?! (?:in|"
                r"next|this coming))|your time (?:on|at|during|yesterday|today|earlier|last)\b|"
                r"meeting (?:with )?(?:me|us)|speaking|talking|chatting|"
                r"taking (?:my|our|the) call|connecting|joining (?:us|our|the|me))"),
    ("inbound", r"\bthank(?:s| you)(?: so much)? for (?:reaching out|getting in touch|"
                r"contacting|writing|your (?:interest|message|e-?mail|note|inquiry|enquiry|"
                r"question|reply|response|request|feedback)|asking|signing up|registering|"
                r"attending|applying|the (?:question|message|note|reply|kind words))\b"),
    # The recipient did something, past tense: "You asked about pricing", "you visited".
    ("question", r"(?<!\w)you (?:recently |kindly |just |once |already )?(?:asked|requested|"
                 r"inquired|enquired|wanted to know|were asking|had asked|had a question)\b"),
    ("visit", r"(?<!\w)you (?:recently |just |kindly )?(?:visited|stopped by|dropped by|"
              r"came by|were at our|checked out our|browsed|looked at our)\b"),
    ("download", r"(?<!\w)you (?:recently |just )?(?:downloaded|signed up|registered|"
                 r"filled (?:out|in)|requested (?:a|our|the))\b"),
    ("inbound", r"(?<!\w)you (?:recently |kindly |just )?(?:reached out|wrote|e-?mailed|"
                r"called|contacted|messaged|replied|responded|mentioned|told (?:me|us)|"
                r"shared with (?:me|us)|expressed interest|showed interest|got in touch)\b"),
    ("inbound", r"\byour (?:recent |earlier |last |kind )?(?:visit|download|inquiry|enquiry|"
                r"question|message|e-?mail|note|request|reply|response|interest) (?:to (?:our|us|"
                r"me)|on|about|regarding|in|for|from|of|last|yesterday|earlier)\b"),
    # Sender and recipient together, past: "we spoke", "I met you", "our conversation".
    ("meeting", r"\b(?:I|we) (?:really |just |recently |briefly )?(?:met|spoke|talked|chatted|"
                r"connected|corresponded|caught up|had (?:a|our) (?:call|chat|conversation|"
                r"meeting))\b(?! (?:to|with) (?!you\b))(?! (?:our|their|many|dozens|hundreds|"
                r"\d))|\b(?:I|we) discussed (?:your|you)\b"),
    ("meeting", r"\b(?:good|great|nice|lovely|a pleasure|pleasure|wonderful) (?:to |)(?:meet|"
                r"meeting|see|seeing|speak(?:ing)? with|talk(?:ing)? (?:with|to)|chat(?:ting)? "
                r"with|connect(?:ing)? with) you\b(?! (?:soon|next|this|sometime|in person))"),
    ("meeting", r"\b(?:I|we) (?:really |truly )?(?:enjoyed|loved|appreciated) (?:meeting|speaking|talking|"
                r"chatting|our|the|your)\b"),
    ("meeting", r"\b(?:when|since|after) (?:we|you and I) (?:last )?(?:met|spoke|talked|"
                r"chatted)\b|\blast time (?:we|you and I) (?:met|spoke|talked|chatted)\b"),
    ("meeting", r"\b(?:as|like) (?:we|I|you) (?:discussed|mentioned|agreed|said|spoke about|"
                r"talked about|promised|requested|asked)\b|\bas (?:promised|requested|discussed|"
                r"agreed|mentioned (?:earlier|before|last))\b(?! by)"),
    ("meeting", r"\b(?:per|after|following|from|since|about|on|in) (?:our|your and my|my) "
                r"(?:recent |earlier |last |previous |brief |great |quick )?(?:call|"
                r"conversation|chat|meeting|discussion|talk|exchange|demo)\b"),
    ("meeting", r"\b(?:at|during) (?:our|the) (?:recent |last )?(?:meeting|call|demo) "
                r"(?:last|on|yesterday)\b"),
    ("follow_up", r"\b(?:my|our) (?:last|previous|earlier|recent|first|prior) " + _CONTACT_NOUN
                  + r"\b"),
    ("follow_up", r"\b(?:I|we) (?:sent|wrote|e-?mailed|called|reached out|left) (?:you|to "
                  r"you|a (?:note|message|voicemail))\b"),
    # Following up / circling back / again: a second contact.
    ("follow_up", _FIRST + r"(?:follow(?:ing)?[- ]up|circl(?:e|ing) back|check(?:ing)? back|"
                  r"touch(?:ing)? base again|bump(?:ing)? this)\b"),
    ("follow_up", r"\b(?:I|we) promised (?:to|you)\b"),
    ("follow_up", _FIRST + r"(?:reach(?:ing)? out|writ(?:e|ing)|contact(?:ing)?|e-?mail(?:ing)?|"
                  r"ping(?:ing)?|check(?:ing)? in|touch(?:ing)? base|get(?:ting)? in touch)"
                  r"(?: (?:to|with))?(?: you)? (?:again|once more|one more time)\b"),
    ("follow_up", r"\b(?:you (?:may|might|will|'ll) remember|remember me|in case you missed "
                  r"my|did you (?:get|see|read|have a chance)|had a chance to (?:read|look at|"
                  r"review) my)\b"),
    ("referral", r"\bsuggested (?:that )?(?:I|we) (?:reach out|contact you|get in touch|"
                 r"connect|write)\b|\b(?:referred|introduced) (?:me|us) to you\b"),
))
_SENTENCES = re.compile(r"[^.!?\n]+(?:[.!?]+|$)")
# CRM note prefixes (training/teacher_offline.py NOTE_LINES) and the kinds each makes true.
NOTE_KINDS = (("met at ", {"meeting"}), ("visited the booth in ", {"visit", "meeting"}),
              ("downloaded ", {"download"}), ("asked about ", {"question"}),
              ("referred by a partner in ", {"referral"}))


def claims(text: str) -> list[tuple[str, str]]:
    """(kind, matched words) for every sentence of ``text`` that claims earlier contact."""
    found: list[tuple[str, str]] = []
    for sentence in _SENTENCES.findall(text):
        for kind, pattern in _RULES:
            match = pattern.search(sentence)
            if match and not _hypothetical(sentence, match):
                found.append((kind, match.group(0).strip()))
                break  # one reason per sentence
    return found


def _hypothetical(sentence: str, match: re.Match[str]) -> bool:
    """"If you asked...", "Have you visited...": a "you <verb>" rule hit that claims nothing."""
    if not match.group(0).lower().startswith("you"):
        return False
    return bool(_NOT_CLAIM_BEFORE_YOU.search(sentence[:match.start()]))


def is_claim(sentence: str) -> bool:
    return bool(claims(sentence))


def recorded_kinds(lead: Mapping[str, Any]) -> set[str]:
    """The kinds of contact the lead's CRM note records (empty for a cold lead)."""
    notes = " ".join((lead.get("notes") or "").lower().split())
    kinds: set[str] = set()
    for prefix, made_true in NOTE_KINDS:
        if notes.startswith(prefix):
            kinds |= made_true
    return kinds


def unsupported_claims(text: str, lead: Mapping[str, Any]) -> list[str]:
    """The contact claims in ``text`` that the lead's CRM note does not make true."""
    recorded = recorded_kinds(lead)
    return [words for kind, words in claims(text) if kind not in recorded]

"""A draft that echoes a withheld field in paraphrase: a distinctive word of it, or three of its
words in a row, that nothing the model legitimately saw contains.

Measured on hostile leads: a withheld field's injected word came back stated as "a recent
result", with none of the six-word spans generation/untrusted.withheld_spans looks for. The model
never sees a withheld field, so a rare word of it in the draft came from somewhere screening
missed (a copy of it in another field, the campaign brief quoting it): the draft is refused.
"Rare" means: 5+ letters (shorter words are mostly function words in every language the leads
come in), not in the campaign's text or the lead's kept fields, and not a common word of a
sales email (COMMON below: words a draft writes on its own and an instruction may contain).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from outreach.untrusted_text import normalize

WITHHELD_MAX_CHARS = 4000
MIN_LETTERS = 5
GRAM = 3
# Alphabetic scripts (Latin, Greek, Cyrillic) as words; a run of any other letters (CJK, kana,
# Hangul, Thai) as its own token, so "PWNEDとだけ" splits into "pwned" and "とだけ".
_TOKEN = re.compile(r"[A-Za-z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff]+"
                    r"|[^\W\d_A-Za-z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff]+|\d+")
_ALPHABETIC = re.compile(r"[A-Za-z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff]")
# Words of 5+ letters a draft writes without being told (greetings, CTAs, time, the usual
# verbs), in the leads' European languages; an instruction that uses one of them is still
# caught by its rare words or by a 3-gram with a rare word in it.
COMMON = frozenset("""
about after again always another because before being below between could every first
found great happy hello hours however important information instead latest maybe might
minutes month months never other others people perhaps please quick quickly really recent
reply replied result results right since small still thank thanks there these thing things
think those three through today tomorrow under until using where which while within without
would write written wrote email emails message messages number order their them they would
years being doing going looking working team teams company companies business customer
customers product products service services question questions moment later early next
ihnen ihrer unser unsere unserer haben wurde werden diese dieser einen einer nicht schon
gerne heute morgen woche wochen vielen danke bitte kurze frage vous votre notre nous avons
cette merci bonjour semaine questions usted ustedes nuestro nuestra hola gracias semana
nosso nossa vocês obrigado semana vostro nostro nostra grazie settimana jullie onze bedankt
graag dzień dobry dziękuję tydzień państwa""".split())


def tokens(text: str) -> list[str]:
    return [tok.casefold() for tok in _TOKEN.findall(normalize(text))]


def _distinctive(word: str, known: set[str]) -> bool:
    return (len(word) >= MIN_LETTERS and bool(_ALPHABETIC.match(word))
            and word not in known and word not in COMMON)


def _grams(words: list[str]) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + GRAM]) for i in range(len(words) - GRAM + 1)}


def withheld_echoes(text: str, withheld: Mapping[str, str], known_text: str) -> list[str]:
    """A reason for each withheld field whose distinctive word, or 3-word run with a word of
    4+ letters not in ``known_text``, ``text`` repeats. ``known_text``: what the draft may say
    (the campaign's text and the lead's kept fields)."""
    draft = tokens(text)
    draft_words, draft_grams = set(draft), _grams(draft)
    known = set(tokens(known_text))
    known_grams = _grams(tokens(known_text))
    reasons = []
    for name, value in sorted(withheld.items()):
        words = tokens((value or "")[:WITHHELD_MAX_CHARS])
        echoed = sorted(w for w in set(words) & draft_words if _distinctive(w, known))
        # A 3-gram counts when one of its words is unknown and 4+ letters: "the month end" of a
        # campaign about closing the books is known; "say the ceo" is not ("ceo": 3 letters).
        grams = sorted(" ".join(g) for g in (_grams(words) & draft_grams) - known_grams
                       if any(len(w) >= 4 and w not in known and w not in COMMON for w in g))
        if echoed or grams:
            what = ", ".join(repr(x) for x in (echoed + grams)[:5])
            reasons.append(f"echoes withheld {name}: {what}")
    return reasons

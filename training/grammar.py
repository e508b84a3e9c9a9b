"""Small English grammar helpers for template-written emails: a/an, possessives, doubled words.

Templates fill slots with names and phrases they have never seen ("IT team", "Labs", "株式会社
さくら"); these rules keep the result grammatical (measured on the old teacher: "For a
operations team", "Northwind Logistics's").
"""

from __future__ import annotations

import re

# Letters whose English name starts with a vowel sound: "an HR team", "an SDR", "an MBA".
_VOWEL_SOUND_LETTERS = frozenset("AEFHILMNORSX")
# Words that start with a vowel letter but a consonant sound, and the reverse.
_CONSONANT_SOUND = ("uni", "use", "usu", "uti", "eu", "one", "once", "ubiq", "ura")
_VOWEL_SOUND = ("hour", "honest", "honor", "honour", "heir")
_DOUBLED = re.compile(r"\b(\w+)(\s+)\1\b", re.IGNORECASE)
_LATIN = re.compile(r"[A-Za-z\u00C0-\u024F]")


def article(phrase: str) -> str:
    """'a' or 'an' for the first word of ``phrase`` (by sound, not spelling)."""
    word = phrase.strip().split(" ", 1)[0]
    if not word:
        return "a"
    lowered = word.lower()
    letters = word.rstrip(".,")
    if len(letters) > 1 and letters.isupper():  # an acronym is read letter by letter
        return "an" if letters[0] in _VOWEL_SOUND_LETTERS else "a"
    if lowered.startswith(_VOWEL_SOUND):
        return "an"
    if lowered.startswith(_CONSONANT_SOUND):
        return "a"
    return "an" if lowered[:1] in "aeiou" else "a"


def with_article(phrase: str) -> str:
    return f"{article(phrase)} {phrase}"


def possessive(name: str) -> str:
    """"Acme's", "Labs'", "Wiśniewski's"; None-Latin names and legal forms get no 's."""
    if name.endswith(("s", "S")) and _LATIN.search(name[-1]):
        return name + "'"
    return name + "'s"


def possessive_ok(name: str) -> bool:
    """Whether ``name`` reads well with a possessive: Latin script, no legal form or
    punctuation at the end ("Müller GmbH & Co. KG's" does not)."""
    if not _LATIN.search(name[-1:]) or any(ch in name for ch in ",&()«»\"'"):
        return False
    legal = ("gmbh", "kg", "ag", "inc", "ltd", "llc", "plc", "s.a", "sa", "sas", "sarl", "srl",
             "s.r.l", "o.o", "a.s", "a.ş", "bv", "nv", "ab", "oy", "as", "co", "corp", "me",
             "ltda", "spa", "s.p.a", "kgaa", "e.g", "gbr", "ohg", "hb", "kb")
    last = name.lower().rstrip(".").rsplit(" ", 1)[-1]
    return last not in legal


def fix_doubled_words(text: str) -> str:
    """"the the" -> "the" (a slot ending with the word the template starts with)."""
    return _DOUBLED.sub(r"\1", text)


def has_doubled_words(text: str) -> bool:
    return _DOUBLED.search(text) is not None


def sentence_case(text: str) -> str:
    """Upper-case the first letter only (lead phrases keep their own capitals: "SDR team")."""
    return text[:1].upper() + text[1:]

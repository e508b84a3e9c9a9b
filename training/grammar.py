"""Small English grammar helpers for template-written emails: possessives, doubled words (a/an
by sound is training/english.py).

Templates fill slots with names and phrases they have never seen ("IT team", "Labs", "株式会社
さくら"); these rules keep the result grammatical (measured on the old teacher: "For a
operations team", "Northwind Logistics's").
"""

from __future__ import annotations

import re

_DOUBLED = re.compile(r"\b(\w+)(\s+)\1\b", re.IGNORECASE)
_LATIN = re.compile(r"[A-Za-z\u00C0-\u024F]")


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

"""English for the offline teacher: a/an by pronunciation, and safe lower-casing after a lead-in.

Why a module of its own: the old teacher's slips ("an thought", "For a HR team", "A recent
result: Every approval ...") were string glue. Here the article is chosen by how the next word
is *said* (acronyms letter by letter unless they are said as a word, digits by their English
name), and a sentence is only continued after a lead-in when its first word is known to be an
ordinary word; a name, or a word the teacher cannot vouch for, keeps the sentence standalone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Letters whose English name starts with a vowel sound: "an F", "an HR team", "an SLA", "an X".
_VOWEL_LETTERS = frozenset("AEFHILMNORSX")
# Acronyms said as a word, not letter by letter: "a NATO", "a SKU" ("skew"), "a SaaS".
_SAID_AS_WORDS = {"nasa": "a", "nato": "a", "sku": "a", "saas": "a", "scada": "a",
                  "gif": "a", "jpeg": "a", "unesco": "a", "unicef": "a", "opec": "an",
                  "asap": "an", "ikea": "an", "esop": "an", "oem": "an", "iot": "an"}
# Vowel letter, consonant sound ("a unique", "a user", "a European", "a one-hour").
_CONSONANT_SOUND = ("uni", "use", "usa", "usu", "uti", "ura", "ure", "uro", "ubiq", "eu", "ewe",
                    "one", "once", "uk")
# ... except "un-" + a second syllable ("an unplanned", "an unintended", "an unimportant").
_UN_PREFIX = re.compile(r"^un(?:[bcdfghjklmnpqrstvwxz]|i(?:n|m|d))")
# Consonant letter, vowel sound ("an hour", "an honest").
_VOWEL_SOUND = ("hour", "honest", "honor", "honour", "heir")
_LEADING_WORD = re.compile(r"[\w'&.-]+")


def _number_article(digits: str) -> str:
    """'an 8-week', 'an 11-day', 'an 18%', 'an 80', 'an 11,000'; 'a 1,100', 'a 20'."""
    digits = digits.replace(",", "")
    if digits.startswith("8"):
        return "an"
    # eleven, eighteen, eleven thousand, eighteen million: the group of 2 digits is spoken.
    if digits[:2] in ("11", "18") and len(digits.split(".")[0]) % 3 == 2:
        return "an"
    return "a"


def article(phrase: str) -> str:
    """'a' or 'an' for the first word of ``phrase``, by how it is pronounced."""
    match = _LEADING_WORD.match(phrase.strip())
    if not match:
        return "a"
    word = match.group(0).strip(".-'")
    if not word:
        return "a"
    lowered = word.lower()
    if word[0].isdigit():
        return _number_article(re.match(r"[\d,.]+", word).group(0))
    if lowered in _SAID_AS_WORDS:
        return _SAID_AS_WORDS[lowered]
    letters = re.split(r"[-/]", word, maxsplit=1)[0]
    # One capital letter alone ("X-ray", "A/B test") or an acronym ("HR", "SLA", "URL", "B2B"):
    # read letter by letter, so its first letter's name decides.
    if letters[:1].isupper() and (len(letters) == 1 or letters.isupper()
                                  or (len(letters) <= 4 and letters[1:2].isupper())):
        return "an" if letters[0] in _VOWEL_LETTERS else "a"
    # "eBay", "iPhone": a lower-case letter prefix said by its name.
    if len(word) > 1 and word[0].islower() and word[1].isupper():
        return "an" if word[0].upper() in _VOWEL_LETTERS else "a"
    if lowered.startswith(_VOWEL_SOUND):
        return "an"
    if lowered.startswith("un") and _UN_PREFIX.match(lowered):
        return "an"
    if lowered.startswith(_CONSONANT_SOUND):
        return "a"
    return "an" if lowered[:1] in "aeiou" else "a"


def with_article(phrase: str) -> str:
    return f"{article(phrase)} {phrase}"


def capitalize_first(text: str) -> str:
    """Upper-case the first letter only, unless the text starts with a name kept as written
    (the caller checks that: a product called "clearBatch" starts a sentence as "clearBatch")."""
    return text[:1].upper() + text[1:]


# Ordinary words a fact may start with, safe to lower-case after a lead-in ("In practice,
# customers ..."). A word outside this list (and outside the campaign's own lower-case words)
# may be a name ("Windows", "Meridian"), so such a sentence is never continued after a lead-in.
COMMON_STARTERS = frozenset("""
a an the it its every each all most many more fewer new open our one two three four five six
customers clients teams users buyers managers staff agents drivers nurses planners recruiters
technicians fleets stores shops sites warehouses hospitals candidates candidate approvals
reports tickets invoices contracts budgets orders shifts schedules routes cloud course courses
corrective first-time rest-period in on at with after within over across since during before
average typical on-call frontline scrap audits audit data new-hire onboarding energy fuel
""".split())
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")


def lowercase_ok(sentence: str, names: Iterable[str], vocabulary: Iterable[str] = ()) -> bool:
    """Whether ``sentence``'s first word may be lower-cased to continue a lead-in: it is a
    plain Title-case word, not part of any of ``names``, and known to be ordinary (in
    COMMON_STARTERS or ``vocabulary``, the lower-case words of the campaign's own text)."""
    match = _WORD.match(sentence)
    if not match:
        return False
    word = match.group(0)
    if not (word[:1].isupper() and (len(word) == 1 or word[1:] == word[1:].lower())):
        return False
    if word == "I":
        return False
    name_words = {w for name in names for w in _WORD.findall(name or "")}
    if word in name_words:
        return False
    return word.lower() in COMMON_STARTERS or word.lower() in set(vocabulary)


def lower_first(sentence: str) -> str:
    return sentence[:1].lower() + sentence[1:]


def lowercase_words(text: str) -> set[str]:
    """Words written in lower case somewhere in ``text``: evidence they are not names."""
    return {w for w in _WORD.findall(text) if w == w.lower()}

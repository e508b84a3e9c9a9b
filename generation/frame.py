"""The frame of every email: code writes the greeting and the one sign-off block.

The miniature writes the subject and the body between them. It was trained to write the whole
email ("Hi <first name>,", body, "Best,\\n<sender>"), and the few-shot prompt pre-fills the
greeting, so the model's greeting and every sign-off it wrote (two in a row, another name,
"--" signatures, notes after the name) are stripped here and replaced by the campaign's own:
names exactly as written (NFC, any script), one sign-off, the salutation of the campaign's
language.

Spacing by language, not by the name's script: the salutation belongs to the email's language,
and the name is one word inside it. English (and German, French, Spanish...) separate words
with spaces whatever script a name is in, so an English campaign greets "Hi 太郎," and never
"Hi太郎,". Japanese, Chinese and Korean attach honorifics without a space, so a Japanese
campaign greets "山田様" (the family name when the CRM has one: business Japanese addresses a
person by it) and a Korean one "서연님,".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from schemas.campaign import Campaign
from generation.prompt import NAME_MAX_CHARS, SIGN_OFF, clean_field, sender_name


@dataclass(frozen=True)
class Salutation:
    greeting: str       # "{name}" is replaced by the lead's name as written
    no_name: str        # a lead without a name
    closing: str        # the line above the sender's name
    family_name: bool = False  # address by last_name when the CRM has it


# Primary language subtag -> salutation. Unknown languages fall back to English, which is what
# the miniature writes (it was trained on English emails only).
SALUTATIONS = {
    "en": Salutation("Hi {name},", "Hi there,", SIGN_OFF),
    "de": Salutation("Hallo {name},", "Guten Tag,", "Viele Grüße"),
    "fr": Salutation("Bonjour {name},", "Bonjour,", "Bien cordialement,"),
    "es": Salutation("Hola {name},", "Hola,", "Saludos,"),
    "pt": Salutation("Olá {name},", "Olá,", "Atenciosamente,"),
    "it": Salutation("Ciao {name},", "Buongiorno,", "Cordiali saluti,"),
    "nl": Salutation("Hallo {name},", "Goedendag,", "Met vriendelijke groet,"),
    "ja": Salutation("{name}様", "ご担当者様", "よろしくお願いいたします。", family_name=True),
    "zh": Salutation("{name}，您好！", "您好！", "此致"),
    "ko": Salutation("{name}님, 안녕하세요.", "안녕하세요.", "감사합니다."),
}

# Greeting words a model (or a teacher, or a person) opens with, in the languages above. A
# letter right after the word is part of a longer word ("Hillary"), except a letter of a script
# written without spaces: "Hi翼," is a glued greeting and is stripped too.
GREETING_WORDS = (r"hi|hello|hey|dear|greetings|good (?:morning|afternoon|evening)|hallo|"
                   r"bonjour|hola|olá|ola|ciao|guten tag|goedendag")
_GREETING = re.compile(rf"^[ \t]*(?:{GREETING_WORDS})(?![A-Za-z\u00C0-\u024F])"
                       r"[^\n.?!]{0,70}?[,!:](?:[ \t]*\n|[ \t]+)", re.IGNORECASE)
# Closing lines that end an email: "Best,", "Kind regards,", "Thanks!", "Cheers". A closing on
# a line of its own starts the sign-off; what follows it (a name, a title, "P.S.") goes with it.
_CLOSINGS = (r"best|best regards|best wishes|all the best|kind regards|warm regards|regards|"
             r"warmly|thanks|thank you|many thanks|thanks again|cheers|sincerely|yours sincerely|"
             r"yours truly|yours|talk soon|speak soon|take care|with thanks|respectfully|"
             r"viele grüße|mit freundlichen grüßen|cordialement|bien cordialement|saludos|"
             r"atenciosamente|cordiali saluti|met vriendelijke groet|с уважением")
_CLOSING_LINE = re.compile(rf"^[ \t]*(?:--[ \t]*\n[ \t]*)?(?:{_CLOSINGS})[ \t]*[,.!]?[ \t]*$",
                           re.IGNORECASE | re.MULTILINE)
_DELIMITER = re.compile(r"^[ \t]*--[ \t]*$", re.MULTILINE)


@lru_cache(maxsize=256)
def _signed(sender: str) -> re.Pattern[str]:
    """The sender's name on a line of its own, after an optional closing line ("Thanks for your
    time!", "С уважением,") of up to 40 characters and an optional "--" delimiter."""
    name = re.escape(sender) + r"[ \t]*(?=\n|$)"
    # The closing must open a paragraph: "...last sentence.\n<name>" keeps its sentence.
    return re.compile(r"\n[ \t]*\n[ \t]*(?:--[ \t]*\n[ \t]*)?[^\W\d_][^\n]{0,40}[,!.]"
                      r"[ \t]*\n[ \t]*" + name + r"|(?:^|\n)[ \t]*(?:--[ \t]*\n[ \t]*)?" + name)


def salutation(campaign: Campaign) -> Salutation:
    return SALUTATIONS.get(campaign.language.split("-")[0].lower(), SALUTATIONS["en"])


def greeting(lead: Mapping[str, Any], campaign: Campaign) -> str:
    """The greeting line: the lead's name exactly as written, in the campaign's salutation."""
    style = salutation(campaign)
    name = ""
    if style.family_name:
        name = clean_field(lead.get("last_name") or "", NAME_MAX_CHARS)
    name = name or clean_field(lead.get("first_name") or "", NAME_MAX_CHARS)
    return style.greeting.format(name=name) if name else style.no_name


def signature(campaign: Campaign) -> str:
    """The one sign-off block: closing, the sender's name, and "title, company" on a line of
    its own when the campaign's sender asks for it (sender.title_in_signature)."""
    lines = [salutation(campaign).closing, sender_name(campaign)]
    sender = campaign.sender
    if sender.title_in_signature and sender.title:
        lines.append(", ".join(clean_field(part, NAME_MAX_CHARS)
                               for part in (sender.title, sender.company) if part))
    return "\n".join(lines)


def strip_greeting(text: str) -> str:
    """``text`` without the greeting the model wrote (or the prefill held)."""
    match = _GREETING.match(text)
    return text[match.end():].lstrip() if match else text


def strip_sign_off(text: str, sender: str) -> tuple[str, bool]:
    """(``text`` cut before its first sign-off, whether there was one).

    A sign-off is the sender's name on its own line (after an optional closing line), a
    closing line of its own ("Best," then another name, or nothing), or a "--" delimiter:
    whatever follows the first one (a second sign-off, a signature, notes) is dropped.
    """
    starts = [m.start() for m in (_signed(sender).search(text), _CLOSING_LINE.search(text),
                                  _DELIMITER.search(text)) if m]
    if not starts:
        return text.strip(), False
    return text[:min(starts)].strip(), True


def signed_count(body: str, sender: str) -> int:
    """How many sign-offs ``body`` has: sign-offs with the sender's name, or closing lines
    ("Best,\nJohn\n\nBest,\nNoor" is two), whichever is more."""
    return max(len(_signed(sender).findall(body)), len(_CLOSING_LINE.findall(body)))


def middle(text: str, campaign: Campaign) -> tuple[str, bool]:
    """(the body between greeting and sign-off, whether the model signed off)."""
    return strip_sign_off(strip_greeting(text.strip()), sender_name(campaign))


def framed(text: str, lead: Mapping[str, Any], campaign: Campaign) -> str:
    """``text`` (a body between greeting and sign-off) inside the code-written frame."""
    return f"{greeting(lead, campaign)}\n\n{text.strip()}\n\n{signature(campaign)}"

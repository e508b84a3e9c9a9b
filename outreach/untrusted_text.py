"""Normalizing untrusted text and finding links, domains and addresses in it, however written.

Shared by intake's screening (streams/screening.py) and the workers' post-checks
(generation/untrusted.py), so a field withheld at intake and a draft checked before sending are
read the same way. Obfuscations a filter must see through: fullwidth and other compatibility
forms (NFKC: "ｅｘａｍｐｌｅ．ｃｏｍ" -> "example.com"), zero-width and bidi characters inside a
word, "hxxp://", "example[.]com" / "example(dot)com", "name[at]example.com", protocol-relative
"//host/path", and bare domains without any scheme.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

# Invisible characters that split a word for a filter but not for a reader.
_INVISIBLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
                        "\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0]")
_DEFANG = [
    (re.compile(r"\bh[xX]{2}p(s?)(?=[:\[])", re.IGNORECASE), r"http\1"),
    (re.compile(r"\[\s*:\s*\]"), ":"),
    (re.compile(r"\s*[\[\(\{]\s*(?:\.|dot)\s*[\]\)\}]\s*", re.IGNORECASE), "."),
    (re.compile(r"\s*[\[\(\{]\s*(?:@|at)\s*[\]\)\}]\s*", re.IGNORECASE), "@"),
]
# Top-level domains a bare "word.tld" must end with to count as a domain. Every 2-letter
# ccTLD counts; of the longer ones, those seen in spam and phishing plus the generic ones. A
# sentence such as "Node.js" or "e.g." is then not a domain; "ASP.NET" is, and is refused:
# better a retried draft than a link to a stranger's site. .js/.ts are file names, not ccTLDs.
_LONG_TLDS = ("com|net|org|info|biz|io|ai|app|dev|xyz|top|site|online|store|shop|club|live|link|"
              "click|pro|tech|cloud|email|mobi|name|edu|gov|mil|int|co|me|ly|gg|tk|ml|ga|cf|"
              "zip|mov|page|work|support|help|services|solutions|agency|digital|network|today|"
              "world|space|website|xn--[a-z0-9-]+")
_LABEL = r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)"
DOMAIN_RE = re.compile(rf"(?<![\w@.-])((?:{_LABEL}\.)+(?:{_LONG_TLDS}|(?!js|ts)[a-z]{{2}}))(?![\w-])"
                       r"(?:\.(?![\w]))?", re.IGNORECASE)
URL_RE = re.compile(r"(?:(?:[a-z][a-z0-9+.-]{1,15}:)?//|www\.)[^\s<>\"'`)\]]+", re.IGNORECASE)
EMAIL_RE = re.compile(r"[\w.+'-]+@(?:[\w-]+\.)+[\w-]{2,}", re.UNICODE)
# A phone number: 9+ digits with the usual separators ("+1 (208) 493-7867"); intake flags one in
# a lead's free text, and a draft that carries one invented it.
PHONE_RE = re.compile(r"\+?\d[\d\s().-]{7,}\d")
IPV4_RE = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")


# Every _DEFANG pattern needs a bracket or "hxxp": a text without one skips the four passes.
_DEFANG_HINT = re.compile(r"[\[\(\{]|h[xX]{2}p", re.IGNORECASE)


def normalize(text: str) -> str:
    """NFKC, invisible characters removed, common link obfuscations undone."""
    # ASCII is its own NFKC form and holds no invisible character: most CRM fields skip both
    # passes (screening normalizes ~7 fields a lead; intake's budget is ~100 us a lead).
    if not text.isascii():
        text = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text))
    if _DEFANG_HINT.search(text):
        for pattern, replacement in _DEFANG:
            text = pattern.sub(replacement, text)
    return text


def find_urls(text: str) -> list[str]:
    """Scheme URLs, protocol-relative //host and www. links in already normalized text."""
    return [match.group(0).rstrip(".,;:!?") for match in URL_RE.finditer(text)]


def find_emails(text: str) -> list[str]:
    return EMAIL_RE.findall(text)


def find_domains(text: str) -> list[str]:
    """Bare domain names (and the hosts of URLs and addresses) in already normalized text."""
    return [match.group(1).lower() for match in DOMAIN_RE.finditer(text)]


def find_links(text: str) -> list[str]:
    """Every URL, address, IPv4 address and bare domain in ``text`` (normalized first)."""
    text = normalize(text)
    found = find_urls(text) + find_emails(text) + IPV4_RE.findall(text)
    # Hosts inside URLs and addresses are reported through them; bare domains elsewhere.
    rest = EMAIL_RE.sub(" ", URL_RE.sub(" ", text))
    return found + find_domains(rest)


def host_of(link: str) -> str:
    """The lower-cased host of a URL, //host, www. link, address or bare domain."""
    if "@" in link and "/" not in link:
        return link.rpartition("@")[2].lower().rstrip(".")
    if link.lower().startswith("www."):
        link = "//" + link
    elif "//" not in link:
        link = "//" + link
    try:
        host = urlsplit(link).hostname or ""
    except ValueError:  # "http://[bad" and other unparsable netlocs
        return ""
    return host.lower().rstrip(".")


def url_allowed(link: str, allowed_urls: list[str] | tuple[str, ...]) -> bool:
    """Whether ``link`` falls under one of ``allowed_urls``: same scheme (https is assumed for a
    link without one), the same host exactly (not a prefix: "https://example.com.evil.net" is
    not "https://example.com"), and a path under the allowed path at a segment boundary."""
    candidate = _split(link)
    if candidate is None:
        return False
    for allowed in allowed_urls:
        rule = _split(allowed)
        if rule is None:
            continue
        scheme, host, path = rule
        if candidate[0] != scheme or candidate[1] != host:
            continue
        prefix = path.rstrip("/")
        if not prefix or candidate[2] == prefix or candidate[2].startswith(prefix + "/"):
            return True
    return False


def _split(link: str) -> tuple[str, str, str] | None:
    text = normalize(link.strip())
    if "@" in text and "://" not in text:
        return None  # an address is never an allowed URL
    if text.lower().startswith("www.") or "//" not in text:
        text = "https://" + text.lstrip("/")
    elif text.startswith("//"):
        text = "https:" + text
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").rstrip(".")
    except ValueError:
        return None
    if not host:
        return None
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    return parts.scheme.lower(), host.lower(), parts.path or "/"


_WORD = re.compile(r"\w+(?:['’-]\w+)*")


def words(text: str) -> list[str]:
    """Case-folded words of normalized text (punctuation and spacing do not matter)."""
    return [word.casefold() for word in _WORD.findall(normalize(text))]


def shared_span(text: str, source: str, min_words: int) -> str | None:
    """The first run of ``min_words`` consecutive words of ``source`` that ``text`` repeats."""
    source_words = words(source)
    if len(source_words) < min_words:
        return None
    grams = {tuple(source_words[i:i + min_words])
             for i in range(len(source_words) - min_words + 1)}
    text_words = words(text)
    for i in range(len(text_words) - min_words + 1):
        gram = tuple(text_words[i:i + min_words])
        if gram in grams:
            return " ".join(gram)
    return None

"""Header values from data, made safe: one line of visible text, ASCII domains.

Drafts carry text from CRMs and from a model (subject, names, campaign ids, variants). A header
value must be one line; Python's ``email`` package refuses CR/LF (header injection) but lets
other separators through or fails on them later, while folding, outside any error handling:
vertical tab, form feed, NEL (U+0085) and U+2028/U+2029 each crashed the sender on a record it
then received again after its restart, stopping the partition. Every control, format and
separator character is therefore replaced before a value reaches a header.
"""

from __future__ import annotations

import re
import unicodedata

from outreach.errors import SchemaError

# Cc (controls, incl. \t \v \f \x85), Cf (format: zero-width, bidi overrides), Zl/Zp (U+2028,
# U+2029), Cs (lone surrogates from a bad decode), Co/Cn (private use, unassigned).
_DROP_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}
_SPACES = re.compile(r"\s+")
# RFC 5322 caps a line at 998 characters; the field name and folding need some of them.
HEADER_MAX_CHARS = 900


def header_text(value: object, max_chars: int = HEADER_MAX_CHARS) -> str:
    """``value`` as one line of printable text: every control/format/separator character is a
    space, runs of spaces are one, and the result is capped."""
    text = unicodedata.normalize("NFC", str(value if value is not None else ""))
    text = "".join(" " if unicodedata.category(ch) in _DROP_CATEGORIES else ch for ch in text)
    return _SPACES.sub(" ", text).strip()[:max_chars]


def ascii_address(address: str) -> tuple[str, str]:
    """(local part, domain) of ``address`` with the domain IDNA-encoded (``bücher.de`` ->
    ``xn--bcher-kva.de``), so a relay without SMTPUTF8 accepts it. Raises SchemaError
    ("invalid_message") for an address without both parts, with spaces or controls, or with a
    domain IDNA refuses, and
    ("needs_smtputf8") for a non-ASCII local part, which no encoding can make ASCII."""
    local, at, domain = str(address or "").strip().rpartition("@")
    if not at or not local or not domain or header_text(address) != address.strip() or any(
            ch.isspace() for ch in local + domain):
        raise SchemaError(f"not an address: {address!r}", code="invalid_message")
    try:
        domain = domain.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise SchemaError(f"domain {domain!r} cannot be IDNA-encoded: {exc}",
                          code="invalid_message") from exc
    if not local.isascii():
        raise SchemaError(f"local part {local!r} is not ASCII: needs a relay with SMTPUTF8",
                          code="needs_smtputf8")
    return local, domain


def thread_headers(earlier_message_ids: list[str]) -> dict[str, str]:
    """In-Reply-To and References of a follow-up (RFC 5322 3.6.4), from the Message-IDs of the
    thread's earlier emails, oldest first: In-Reply-To names the latest, References all of them,
    so every client files the follow-up under the first email. Empty for a first email."""
    ids = [header_text(i) for i in earlier_message_ids if i]
    if not ids:
        return {}
    # References may grow long in a long thread; clients need the first and the last few.
    kept = ids if len(ids) <= 10 else [ids[0], *ids[-9:]]
    return {"In-Reply-To": ids[-1], "References": " ".join(kept)}

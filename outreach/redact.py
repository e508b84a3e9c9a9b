"""Addresses in logs and dead-letter reasons, reduced to what an operator needs.

INFO logs and dead letters are read by more people, and kept longer, than the CRM: "a***@x.com"
says which domain and which lead (the record and its id are beside it) without the address.
"""

from __future__ import annotations


def redact_email(value: object) -> str:
    text = str(value or "")
    local, at, domain = text.rpartition("@")
    if not at:
        return f"<{len(text)} chars, no @>" if text else "<empty>"
    return f"{local[:1]}***@{domain[:80]}"

"""EmailDraft -> RFC 5322 message (stdlib ``email``), the only place that knows the headers.

The Message-ID is derived from the draft_id, so a draft handed to the SMTP server twice (which
the sender's claim prevents, but a relay may retry) still carries one identity that inboxes,
ESPs and the .eml sink can de-duplicate on, and that replies (In-Reply-To) point back to.

Identity: the From display name and address and the Reply-To are the campaign sender's mailbox
(EmailDraft from_name/from_email/reply_to, written by the worker from the campaign), so the
From line and the signature in the body agree; a draft without a mailbox (older records) goes
out from the configured address under the sender's name. The footer carries the opt-out line
and the sender's postal address (CAN-SPAM). Headers a recipient can read carry nothing
internal: only the opaque draft id (X-Outreach-Draft-Id, "drf-<digest>", which the .eml sink
names files by); model, variant and campaign stay on the Kafka draft record.
"""

from __future__ import annotations

import email.policy

import re
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

from mail.headers import ascii_address, header_text, thread_headers
from outreach.errors import SchemaError
from schemas.records import EmailDraft

DRAFT_ID_HEADER = "X-Outreach-Draft-Id"
FALLBACK_DOMAIN = "outreach.invalid"  # RFC 2606: never resolves, so it is never mistaken
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


HEADER_POLICY = email.policy.default.clone(max_line_length=998)

def safe_token(text: str, max_chars: int = 120) -> str:
    """``text`` reduced to [A-Za-z0-9._-]: fit for a Message-ID local part or a file name."""
    token = _UNSAFE.sub("_", text).strip("._")[:max_chars]
    return token or "unnamed"


def _mailbox(from_address: str) -> str | None:
    """The addr-spec of From, or None when it holds no usable address."""
    addr = parseaddr(from_address)[1]
    local, _, domain = addr.rpartition("@")
    return addr if local and domain else None


def sender_domain(from_address: str) -> str:
    mailbox = _mailbox(from_address)
    return safe_token(mailbox.rpartition("@")[2]) if mailbox else FALLBACK_DOMAIN


def message_id(draft_id: str, from_address: str) -> str:
    return f"<{safe_token(draft_id)}@{sender_domain(from_address)}>"


def _one_line(text: str) -> str:
    # A model-written subject or a CRM name may hold a line break (header injection) or a
    # vertical tab / U+2028 (a crash while folding): mail.headers makes it one visible line.
    return header_text(text)


def list_unsubscribe(draft_id: str, from_address: str) -> str:
    """A mailto: one-click-less unsubscribe whose subject names the draft, for attribution."""
    mailbox = _mailbox(from_address) or f"unsubscribe@{FALLBACK_DOMAIN}"
    return f"<mailto:{mailbox}?subject=unsubscribe%20{safe_token(draft_id)}>"


def from_header(draft: EmailDraft, from_address: str) -> str:
    """The From of ``draft``: the campaign sender's name and mailbox, else the configured
    ``from_address`` under the sender's name (so the signature and the From line agree)."""
    name = _one_line(draft.get("from_name") or "")
    if draft.get("from_email"):
        local, domain = ascii_address(draft["from_email"])
        return str(Address(display_name=name, username=local, domain=domain))
    configured_name, addr = parseaddr(from_address)
    if not addr:
        return from_address
    local, domain = ascii_address(addr)
    return str(Address(display_name=name or configured_name, username=local, domain=domain))


def footer(unsubscribe_url: str | None, postal_address: str) -> str:
    """What follows the body's "--": the opt-out line, then the sender's postal address."""
    lines = [opt_out_line(unsubscribe_url)]
    if postal_address.strip():
        lines.append(_one_line(postal_address))
    return "\n".join(lines)


def opt_out_line(unsubscribe_url: str | None) -> str:
    """The plain opt-out line every body ends with (CAN-SPAM, and what recipients look for)."""
    if unsubscribe_url:
        return f"Not interested? Unsubscribe with one click: {unsubscribe_url}"
    return 'Not interested? Reply "unsubscribe" and we will not write again.'


def build_message(draft: EmailDraft, from_address: str,
                  unsubscribe_url: str | None = None) -> EmailMessage:
    """Render one decoded EmailDraft as a text/plain UTF-8 message.

    ``unsubscribe_url`` (an https link holding a signed per-draft token, mail/unsubscribe.py)
    makes List-Unsubscribe one-click (RFC 8058: the https URI first, plus
    List-Unsubscribe-Post); the body always ends with a plain opt-out line.

    Raises SchemaError(code="invalid_message") when the draft cannot be a valid message (an
    unparsable recipient address), so the sender dead-letters it instead of retrying forever.
    """
    # Header lines up to RFC 5322's 998-character limit: with the default 78 the long,
    # space-free List-Unsubscribe URI was folded into unreadable RFC 2047 encoded words.
    msg = EmailMessage(policy=HEADER_POLICY)
    local, domain = ascii_address(draft["to_email"])  # SchemaError: dead letter, not a retry
    # Every header is set inside the try: a value the email package still refuses is this
    # draft's fault, and a raise outside it used to kill the sender on every redelivery.
    try:
        from_address = from_header(draft, from_address)
        msg["From"] = from_address
        reply_to = draft.get("reply_to") or draft.get("from_email")
        if reply_to:
            local_r, domain_r = ascii_address(reply_to)
            msg["Reply-To"] = Address(username=local_r, domain=domain_r)
        msg["To"] = Address(display_name=_one_line(draft["to_name"]), username=local,
                            domain=domain)
        msg["Subject"] = _one_line(draft["subject"])
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = message_id(draft["draft_id"], from_address)
        msg[DRAFT_ID_HEADER] = _one_line(draft["draft_id"])
        # A follow-up (sequence step > 1) threads under the earlier steps' messages.
        earlier = [message_id(i, from_address) for i in draft.get("thread_draft_ids") or []]
        for name, value in thread_headers(earlier).items():
            msg[name] = value
        mailto = list_unsubscribe(draft["draft_id"], from_address)
        if unsubscribe_url:
            msg["List-Unsubscribe"] = f"<{unsubscribe_url}>, {mailto}"
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        else:
            msg["List-Unsubscribe"] = mailto
        closing = footer(unsubscribe_url, draft.get("postal_address") or "")
        msg.set_content(f"{draft['body'].rstrip()}\n\n--\n{closing}\n")
    except (ValueError, IndexError, TypeError) as exc:  # HeaderParseError is a ValueError
        raise SchemaError(f"draft {draft['draft_id']} cannot be a message: {exc}",
                          code="invalid_message") from exc
    return msg

"""HTTP endpoints the services call with a secret (the LLM tier, the teacher): where a bearer
token may travel in clear.

An API key sent over plain http can be read by anyone on the path; on loopback (a local
llama_cpp.server, the tests' servers) nothing leaves the machine, so that is the one place
plain http is fine. Beyond it the key still goes (an operator may run a trusted network), but
the log says so, once per client.
"""

from __future__ import annotations

import ipaddress
import logging
from urllib.parse import urlsplit

from pydantic import SecretStr

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or "localhost" (an empty host is not loopback)."""
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def sends_secret_in_clear(base_url: str) -> bool:
    """Whether a secret sent to ``base_url`` would cross a network unencrypted."""
    parts = urlsplit(base_url)
    return parts.scheme.lower() == "http" and not is_loopback(parts.hostname or "")


def bearer_headers(api_key: SecretStr | None, base_url: str, what: str) -> dict[str, str]:
    """The Authorization header for ``api_key`` (none without a key), with a warning when the
    key would go to ``base_url`` over plain http beyond loopback."""
    if not api_key or not api_key.get_secret_value():
        return {}
    if sends_secret_in_clear(base_url):
        log.warning("%s: the API key is sent over plain http to %s; use https (only loopback "
                    "is safe without it)", what, urlsplit(base_url).hostname)
    return {"Authorization": f"Bearer {api_key.get_secret_value()}"}

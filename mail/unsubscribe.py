"""The one-click unsubscribe link of a draft: ``<sender.unsubscribe_base_url>/<token>``."""

from __future__ import annotations

from outreach.errors import ConfigError
from outreach.settings import SenderSettings
from outreach.unsubscribe_token import make_token, sender_secrets


def unsubscribe_link(cfg: SenderSettings, draft_id: str) -> str | None:
    """The https link for ``draft_id``, or None when one-click unsubscribe is not configured."""
    if not cfg.unsubscribe_base_url:
        return None
    secrets = sender_secrets(cfg)  # signed with the newest (rotation: key id in the token)
    if not secrets:
        raise ConfigError("sender.unsubscribe_base_url is set but sender.unsubscribe_secret is "
                          "not: the links could not be verified")
    if not cfg.unsubscribe_base_url.startswith("https://") and not _local(cfg.unsubscribe_base_url):
        raise ConfigError("sender.unsubscribe_base_url must be https (RFC 8058)")
    return f"{cfg.unsubscribe_base_url.rstrip('/')}/{make_token(secrets, draft_id)}"


def _local(url: str) -> bool:
    # Plain http only to this machine: the embedded demo and the tests have no certificate.
    return url.startswith(("http://127.0.0.1", "http://localhost"))

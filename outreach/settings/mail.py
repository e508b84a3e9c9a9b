"""Section ``sender``: SMTP, the From line and RFC 8058 one-click unsubscribe."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr


class SenderSettings(BaseModel):
    smtp_host: str | None = Field(None, description="Unset = nothing is ever sent.")
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    from_address: str = "Miniature Outreach <outreach@example.com>"
    metrics_port: int | None = None
    # RFC 8058 one-click unsubscribe (Gmail and Yahoo require it of bulk senders): every
    # message links <base>/<signed per-draft token>; the dashboard app answers it.
    unsubscribe_base_url: str | None = Field(
        None, description="https URL of the dashboard's /unsubscribe route as recipients reach "
        "it, e.g. https://outreach.example.com/unsubscribe; unset = mailto only.")
    unsubscribe_secret: SecretStr | None = Field(
        None, description="HMAC secret of the unsubscribe tokens (the sender and the dashboard "
        "must share it).")
    # Rotation: a link must keep working for 60 days after its mail went out, so an old key
    # stays listed here (accepted) while unsubscribe_secret (or the first entry) signs.
    unsubscribe_secrets: list[SecretStr] = Field(
        default_factory=list, description="Unsubscribe secrets, newest first: the first signs "
        "(before unsubscribe_secret), all are accepted.")
    require_one_click: bool = Field(
        True, description="Refuse to send through a non-loopback SMTP host without "
        "unsubscribe_base_url (RFC 8058); false = mailto unsubscribe only (e.g. a mailpit "
        "that keeps mail local).")

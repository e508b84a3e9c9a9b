"""Sections ``feedback``, ``simulator`` and ``dashboard``: engagement in, outcomes and KPIs."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr


class FeedbackSettings(BaseModel):
    # ESP webhooks often beat the draft record by seconds; 15 min covers a slow worker backlog.
    hold_window_s: float = Field(900.0, gt=0, description="An event waits this long for its draft.")
    expiry_check_interval_s: float = Field(5.0, gt=0)
    # 72 h: most B2B replies arrive within three days of the send.
    outcome_window_s: float = Field(72 * 3600.0, gt=0,
                                    description="No reply by then = the draft was ignored.")
    kpi_window_s: int = Field(3600, ge=1, description="Tumbling KPI window (plots over time).")
    kpi_windows_kept: int = Field(168, ge=1)
    state_ttl_s: int = Field(30 * 24 * 3600, ge=60, description="Drafts, claims and flags TTL.")
    pii: Literal["redact", "hash", "keep"] = "redact"
    pii_salt: SecretStr = Field(SecretStr(""), description="Salt for pii=hash, so hashes "
                                "are not joinable across deployments.")
    rewards: dict[str, float] = Field(default_factory=lambda: {
        "interested": 1.0, "not_now": 0.4, "out_of_office": 0.0, "auto_reply": 0.0,
        "not_interested": -0.3, "unsubscribe_request": -1.0, "unsubscribed": -1.0,
        "complained": -1.5, "bounced": 0.0, "clicked": 0.15, "opened": 0.05, "ignored": 0.0})
    similar_by: list[str] = Field(default_factory=lambda: ["campaign", "segment", "industry"],
                                  description="Lead fields that make two leads similar for "
                                  "preference pairs.")
    metrics_port: int | None = None


class SimulatorSettings(BaseModel):
    """The engagement simulator's audience model (a simulator: no real person is involved)."""

    seed: int = 7
    open_rate: float = Field(0.45, ge=0, le=1)
    click_rate: float = Field(0.08, ge=0, le=1, description="Of opened emails.")
    reply_rate: float = Field(0.06, ge=0, le=1, description="Of opened, at average quality.")
    bounce_rate: float = Field(0.02, ge=0, le=1)
    unsubscribe_rate: float = Field(0.01, ge=0, le=1)
    complaint_rate: float = Field(0.002, ge=0, le=1)
    duplicate_rate: float = Field(0.05, ge=0, le=1, description="ESP retries: events sent twice.")
    max_delay_s: float = Field(2.0, ge=0, description="Events follow their draft within this.")
    metrics_port: int | None = None


class DashboardSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8088
    refresh_s: float = Field(5.0, gt=0)
    webhook_token: SecretStr | None = Field(None, description="If set, webhooks must send "
                                            "it as the X-Outreach-Token header.")
    webhook_secret: SecretStr | None = Field(
        None, description="Shared HMAC-SHA256 secret: webhooks must sign "
        "'t=<unix>,v1=<hex of HMAC(t.body)>' in X-Outreach-Signature. Without it (and a "
        "token) the server refuses to bind beyond loopback.")
    # 5 minutes, as Stripe and Svix use: covers clock skew and an ESP's first retries, while a
    # captured request replayed later is refused (and inside the window, by its signature).
    webhook_tolerance_s: int = Field(300, ge=1, description="Signed timestamps older or newer "
                                     "than this are refused (replay).")
    max_webhook_events: int = Field(1000, ge=1, description="Events per webhook request.")
    # The operator app (dashboard, /metrics, approvals) is a second server: loopback by default,
    # reached by SSH tunnel or a proxy; the public app above serves only unsubscribes + webhook.
    operators: dict[str, SecretStr] = Field(
        default_factory=dict, description="Operator name -> login token (each decision records "
        "the name). Empty: training.review.token as 'operator', else a random token logged once.")
    operator_host: str = Field("127.0.0.1", description="Bind address of the operator app.")
    operator_port: int | None = Field(None, ge=1, le=65535,
                                      description="Operator app port (default: port + 1).")
    allowed_hosts: list[str] = Field(
        default_factory=list, description="Host header names the public app answers besides "
        "its bind address (e.g. outreach.example.com for the unsubscribe links).")

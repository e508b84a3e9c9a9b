"""Sections ``llm``, ``escalation`` and ``approval``: the LLM tier, the escalation ladder, human
approval and the LLM budget."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr


class BudgetSettings(BaseModel):
    """A daily spending cap for the LLM tier, counted in Redis (UTC days)."""

    daily_usd: float | None = Field(5.0, ge=0, description="Global LLM spend per UTC day; "
                                    "unset = no cap.")
    per_campaign_usd: dict[str, float] = Field(
        default_factory=dict, description="Caps for single campaigns (campaign id -> USD/day).")
    default_campaign_usd: float | None = Field(None, ge=0, description="Cap for a campaign "
                                               "not listed in per_campaign_usd; unset = none.")


class LLMSettings(BaseModel):
    """The LLM tier: any OpenAI-compatible endpoint (a provider, vLLM, llama.cpp's server)."""

    base_url: str | None = Field(None, description="e.g. https://api.openai.com/v1 or "
                                 "http://127.0.0.1:8000/v1; unset = no LLM rung.")
    model: str = Field("gpt-4o-mini", description="Model name sent to the endpoint.")
    api_key: SecretStr | None = Field(None, description="Bearer token; unset = no Authorization "
                                "header.")
    api: Literal["chat", "completions"] = Field(
        "chat", description="chat: /chat/completions with instructions in the system message "
        "and the data lines as the user message (instruction-tuned models). completions: "
        "/completions with the few-shot prompt (a base model, e.g. the local stand-in).")
    concurrency: int = Field(4, ge=1, description="Requests in flight at once per worker.")
    connect_timeout_s: float = Field(5.0, gt=0)
    timeout_s: float = Field(120.0, gt=0, description="Read timeout of one completion.")
    max_retries: int = Field(4, ge=0, description="Retries of one call on 429/5xx/network "
                             "errors; after them the worker holds the request and tries again.")
    backoff_s: float = Field(0.5, ge=0, description="First retry's delay ceiling; doubles.")
    backoff_max_s: float = Field(30.0, ge=0)
    retry_after_max_s: float = Field(120.0, ge=0, description="Longest Retry-After honoured.")
    hold_backoff_max_s: float = Field(60.0, gt=0, description="Longest wait between two tries "
                                      "of a held request while the endpoint is down.")
    max_attempts: int = Field(2, ge=1, description="Drafts written per request before the "
                              "next rung (each is checked).")
    temperature: float = 0.7
    max_tokens: int = Field(300, ge=16)
    # gpt-4o-mini list prices at the time of writing; a self-hosted endpoint sets its own.
    usd_per_m_input: float = Field(0.15, ge=0, description="USD per million prompt tokens.")
    usd_per_m_output: float = Field(0.60, ge=0, description="USD per million completion tokens.")
    label: str = Field("", description="Shown on the dashboard next to the LLM arm (e.g. "
                       "'local stand-in: untuned base, few-shot').")
    budget: BudgetSettings = Field(default_factory=BudgetSettings)


class EscalationSettings(BaseModel):
    """The ladder: miniature -> LLM tier -> human review -> dead letter."""

    llm: bool = Field(True, description="A request the miniature fails goes to the LLM tier "
                      "(when llm.base_url is set).")
    review: bool = Field(True, description="A request the LLM fails (or that the budget stops) "
                         "is held for a person (needs Redis); off = dead letter.")


class ApprovalSettings(BaseModel):
    """Drafts held for a person before sending."""

    hold_escalated: bool = Field(True, description="Hold drafts written on an escalation rung.")
    qc_sample_rate: float = Field(0.0, ge=0, le=1, description="Share of all other drafts held "
                                  "for quality control (chosen by draft_id, so stable).")
    item_ttl_s: int = Field(30 * 24 * 3600, ge=3600, description="How long a decided item "
                            "stays in Redis.")
    undo_s: float = Field(10.0, ge=0, le=300, description="A decision waits this long before "
                          "it is published, so the reviewer can undo it (0 = publish at once).")

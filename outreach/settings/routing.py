"""Sections ``routing``, ``abtest`` and ``demo``: which tier and arm writes a lead."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from outreach.settings.common import Tier


class RoutingRule(BaseModel):
    """A lead matches when every condition that is set holds; first match wins."""

    name: str
    tier: Tier
    variant: str = "control"
    min_score: int | None = None
    max_score: int | None = None
    min_deal_size: float | None = None
    max_deal_size: float | None = None
    segments: list[str] | None = None
    priorities: list[str] | None = None
    review: bool = Field(False, description="Hold this rule's drafts for a person before "
                         "sending (approval queue). tier: llm sends its leads straight to the "
                         "LLM rung.")


class RoutingSettings(BaseModel):
    rules: list[RoutingRule] = Field(default_factory=lambda: [
        RoutingRule(name="default", tier="small")])

    @model_validator(mode="after")
    def _needs_rules(self) -> RoutingSettings:
        if not self.rules:
            raise ValueError("routing.rules must hold at least one rule")
        return self


class VariantSpec(BaseModel):
    """One arm of the A/B test: a miniature version, a prompt version or the baseline LLM."""

    name: str
    tier: Tier | None = Field(None, description="Tier that writes this arm; unset = the "
                              "routing rule's tier. The baseline LLM arm uses tier llm.")
    weight: float = Field(1.0, ge=0, description="Share of traffic in split allocation.")
    model_role: Literal["champion", "challenger"] = Field(
        "champion", description="Which release of its tier writes this arm: the champion, or "
        "the challenger release once one is loaded (until then the champion).")
    description: str = ""


class ABTestSettings(BaseModel):
    enabled: bool = Field(False, description="Off = routing keeps each rule's own variant.")
    variants: list[VariantSpec] = Field(default_factory=lambda: [VariantSpec(name="control")])
    champion: str = "control"
    allocation: Literal["split", "thompson"] = "split"
    alpha: float = Field(0.05, gt=0, lt=1, description="Two-sided z-test significance level.")
    promote_probability: float = Field(0.95, gt=0.5, lt=1,
                                       description="Bayesian P(challenger beats champion).")
    # Below ~300 sends per arm a 4% vs 6% positive-reply difference has under 20% power.
    min_sends: int = Field(300, ge=1, description="Sends per arm before any decision.")
    max_unsubscribe_rate: float = 0.02
    max_complaint_rate: float = 0.003  # the 0.3% spam-complaint ceiling big mailbox providers use
    max_bounce_rate: float = 0.05
    # Beta(1, 1) = uniform prior; integers keep P(beat) exact (closed form, no sampling).
    prior_successes: int = Field(1, ge=1)
    prior_failures: int = Field(1, ge=1)
    evaluate_interval_s: float = Field(15.0, gt=0)
    state_refresh_s: float = Field(5.0, gt=0, description="How often routers re-read the state.")
    # Synthetic engagement (the simulator's events) stays out of decisions and guardrails unless
    # asked for: `demo --feedback` asks, since the simulator is all the engagement it has. The
    # demo's own self-test (its one-click check) is never counted, whatever this says.
    include_simulated: bool = Field(False, description="Count simulator events in A/B decisions.")

    @model_validator(mode="after")
    def _champion_is_a_variant(self) -> ABTestSettings:
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError("abtest.variants names must be unique")
        if self.champion not in names:
            raise ValueError(f"abtest.champion {self.champion!r} is not one of {names}")
        return self


class DemoSettings(BaseModel):
    leads: int = 24
    seed: int = 7
    out_dir: Path = Path("demo-out")
    workers: int = 1

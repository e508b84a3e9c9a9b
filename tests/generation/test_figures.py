"""Invented or altered figures (generation.figures), on sentences the miniature and the LLM
stand-in really wrote (2026-12-07), and through the one checks entry point."""

from __future__ import annotations

from generation.checks import check_draft
from generation.draft import Draft
from generation.figures import figures, invented_figures
from outreach.settings import ChecksSettings
from tests.support.worker_helpers import sample_campaign, sample_leads

CAMPAIGN = sample_campaign()  # "Teams answer inquiries 3x faster in the first month."
LEAD = sample_leads()[0]  # Ann at Northwind Traders, company_size 120


def test_figures_are_digit_strings():
    assert figures("4,000 contracts, a 15-minute call, $1.5M, 3x faster.") == {
        "4000", "15", "1.5", "3"}
    assert figures("No figures here.") == set()


def test_a_figure_the_data_never_gave_is_named():
    # The stand-in's draft: the campaign said 3x, the draft says 24 and adds $586.
    text = "Teams cut 24 duplicate payments and save $586 per month."
    assert invented_figures(text, LEAD, CAMPAIGN) == [
        "figure not in the lead or the campaign: '24'",
        "figure not in the lead or the campaign: '586'"]
    # The miniature's altered depths: the fact said 20, 40 and 60.
    assert invented_figures("Every probe reads moisture at 15 or 30 centimetres.", LEAD,
                            CAMPAIGN) != []


def test_figures_from_the_campaign_or_the_lead_pass():
    text = ("With a team of 120, Northwind Traders could answer inquiries 3x faster. "
            "Would you be open to a 15-minute call next week?")
    assert invented_figures(text, LEAD, CAMPAIGN) == []


def test_the_entry_point_rejects_an_invented_figure():
    good = ("Hi Ann,\n\nAt Northwind Traders, reps spend hours writing follow-up emails. "
            "Teams answer inquiries 3x faster in the first month. Would you be open to a "
            "15-minute call next week?\n\nBest,\nNoor Haddad")
    checks = ChecksSettings()
    assert check_draft(Draft("An idea for Northwind Traders", good), LEAD, checks,
                       CAMPAIGN) == []
    bad = good.replace("3x faster", "5x faster")
    assert any("figure not in the lead or the campaign: '5'" in reason for reason in
               check_draft(Draft("An idea for Northwind Traders", bad), LEAD, checks, CAMPAIGN))

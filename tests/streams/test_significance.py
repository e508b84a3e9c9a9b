"""Significance math against scipy reference values (scipy is a dev dependency only)."""

import random

import numpy as np
import pytest
from scipy import integrate, stats

from streams.significance import (normal_ppf, normal_sf, prob_b_beats_a, thompson_draw,
                                  two_proportion_ztest)

CASES = [(40, 1000, 62, 1000), (12, 300, 9, 280), (500, 10000, 560, 10000), (0, 50, 3, 50),
         (7, 7, 5, 9)]


@pytest.mark.parametrize("sa,na,sb,nb", CASES)
def test_ztest_matches_scipy_chi_square_without_correction(sa, na, sb, nb):
    got = two_proportion_ztest(sa, na, sb, nb)
    table = np.array([[sa, na - sa], [sb, nb - sb]])
    ref = stats.chi2_contingency(table, correction=False)
    # The pooled z statistic squared is the 2x2 chi-square statistic; same p-value.
    assert got.z ** 2 == pytest.approx(ref.statistic, rel=1e-9)
    assert got.p_value == pytest.approx(ref.pvalue, rel=1e-7, abs=1e-12)
    assert got.p_value == pytest.approx(2 * stats.norm.sf(abs(got.z)), rel=1e-9)


def test_ztest_confidence_interval_and_degenerate_case():
    got = two_proportion_ztest(40, 1000, 62, 1000, alpha=0.05)
    se = np.sqrt(0.04 * 0.96 / 1000 + 0.062 * 0.938 / 1000)
    assert got.ci_low == pytest.approx(0.022 - stats.norm.ppf(0.975) * se, rel=1e-8)
    assert two_proportion_ztest(0, 10, 0, 20).p_value == 1.0
    with pytest.raises(ValueError):
        two_proportion_ztest(5, 0, 1, 10)


@pytest.mark.parametrize("p", [1e-9, 1e-4, 0.01, 0.3, 0.5, 0.8, 0.975, 0.999999])
def test_normal_functions_match_scipy(p):
    assert normal_ppf(p) == pytest.approx(stats.norm.ppf(p), abs=1e-8)
    assert normal_sf(normal_ppf(p)) == pytest.approx(1 - p, rel=1e-7)


@pytest.mark.parametrize("a1,b1,a2,b2", [(41, 961, 63, 939), (1, 1, 1, 1), (3, 50, 2, 60),
                                         (121, 2881, 141, 2861), (5, 5, 20, 2)])
def test_probability_to_beat_matches_numerical_integration(a1, b1, a2, b2):
    # P(B > A) = integral of pdf_B(x) * cdf_A(x) over [0, 1].
    ref, _ = integrate.quad(lambda x: stats.beta.pdf(x, a2, b2) * stats.beta.cdf(x, a1, b1),
                            0, 1, points=[a1 / (a1 + b1), a2 / (a2 + b2)], limit=400)
    assert prob_b_beats_a(a1, b1, a2, b2) == pytest.approx(ref, abs=1e-9)


def test_probability_to_beat_is_complementary_and_large_counts_are_fast():
    p = prob_b_beats_a(101, 1901, 131, 1871)
    assert p + prob_b_beats_a(131, 1871, 101, 1901) == pytest.approx(1.0, abs=1e-9)
    big = prob_b_beats_a(10001, 240000, 10201, 240000)  # 10k terms
    assert 0.9 < big < 0.93


def test_thompson_draws_follow_the_posterior_mean():
    rng = random.Random(3)
    draws = [thompson_draw(30, 1000, rng) for _ in range(4000)]
    assert np.mean(draws) == pytest.approx(stats.beta.mean(31, 971), rel=0.02)

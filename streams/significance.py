"""Significance math for A/B decisions on a proportion (positive-reply rate), pure Python.

No scipy on the streaming path: the normal tail comes from ``math.erfc`` and the Bayesian
probability from the exact closed form for Beta posteriors with integer parameters
(Evan Miller, "Formulas for Bayesian A/B testing"), which costs O(successes of B) lgamma calls:
~10k terms (a 4% rate on 250k sends) take a few milliseconds. Both are checked against scipy in
tests/streams/test_significance.py.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass


@dataclass(frozen=True)
class ZTest:
    z: float
    p_value: float  # two-sided
    diff: float  # rate_b - rate_a
    ci_low: float  # 1 - alpha confidence interval of the difference (unpooled standard error)
    ci_high: float


def normal_sf(x: float) -> float:
    """Upper tail of the standard normal, P(Z > x), accurate far into the tail (erfc)."""
    return 0.5 * math.erfc(x / math.sqrt(2.0))


def normal_ppf(p: float) -> float:
    """Inverse CDF of the standard normal (Acklam's rational approximation, |error| < 1.2e-9)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p}")
    a = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
         1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)
    b = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
         6.680131188771972e01, -1.328068155288572e01)
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
         -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00,
         3.754408661907416e00)
    low = 0.02425
    if p < low:
        q = math.sqrt(-2 * math.log(p))
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / \
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    if p > 1 - low:
        return -normal_ppf(1 - p)
    q = p - 0.5
    r = q * q
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / \
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)


def two_proportion_ztest(successes_a: int, n_a: int, successes_b: int, n_b: int,
                         alpha: float = 0.05) -> ZTest:
    """Pooled two-proportion z-test of H0: rate_a == rate_b (two-sided).

    Same statistic as statsmodels' ``proportions_ztest`` and, squared, as the chi-square test
    of the 2x2 table without continuity correction.
    """
    if n_a <= 0 or n_b <= 0:
        raise ValueError("both arms need at least one trial")
    if not (0 <= successes_a <= n_a and 0 <= successes_b <= n_b):
        raise ValueError("successes must lie between 0 and the number of trials")
    rate_a, rate_b = successes_a / n_a, successes_b / n_b
    pooled = (successes_a + successes_b) / (n_a + n_b)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    diff = rate_b - rate_a
    if se_pooled == 0:  # both arms all-success or all-failure: no evidence of a difference
        z, p_value = 0.0, 1.0
    else:
        z = diff / se_pooled
        p_value = min(1.0, 2 * normal_sf(abs(z)))
    se = math.sqrt(rate_a * (1 - rate_a) / n_a + rate_b * (1 - rate_b) / n_b)
    half = normal_ppf(1 - alpha / 2) * se
    return ZTest(z=z, p_value=p_value, diff=diff, ci_low=diff - half, ci_high=diff + half)


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def prob_b_beats_a(alpha_a: int, beta_a: int, alpha_b: int, beta_b: int) -> float:
    """P(p_B > p_A) for independent p_A ~ Beta(alpha_a, beta_a), p_B ~ Beta(alpha_b, beta_b).

    Exact for integer ``alpha_b`` (the sum has alpha_b terms); the posterior of a Beta(1, 1)
    prior after s successes in n trials is Beta(1 + s, 1 + n - s).
    """
    if min(alpha_a, beta_a, alpha_b, beta_b) <= 0:
        raise ValueError("Beta parameters must be positive")
    if int(alpha_b) != alpha_b:
        raise ValueError("alpha_b must be an integer for the closed form")
    log_beta_a = _log_beta(alpha_a, beta_a)
    total = 0.0
    for i in range(int(alpha_b)):
        total += math.exp(_log_beta(alpha_a + i, beta_a + beta_b) - math.log(beta_b + i)
                          - _log_beta(1 + i, beta_b) - log_beta_a)
    return min(1.0, max(0.0, total))


def posterior(successes: int, trials: int, prior_successes: int = 1,
              prior_failures: int = 1) -> tuple[int, int]:
    """Beta posterior parameters of a rate after ``successes`` in ``trials``."""
    return prior_successes + successes, prior_failures + max(0, trials - successes)


def thompson_draw(successes: int, trials: int, rng: random.Random, prior_successes: int = 1,
                  prior_failures: int = 1) -> float:
    """One sample of the rate from its Beta posterior (Thompson sampling)."""
    a, b = posterior(successes, trials, prior_successes, prior_failures)
    return rng.betavariate(a, b)

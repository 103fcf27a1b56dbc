"""Statistics for comparing classifiers on the same test reviews."""

from __future__ import annotations

import numpy as np
from scipy import stats


def bootstrap_interval(correct, n_resamples: int = 2000, confidence: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval for accuracy, from per-review correctness (0/1)."""
    correct = np.asarray(correct, dtype=np.float64)
    rng = np.random.default_rng(seed)
    # Resampling n reviews with replacement counts the correct ones as Binomial(n, accuracy): drawing that count
    # directly is the same bootstrap without an (n_resamples x n) array.
    means = rng.binomial(len(correct), correct.mean(), size=n_resamples) / len(correct)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


def mcnemar(correct_a, correct_b) -> dict:
    """McNemar's test on paired predictions: do models A and B err on the same reviews at different rates?

    Exact binomial test on the discordant pairs when there are fewer than 25 of them, else the chi-squared
    test with continuity correction (Edwards 1948).
    """
    a = np.asarray(correct_a, dtype=bool)
    b = np.asarray(correct_b, dtype=bool)
    only_a = int(np.sum(a & ~b))
    only_b = int(np.sum(~a & b))
    discordant = only_a + only_b
    if discordant == 0:
        return {"only_a_correct": 0, "only_b_correct": 0, "statistic": 0.0, "p_value": 1.0, "method": "none"}
    if discordant < 25:
        p = stats.binomtest(only_a, discordant, 0.5).pvalue
        return {"only_a_correct": only_a, "only_b_correct": only_b, "statistic": float(min(only_a, only_b)),
                "p_value": float(p), "method": "exact binomial"}
    statistic = (abs(only_a - only_b) - 1) ** 2 / discordant
    return {"only_a_correct": only_a, "only_b_correct": only_b, "statistic": float(statistic),
            "p_value": float(stats.chi2.sf(statistic, df=1)), "method": "chi-squared, continuity-corrected"}


def agreement(predicted_a, predicted_b) -> float:
    """Share of reviews on which two models give the same label."""
    return float(np.mean(np.asarray(predicted_a) == np.asarray(predicted_b)))


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion: sound at 0 or n successes, where the normal one collapses."""
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))

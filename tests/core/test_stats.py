import numpy as np
import pytest

from imdb_sentiment.core.stats import agreement, bootstrap_interval, mcnemar


def test_bootstrap_interval_matches_the_normal_approximation():
    correct = np.r_[np.ones(9000), np.zeros(1000)]  # accuracy 0.9 on 10,000 reviews
    low, high = bootstrap_interval(correct, n_resamples=2000)
    half_width = 1.96 * np.sqrt(0.9 * 0.1 / 10_000)  # 0.00588
    assert low == pytest.approx(0.9 - half_width, abs=0.0015)
    assert high == pytest.approx(0.9 + half_width, abs=0.0015)
    assert bootstrap_interval(correct, seed=1) != bootstrap_interval(correct, seed=2)


def test_mcnemar_exact_for_few_discordant_pairs():
    a = np.r_[np.ones(10), np.zeros(2), np.ones(50)]
    b = np.r_[np.zeros(10), np.ones(2), np.ones(50)]
    result = mcnemar(a, b)
    assert (result["only_a_correct"], result["only_b_correct"]) == (10, 2)
    assert result["method"] == "exact binomial"
    assert result["p_value"] == pytest.approx(2 * (1 + 12 + 66) / 4096)  # two-sided binomial, n=12, k<=2


def test_mcnemar_chi_squared_for_many_discordant_pairs():
    a = np.r_[np.ones(40), np.zeros(20)]
    b = np.r_[np.zeros(40), np.ones(20)]
    result = mcnemar(a, b)
    assert result["statistic"] == pytest.approx((40 - 20 - 1) ** 2 / 60)  # 6.0167
    assert result["p_value"] == pytest.approx(0.014171, abs=1e-5)
    assert mcnemar(a, a)["p_value"] == 1.0


def test_agreement():
    assert agreement([1, 0, 1, 1], [1, 1, 1, 0]) == 0.5

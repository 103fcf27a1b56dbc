import numpy as np
import pytest

from imdb_sentiment.analysis.confidence import abstention_finding, accuracy_at_coverage, confidence_table


class Split:
    labels = np.array([1, 1, 0, 0, 1])


def test_accuracy_on_the_most_confident_share():
    p = [0.99, 0.6, 0.45, 0.02, 0.3]  # confident and right, unsure and right, unsure and right, confident, wrong
    assert accuracy_at_coverage(p, Split.labels, 0.4) == 1.0  # 0.99 and 0.02
    assert accuracy_at_coverage(p, Split.labels, 1.0) == pytest.approx(0.8)
    assert accuracy_at_coverage(p, Split.labels, 0.6) == pytest.approx(2 / 3)  # adds 0.3 (conf 0.7), wrong


def test_the_table_applies_a_runs_temperature_and_names_the_best_abstainer():
    scored = {"test": Split, "models": {
        "sure": {"probs": np.array([0.999, 0.999, 0.001, 0.001, 0.001])},
        "scaled": {"probs": np.array([0.9, 0.8, 0.2, 0.1, 0.4]), "temperature": 2.0}}}
    table = confidence_table(scored)
    assert "ece_calibrated" in table["scaled"] and "ece_calibrated" not in table["sure"]
    assert table["sure"]["ece"] == pytest.approx(0.999 - 0.8)  # one bin: 99.9% sure, 4 of 5 right
    assert abstention_finding(table).startswith("Allowed to abstain on the 10% of test reviews it is least sure of, ")

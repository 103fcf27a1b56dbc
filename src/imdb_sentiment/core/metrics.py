"""Classification metrics from labels and predicted probabilities."""

from __future__ import annotations

import numpy as np
from sklearn import metrics


def classification_metrics(labels, probs, threshold: float = 0.5) -> dict:
    labels = np.asarray(labels).astype(int)
    probs = np.asarray(probs, dtype=float)
    predicted = (probs >= threshold).astype(int)
    tn, fp, fn, tp = metrics.confusion_matrix(labels, predicted, labels=[0, 1]).ravel().tolist()
    both_classes = len(np.unique(labels)) == 2
    return {
        "accuracy": metrics.accuracy_score(labels, predicted),
        "precision": metrics.precision_score(labels, predicted, zero_division=0),
        "recall": metrics.recall_score(labels, predicted, zero_division=0),
        "f1": metrics.f1_score(labels, predicted, zero_division=0),
        "roc_auc": metrics.roc_auc_score(labels, probs) if both_classes else None,
        "confusion": {"tn": tn, "fp": fp, "fn": fn, "tp": tp},
        "n": int(len(labels)),
    }


def metrics_with_interval(labels, probs, seed: int = 0) -> dict:
    """classification_metrics plus a 95% bootstrap interval of the accuracy (`accuracy_ci95`)."""
    from imdb_sentiment.core.stats import bootstrap_interval

    correct = (np.asarray(probs, dtype=float) >= 0.5) == np.asarray(labels).astype(bool)
    return {**classification_metrics(labels, probs), "accuracy_ci95": list(bootstrap_interval(correct, seed=seed))}


def test_fields(test: dict) -> dict:
    """classification_metrics of the test set under the names every run's metrics.json uses."""
    return {"test_accuracy": test["accuracy"], "test_f1": test["f1"], "test_precision": test["precision"],
            "test_recall": test["recall"], "test_roc_auc": test["roc_auc"], "test_confusion": test["confusion"],
            "test_n": test["n"]}

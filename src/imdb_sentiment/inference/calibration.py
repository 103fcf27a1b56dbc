"""Confidence that means what it says: temperature scaling (Guo et al. 2017, "On Calibration of Modern Neural
Networks") fitted on a run's validation split, and the expected calibration error that measures it.

One number per run, T, divides the model's margin (its logit for "positive" against "negative") before the sigmoid:
P(positive) = sigmoid(margin / T). It is fitted to minimise the validation reviews' log loss, so it moves no label
(the sign of the margin is kept) and changes only how sure the model says it is. `calibration.json` in the run
folder holds it, with the errors before and after; predictors apply it when it is there.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit

from imdb_sentiment.core import runs

CALIBRATION = "calibration.json"
ECE_BINS = 15


def fit_temperature(margins, labels) -> float:
    """The T > 0 minimising the log loss of sigmoid(margin / T) against `labels` (searched as log T in [-4, 4])."""
    margins, labels = np.asarray(margins, dtype=np.float64), np.asarray(labels, dtype=np.float64)

    def log_loss(log_t: float) -> float:
        z = margins / np.exp(log_t)
        return float(np.mean(np.logaddexp(0, z) - labels * z))  # -log sigmoid(z) for 1, -log(1 - sigmoid(z)) for 0

    return float(np.exp(minimize_scalar(log_loss, bounds=(-4, 4), method="bounded").x))


def expected_calibration_error(p_positive, labels, bins: int = ECE_BINS) -> float:
    """ECE over `bins` equal-width bins of confidence (the probability of the predicted label): the mean gap between
    confidence and accuracy, weighted by each bin's share of the reviews."""
    points = reliability(p_positive, labels, bins)
    total = sum(point["count"] for point in points)
    return float(sum(abs(point["confidence"] - point["accuracy"]) * point["count"] / total for point in points))


def reliability(p_positive, labels, bins: int = ECE_BINS) -> list[dict]:
    """Per confidence bin: its mean confidence, accuracy and count (a reliability diagram's points)."""
    p, labels = np.asarray(p_positive, dtype=np.float64), np.asarray(labels).astype(bool)
    confidence = np.maximum(p, 1 - p)
    correct = (p >= 0.5) == labels
    which = np.minimum(((confidence - 0.5) * 2 * bins).astype(int), bins - 1)  # confidence lies in [0.5, 1]
    return [{"confidence": float(confidence[which == b].mean()), "accuracy": float(correct[which == b].mean()),
             "count": int(np.sum(which == b))} for b in range(bins) if np.any(which == b)]


def margins_of(p_positive) -> np.ndarray:
    """The margins behind saved probabilities (a run's test scores), for applying a temperature to them."""
    p = np.clip(np.asarray(p_positive, dtype=np.float64), 1e-12, 1 - 1e-12)
    return np.log(p) - np.log1p(-p)


def calibrate(margins, labels) -> dict:
    """The fitted temperature and what it does to the log loss and ECE of these reviews."""
    margins, labels = np.asarray(margins, dtype=np.float64), np.asarray(labels)
    temperature = fit_temperature(margins, labels)
    before, after = expit(margins), expit(margins / temperature)
    return {"temperature": round(temperature, 6), "reviews": len(labels),
            "ece_before": expected_calibration_error(before, labels),
            "ece_after": expected_calibration_error(after, labels)}


def read_temperature(run_dir: Path) -> float | None:
    path = Path(run_dir) / CALIBRATION
    if not path.exists():
        return None
    try:
        temperature = float(json.loads(path.read_text())["temperature"])
    except (ValueError, KeyError, TypeError) as err:
        raise runs.RunError(f"{path} is not a calibration this version wrote ({err}); delete it and run "
                            f"`imdb-sentiment calibrate {run_dir}`") from err
    if not temperature > 0:
        raise runs.RunError(f"{path}: the temperature must be positive, got {temperature}")
    return temperature

"""Confidence that means what it says: a calibration fitted on a run's validation split, and the expected
calibration error that measures it.

- Temperature scaling (Guo et al. 2017, "On Calibration of Modern Neural Networks"), the default: one number per run,
  T, divides the model's margin (its logit for "positive" against "negative") before the sigmoid:
  P(positive) = sigmoid(margin / T), with T minimising the validation reviews' log loss.
- Isotonic regression (Zadrozny and Elkan 2002) of the chosen label's confidence, for a model whose miscalibration
  one T cannot undo: MPNet's scores bunch at 0.96 with the reviews it gets wrong just below, so the T that the log
  loss asks for raises the test ECE. The map is monotone and never goes below 0.5, so it keeps every label too.

Either moves no label (the sign of the margin is kept) and changes only how sure the model says it is.
`calibration.json` in the run folder holds it, with the errors before and after; predictors apply it when it is there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit

from imdb_sentiment.core import runs

CALIBRATION = "calibration.json"
ECE_BINS = 15
METHODS = ("temperature", "isotonic")


ABOVE_HALF = float(np.nextafter(0.5, 1))


@dataclass(frozen=True)
class Calibration:
    """What turns a margin into P(positive): a temperature, then (isotonic) a monotone map of the confidence given
    by its knots. The default changes nothing."""

    temperature: float = 1.0
    confidence_in: tuple[float, ...] = ()
    confidence_out: tuple[float, ...] = ()

    @property
    def method(self) -> str | None:
        return "isotonic" if self.confidence_in else "temperature" if self.temperature != 1.0 else None

    def p_positive(self, margins) -> np.ndarray:
        p = expit(np.asarray(margins, dtype=np.float64) / self.temperature)
        if not self.confidence_in:
            return p
        # Just above 0.5 at least: where the map reaches 0.5, a review labelled negative would get P(positive) =
        # 0.5, which every accuracy (p >= 0.5 is positive) counts as positive.
        confidence = np.maximum(np.interp(np.maximum(p, 1 - p), self.confidence_in, self.confidence_out), ABOVE_HALF)
        return np.where(p >= 0.5, confidence, 1 - confidence)

    def settings(self) -> dict:
        """What a prediction says of its calibration ({} for none), and what an exported card needs to apply it."""
        if self.method is None:
            return {}
        knots = {"confidence_in": list(self.confidence_in), "confidence_out": list(self.confidence_out)}
        return {"temperature": self.temperature, **(knots if self.confidence_in else {})}

    def describe(self) -> str:
        if self.method == "isotonic":
            return f"isotonic map of the confidence ({len(self.confidence_in)} knots)"
        return f"temperature {self.temperature:g}" if self.method else "none"

    @classmethod
    def from_settings(cls, settings: dict | None) -> Calibration:
        settings = settings or {}
        return cls(float(settings.get("temperature", 1.0)), tuple(map(float, settings.get("confidence_in", ()))),
                   tuple(map(float, settings.get("confidence_out", ()))))


def fit_temperature(margins, labels) -> float:
    """The T > 0 minimising the log loss of sigmoid(margin / T) against `labels` (searched as log T in [-4, 4])."""
    margins, labels = np.asarray(margins, dtype=np.float64), np.asarray(labels, dtype=np.float64)

    def loss_at(log_t: float) -> float:
        z = margins / np.exp(log_t)
        return float(np.mean(np.logaddexp(0, z) - labels * z))  # -log sigmoid(z) for 1, -log(1 - sigmoid(z)) for 0

    return float(np.exp(minimize_scalar(loss_at, bounds=(-4, 4), method="bounded").x))


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


def fit_isotonic(margins, labels) -> Calibration:
    """The monotone map from confidence (the probability of the chosen label) to the share of such reviews that are
    right, fitted on these reviews and held in [0.5, 1] so that no label moves."""
    from sklearn.isotonic import IsotonicRegression

    p = expit(np.asarray(margins, dtype=np.float64))
    confidence, correct = np.maximum(p, 1 - p), (p >= 0.5) == np.asarray(labels).astype(bool)
    fitted = IsotonicRegression(y_min=0.5, y_max=1.0, out_of_bounds="clip").fit(confidence, correct)
    return Calibration(1.0, tuple(np.round(fitted.X_thresholds_, 6)), tuple(np.round(fitted.y_thresholds_, 6)))


def fit(method: str, margins, labels) -> Calibration:
    if method == "temperature":
        return Calibration(round(fit_temperature(margins, labels), 6))
    if method == "isotonic":
        return fit_isotonic(margins, labels)
    raise ValueError(f"unknown calibration {method!r}; use {', '.join(METHODS)} or best")


def cross_validated_p(margins, labels, method: str, folds: int = 5, seed: int = 0) -> np.ndarray:
    """P(positive) of each review from the calibration `method` fitted on the other folds: an isotonic map fits its
    own reviews' bins almost exactly, so its in-sample ECE says little."""
    margins, labels = np.asarray(margins, dtype=np.float64), np.asarray(labels)
    order, p = np.random.default_rng(seed).permutation(len(labels)), np.empty(len(labels))
    for held in np.array_split(order, folds):
        rest = np.setdiff1d(order, held)
        p[held] = fit(method, margins[rest], labels[rest]).p_positive(margins[held])
    return p


def log_loss(p_positive, labels) -> float:
    p = np.clip(np.asarray(p_positive, dtype=np.float64), 1e-12, 1 - 1e-12)
    return float(-np.mean(np.where(np.asarray(labels).astype(bool), np.log(p), np.log1p(-p))))


def calibrate(margins, labels, method: str = "temperature") -> dict:
    """The fitted calibration's settings and what it does to the ECE of these reviews. "best" fits the method with
    the lower cross-validated ECE on them, and records the cross-validated log loss of each method and of none (a
    proper score, less noisy than the ECE of 500 reviews: whether these reviews ask for a calibration at all)."""
    margins, labels = np.asarray(margins, dtype=np.float64), np.asarray(labels)
    chosen = {}
    if method == "best":
        held_out = {m: cross_validated_p(margins, labels, m) for m in METHODS}
        cv_ece = {m: expected_calibration_error(p, labels) for m, p in held_out.items()}
        method = min(cv_ece, key=cv_ece.get)
        chosen = {"chosen_by": "5-fold cross-validated ECE on these reviews", "cross_validated_ece": cv_ece,
                  "cross_validated_log_loss": {m: log_loss(p, labels) for m, p in
                                               {"none": expit(margins), **held_out}.items()}}
    fitted = fit(method, margins, labels)
    return {"method": method, **fitted.settings(), "temperature": fitted.temperature, "reviews": len(labels),
            "ece_before": expected_calibration_error(expit(margins), labels),
            "ece_after": expected_calibration_error(fitted.p_positive(margins), labels), **chosen}


def read_calibration(run_dir: Path) -> Calibration:
    path = Path(run_dir) / CALIBRATION
    if not path.exists():
        return Calibration()
    try:
        saved = json.loads(path.read_text())
        if "temperature" not in saved:  # every calibration file names its temperature, 1 for an isotonic map
            raise KeyError("temperature")
        calibration = Calibration.from_settings(saved)
    except (ValueError, KeyError, TypeError) as err:
        raise runs.RunError(f"{path} is not a calibration this version wrote ({err}); delete it and run "
                            f"`imdb-sentiment calibrate {run_dir}`") from err
    if not calibration.temperature > 0:
        raise runs.RunError(f"{path}: the temperature must be positive, got {calibration.temperature}")
    knots = np.asarray(calibration.confidence_in), np.asarray(calibration.confidence_out)
    if len(knots[0]) != len(knots[1]) or np.any(np.diff(knots[0]) < 0) or np.any((knots[1] < 0.5) | (knots[1] > 1)):
        raise runs.RunError(f"{path}: the isotonic map must pair increasing confidences with values in [0.5, 1]")
    return calibration

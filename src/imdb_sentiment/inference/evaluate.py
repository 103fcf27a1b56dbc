"""Scoring saved runs on labelled reviews: a split of the dataset, a labelled file, or the test set the report
reads; and predictions for a list of items, per model."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from scipy.special import expit

from imdb_sentiment.core import runs
from imdb_sentiment.core.data import DataError, splits_for
from imdb_sentiment.core.metrics import metrics_with_interval
from imdb_sentiment.inference.calibration import (CALIBRATION, Calibration, calibrate, expected_calibration_error,
                                                  margins_of)
from imdb_sentiment.inference.io import Item, read_labelled
from imdb_sentiment.inference.predictors import Predictor, load_predictor


def evaluate_labelled(run_dir: str | Path, path: str | Path, text_column: str = "text", label_column: str = "label",
                      quantize: str | None = None, seed: int = 0, precision: str = "fp32",
                      trust_pickles: bool = False, min_confidence: float | None = None,
                      long_text: str = "truncate") -> dict:
    """Accuracy (with a bootstrap interval), F1 and confusion matrix of a run on a labelled set; items that cannot
    be read or scored are counted and named, and the rest are scored."""
    items, labels = read_labelled(path, text_column, label_column)
    predictor = load_predictor(run_dir, quantize=quantize, precision=precision, trust_pickles=trust_pickles,
                               min_confidence=min_confidence, long_text=long_text)
    return score_labelled(predictor, items, labels, path, seed)


def score_labelled(predictor: Predictor, items: list[Item], labels: list[int], path: str | Path,
                   seed: int = 0) -> dict:
    """evaluate_labelled's result for a loaded predictor and a set already read by `read_labelled`."""
    results = predictor.predict([item.text if item.error is None else None for item in items], progress=True)
    scored = [(label, r.p_positive) for item, label, r in zip(items, labels, results)
              if item.error is None and r.error is None]
    skipped = [{"source": item.source, "error": item.error or r.error}
               for item, r in zip(items, results) if item.error or r.error]
    if not scored:
        raise DataError(f"{path}: none of its {len(items)} reviews could be scored, e.g. {skipped[0]}")
    y, p = zip(*scored)
    return {**scored_metrics(predictor.name, str(path), y, p, seed, predictor.min_confidence), "skipped": skipped}


def predict_items(items: list[Item], predictors: list[Predictor], progress: bool = False) -> list[dict]:
    """One record per item: its source and, per model, a label and P(positive) (calibrated where the run has a
    calibration, which is then named) and the raw margin, or an error."""
    texts = [item.text if item.error is None else None for item in items]
    per_model = {p.name: p.predict(texts, progress=progress) for p in predictors}
    calibrated = {p.name: {"calibration": p.calibration.describe()} if p.calibration.method else {}
                  for p in predictors}
    records = []
    for k, item in enumerate(items):
        predictions = {}
        for name, results in per_model.items():
            r = results[k]
            error = item.error or r.error
            p_positive = None if error else round(r.p_positive, 4)
            predictions[name] = {"error": error} if error else {
                "label": r.label, "p_positive": p_positive, "truncated": r.truncated, "margin": round(r.margin, 4),
                **calibrated[name]}
        records.append({"source": item.source, "predictions": predictions})
    return records


def test_scores(predictor: Predictor, test) -> np.ndarray:
    """P(positive) per test review: the scores the run saved when its training ended (or when it was first scored
    in the predictor's int8/bf16 form), or, for a run without them (or one tested on other reviews), scored now;
    saved for next time when the run was tested on these reviews."""
    fingerprint = test.fingerprint()
    saved = runs.read_test_probabilities(predictor.run_dir, fingerprint, predictor.variant)
    if saved is not None:
        return saved
    probs = expit(predictor.margins(test.texts, progress=True))  # as trained: any calibration applies on top
    if runs.tested_on(predictor.run_dir, fingerprint):
        runs.write_test_probabilities(predictor.run_dir, probs, predictor.variant)
    return probs


def evaluate_run(run_dir: str | Path, split: str = "test", data: str | None = None,
                 quantize: str | None = None, precision: str = "fp32", trust_pickles: bool = False,
                 min_confidence: float | None = None, long_text: str = "truncate") -> dict:
    """Metrics of a saved run on the split it was trained with (or the same split of another copy of the data)."""
    predictor = load_predictor(run_dir, quantize=quantize, precision=precision, trust_pickles=trust_pickles,
                               min_confidence=min_confidence, long_text=long_text)
    reviews = splits_for(predictor.cfg, data)[split]
    results = predictor.predict(reviews.texts, progress=True)
    bad = [(review_id, r.error) for review_id, r in zip(reviews.ids, results) if r.error]
    if bad:
        raise DataError(f"{len(bad)} {split} reviews cannot be scored, e.g. {bad[0][0]}: {bad[0][1]}")
    return scored_metrics(predictor.name, f"{split} split", reviews.labels, [r.p_positive for r in results],
                          min_confidence=predictor.min_confidence)


def scored_metrics(name: str, data: str, labels, p_positive, seed: int = 0, min_confidence: float | None = None
                   ) -> dict:
    result = {"run": name, "data": data, **metrics_with_interval(labels, p_positive, seed)}
    if min_confidence:
        result["selective"] = selective(labels, p_positive, min_confidence)
    return result


def selective(labels, p_positive, min_confidence: float) -> dict:
    """Accuracy on the reviews the model does not abstain on (confidence at least `min_confidence`), and their
    share: selective prediction."""
    p, labels = np.asarray(p_positive, dtype=float), np.asarray(labels).astype(bool)
    kept = np.maximum(p, 1 - p) >= min_confidence
    return {"min_confidence": min_confidence, "coverage": float(kept.mean()),
            "accuracy": float(((p[kept] >= 0.5) == labels[kept]).mean()) if kept.any() else None}


def summary(result: dict) -> str:
    """One evaluation in a few readable lines."""
    low, high = result["accuracy_ci95"]
    c = result["confusion"]
    lines = [f"{result['run']} on {result['data']}: accuracy {result['accuracy']:.2%} (95% CI {low:.2%}-{high:.2%}) "
             f"over {result['n']:,} reviews, F1 {result['f1']:.3f}",
             f"  confusion: {c['tp']:,} true positive, {c['fn']:,} false negative, {c['tn']:,} true negative, "
             f"{c['fp']:,} false positive"]
    if result.get("selective"):
        sel = result["selective"]
        lines.append(f"  abstaining below confidence {sel['min_confidence']:g}: {sel['coverage']:.1%} of the reviews "
                     f"labelled, {sel['accuracy']:.2%} of those right" if sel["accuracy"] is not None else
                     f"  abstaining below confidence {sel['min_confidence']:g}: no review labelled")
    skipped = result.get("skipped") or []
    if skipped:
        lines.append(f"  {len(skipped)} reviews not scored, e.g. {skipped[0]['source']}: {skipped[0]['error']}")
    return "\n".join(lines)


FIT_ON = ("validation", "train_folds")


def calibrate_run(run_dir: str | Path, data: str | None = None, quantize: str | None = None,
                  method: str = "temperature", fit_on: str = "validation") -> dict:
    """Fit the run's calibration and save it (calibration.json), with the expected calibration error before and
    after on the reviews it was fitted on and, from the scores the run saved, on the test set. Later predictions of
    the run apply it. It is fitted on the validation split, or with `fit_on="train_folds"` (TF-IDF runs) on the
    out-of-fold scores of the whole training split. With `quantize`, the margins it is fitted on are the int8
    model's (for a run too slow to score its validation split otherwise, and served in int8)."""
    if fit_on not in FIT_ON:
        raise runs.RunError(f"--fit_on must be one of {', '.join(FIT_ON)}, got {fit_on!r}")
    predictor = load_predictor(run_dir, quantize=quantize)
    if predictor.run_dir == runs.BUILTIN_DIR and not os.access(predictor.run_dir, os.W_OK):
        raise runs.RunError(f"{run_dir}: cannot save a calibration here")
    splits = splits_for(predictor.cfg, data)
    if fit_on == "train_folds":
        if predictor.kind != "tfidf":
            raise runs.RunError("--fit_on train_folds refits the model on each of five folds: TF-IDF runs only "
                                "(a BiLSTM or a Transformer would train five more times)")
        from imdb_sentiment.models.tfidf import out_of_fold_margins

        m, train = predictor.cfg.model, splits["train"]
        C = json.loads((predictor.run_dir / "metrics.json").read_text())["C"]
        margins = out_of_fold_margins(m.variant, m.ngram_max, m.min_df, C, predictor.cfg.train.seed, train.texts,
                                      train.labels)
        result = {"fitted_on": "out-of-fold scores of the training split (5 folds)",
                  **calibrate(margins, train.labels, method)}
    else:
        result = {"fitted_on": "validation split" + (f", {predictor.variant} model" if predictor.variant else ""),
                  **calibrate(predictor.margins(splits["val"].texts, progress=True), splits["val"].labels, method)}
    test = splits["test"]
    saved = runs.read_test_probabilities(predictor.run_dir, test.fingerprint(), predictor.variant)
    if saved is not None:  # the run's own test scores are uncalibrated: the calibration applies to their margins
        calibrated = Calibration.from_settings(result).p_positive(margins_of(saved))
        result["test_ece_before"] = expected_calibration_error(saved, test.labels)
        result["test_ece_after"] = expected_calibration_error(calibrated, test.labels)
    runs.write_json(predictor.run_dir / CALIBRATION, {**result, "date": runs.today(), "command": runs.command_line()})
    return result


def calibration_summary(name: str, result: dict) -> str:
    line = (f"{name}: {Calibration.from_settings(result).describe()} (fitted on {result['reviews']:,} reviews, "
            f"{result['fitted_on']}); expected calibration error {result['ece_before']:.2%} -> "
            f"{result['ece_after']:.2%}")
    if "test_ece_before" in result:
        line += f", on the test set {result['test_ece_before']:.2%} -> {result['test_ece_after']:.2%}"
    return line

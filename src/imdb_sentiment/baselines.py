"""Linear baselines on n-gram features: TF-IDF logistic regression, and NB-SVM (Wang & Manning, 2012) in its
logistic-regression form: binary uni+bigram features scaled by Naive Bayes log-count ratios.

The regularisation strength C is chosen on the validation split; the test set is scored once.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import joblib
import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from . import runs
from .config import TfidfConfig
from .data import Reviews, splits_for
from .evaluation import classification_metrics, test_fields
from .text import tokenize

log = logging.getLogger(__name__)


class NBFeatures(BaseEstimator, TransformerMixin):
    """Scale each feature by log((p / |p|) / (q / |q|)), p and q its smoothed counts in positive and negative
    reviews: the Naive Bayes evidence a linear model then reweights."""

    def __init__(self, alpha: float = 1.0):
        self.alpha = alpha

    def fit(self, X, y):
        y = np.asarray(y)
        p = self.alpha + np.asarray(X[y == 1].sum(axis=0)).ravel()
        q = self.alpha + np.asarray(X[y == 0].sum(axis=0)).ravel()
        self.ratios_ = np.log((p / p.sum()) / (q / q.sum()))
        return self

    def transform(self, X):
        return sparse.csr_matrix(X).multiply(self.ratios_).tocsr()


def build_pipeline(variant: str, ngram_max: int, min_df: int, C: float, seed: int) -> Pipeline:
    ngrams = {"tokenizer": tokenize, "lowercase": False, "token_pattern": None, "ngram_range": (1, ngram_max),
              "min_df": min_df}
    classifier = LogisticRegression(C=C, max_iter=2000, solver="liblinear", random_state=seed)
    if variant == "nbsvm":
        return Pipeline([("counts", CountVectorizer(binary=True, **ngrams)), ("nb", NBFeatures()),
                         ("classifier", classifier)])
    return Pipeline([("tfidf", TfidfVectorizer(sublinear_tf=True, **ngrams)), ("classifier", classifier)])


def train_tfidf(cfg: TfidfConfig, command: str | None = None, splits: dict[str, Reviews] | None = None) -> Path:
    mc, tc = cfg.model, cfg.train
    run_dir = Path(tc.output_dir)
    # Seconds to train: nothing to resume, and a run that failed before it finished simply starts over.
    runs.prepare_run_dir(run_dir, resume=True, checkpoint=None)
    splits = splits or splits_for(cfg)
    runs.write_run_info(run_dir, "tfidf", cfg, splits)

    start = time.perf_counter()
    # Features depend only on the training text, so fit them once and try each C on top.
    features = build_pipeline(mc.variant, mc.ngram_max, mc.min_df, 1.0, tc.seed)[:-1]
    train_x = features.fit_transform(splits["train"].texts, splits["train"].labels)
    val_x = features.transform(splits["val"].texts)
    history, best = [], None
    for C in mc.C:
        classifier = LogisticRegression(C=C, max_iter=2000, solver="liblinear", random_state=tc.seed)
        classifier.fit(train_x, splits["train"].labels)
        val_accuracy = float(classifier.score(val_x, splits["val"].labels))
        history.append({"C": C, "val_accuracy": val_accuracy})
        if best is None or val_accuracy > best[0]:
            best = (val_accuracy, C, classifier)
    train_seconds = time.perf_counter() - start
    if len(mc.C) > 1 and best[1] in (min(mc.C), max(mc.C)):
        log.warning("C=%s, the edge of the grid tried (%s), did best on validation: a wider grid may do better",
                    best[1], mc.C)
    pipeline = Pipeline([*features.steps, ("classifier", best[2])])
    with runs.atomic_path(run_dir / "model.joblib") as tmp:
        joblib.dump(pipeline, tmp)
    runs.write_json(run_dir / "history.json", history)

    test_probs = pipeline.predict_proba(splits["test"].texts)[:, 1]
    test = classification_metrics(splits["test"].labels, test_probs)
    n_features = len(pipeline[0].vocabulary_)
    metrics = {
        "model": "tfidf", "variant": mc.variant, "C": best[1], "C_grid": mc.C, "features": n_features,
        "val_accuracy": best[0], **test_fields(test),
        "epochs": 1, "best_epoch": 1, "stopped_by": "converged", "train_seconds": round(train_seconds, 1),
        "seconds_per_epoch": round(train_seconds, 1), "params": n_features + 1, "trainable_params": n_features + 1,
        "glove_coverage": None, "train_samples": len(splits["train"]),
        "hardware": runs.hardware(), "command": command or runs.command_line(), "date": runs.today(),
    }
    runs.write_test_probabilities(run_dir, test_probs)
    runs.write_json(run_dir / "metrics.json", metrics)
    print(f"test accuracy {test['accuracy']:.4f} (C={best[1]}); run in {run_dir}")
    return run_dir


def load_tfidf_run(run_dir: str | Path):
    cfg = runs.load_run_config(run_dir, "tfidf", TfidfConfig, "model.joblib")
    return joblib.load(Path(run_dir) / "model.joblib"), cfg

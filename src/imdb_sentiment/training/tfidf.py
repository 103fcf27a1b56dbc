"""Fitting the linear baselines: features once on the training text, then each C in turn, chosen on validation;
the test set is scored once."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from imdb_sentiment.core import hardware, runs
from imdb_sentiment.core.config import TfidfConfig
from imdb_sentiment.core.data import Reviews, splits_for
from imdb_sentiment.core.metrics import classification_metrics, test_fields
from imdb_sentiment.models.tfidf import build_pipeline, save_pipeline

log = logging.getLogger(__name__)


def train_tfidf(cfg: TfidfConfig, command: str | None = None, splits: dict[str, Reviews] | None = None) -> Path:
    mc, tc = cfg.model, cfg.train
    run_dir = Path(tc.output_dir)
    # Seconds to train: nothing to resume, and a run that failed before it finished simply starts over.
    runs.prepare_run_dir(run_dir, resume=True, checkpoint=None, kind="tfidf")
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
    save_pipeline(pipeline, mc.variant, mc.ngram_max, run_dir)
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
        "hardware": hardware.hardware(), "command": command or runs.command_line(), "date": runs.today(),
    }
    runs.write_test_probabilities(run_dir, test_probs)
    runs.write_json(run_dir / "metrics.json", metrics)
    print(f"test accuracy {test['accuracy']:.4f} (C={best[1]}); run in {run_dir}")
    return run_dir



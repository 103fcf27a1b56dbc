"""`imdb-sentiment curves`: learning curves, i.e. test accuracy against the amount of labelled training data.

What pretraining buys shows as sample efficiency: how few labelled reviews a model needs for a given accuracy.
Each point draws a stratified subset of the training reviews (a different one per seed), holds out 10% of it (at
least 50 reviews) for early stopping or choosing C, trains one model on the rest, and scores it on one fixed
stratified test subset, the same for every point. The 25,000-review point is a full run: a finished one's test
scores can stand in for it (`full_runs`).

Small subsets need more passes, so every neural model follows one rule: at least `min_updates` optimizer updates
(its full-data epoch count when that gives more), with its early-stopping patience scaled by the same factor.

Points already in curves.json are skipped, so a sweep resumes where it stopped and can be split between
sessions or machines (`only` picks the models a machine trains).
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np

from imdb_sentiment.analysis.curves import point_key, read_points, write_outputs
from imdb_sentiment.apps.train import CONFIG_CLASSES, config_kind, train
from imdb_sentiment.core import runs
from imdb_sentiment.core.config import CurvesConfig
from imdb_sentiment.core.data import Reviews, load_imdb, stratified_indices, stratified_sample, stratified_split
from imdb_sentiment.core.fields import ConfigError, load_config
from imdb_sentiment.core.metrics import classification_metrics

QUICK = {"sizes": [100, 200, 400], "seeds": 1, "test_size": 500, "min_updates": 30,
         "output_dir": "runs/curves_quick", "runs_dir": "runs/curves_quick/runs"}


QUICK_MODEL = {"transformer": {"model.max_length": 128, "train.precision": "auto"}, "bilstm": {}, "tfidf": {}}


def planned_points(c) -> list[tuple[str, int, int]]:
    """(model, size, seed) for every point of the sweep: smallest sizes first, so a cut-short sweep has whole
    curves at the sizes it reached."""
    return [(Path(path).stem, size, seed) for size in sorted(c.sizes)
            for seed in range(c.seeds if size <= c.multi_seed_max else 1) for path in c.configs]


def point_splits(train: Reviews, test: Reviews, size: int, seed: int, c) -> dict[str, Reviews]:
    pool = stratified_sample(train, size, seed)
    held_out = max(c.val_fraction, c.min_val / len(pool))
    if held_out > 0.5:
        raise ConfigError(f"a subset of {len(pool)} reviews cannot hold out min_val={c.min_val} for validation "
                          f"and still train on as many; use larger sizes or a smaller min_val")
    rest, val = stratified_split(pool, held_out, seed)
    return {"train": rest, "val": val, "test": test}


def schedule(kind: str, cfg, train_reviews: int, min_updates: int) -> dict:
    """Config overrides that give a neural model at least `min_updates` updates, patience scaled alike."""
    if kind == "tfidf":
        return {}
    t = cfg.train
    epochs = t.max_epochs if kind == "bilstm" else math.ceil(t.num_epochs)
    per_update = t.batch_size * (t.gradient_accumulation_steps if kind == "transformer" else 1)
    needed = max(epochs, math.ceil(min_updates / math.ceil(train_reviews / per_update)))
    patience = max(t.patience, math.ceil(t.patience * needed / epochs))
    if kind == "bilstm":
        return {"train.max_epochs": needed, "train.patience": patience}
    return {"train.num_epochs": float(max(t.num_epochs, needed)), "train.patience": patience, "train.save_steps": 0}


def full_run_point(run_dir: str | Path, test: Reviews, subset: np.ndarray) -> dict:
    """A finished full run's score on the test subset, from its saved scores of the whole test set."""
    run_dir = Path(run_dir)
    try:
        metrics = json.loads((run_dir / "metrics.json").read_text())
        probs = np.load(run_dir / runs.TEST_PROBABILITIES)
    except (OSError, ValueError) as err:
        raise runs.RunError(f"full run {run_dir}: cannot read its metrics.json and test scores ({err})") from err
    # The scores carry no review ids: they must be of this test set, in this order, as the run's own accuracy shows.
    if len(probs) != len(test) or classification_metrics(test.labels, probs)["accuracy"] != metrics["test_accuracy"]:
        raise runs.RunError(f"full run {run_dir}: its test scores are not of these {len(test):,} test reviews")
    return {"test_accuracy": classification_metrics(test.labels[subset], probs[subset])["accuracy"],
            "train_seconds": metrics["train_seconds"], "trained_on": metrics["train_samples"],
            "validated_on": len(test) // 10, "epochs": metrics["epochs"], "best_epoch": metrics["best_epoch"],
            "val_accuracy": metrics["val_accuracy"], "hardware": metrics["hardware"], "date": metrics["date"],
            "source": str(run_dir)}


def trained_point(path: str, kind: str, splits: dict, size: int, seed: int, c) -> dict:
    run_dir = Path(c.runs_dir) / f"{Path(path).stem}-n{size}-s{seed}"
    overrides = {"train.output_dir": str(run_dir), "train.seed": seed, **(QUICK_MODEL[kind] if c.quick else {})}
    cfg = load_config(CONFIG_CLASSES[kind], path, overrides)
    cfg = load_config(CONFIG_CLASSES[kind], path, {**overrides, **schedule(kind, cfg, len(splits["train"]),
                                                                           c.min_updates)})
    if kind != "tfidf" and (run_dir / "run.json").exists() and not (run_dir / "metrics.json").exists():
        cfg.train.resume = True  # an interrupted point continues from its last checkpoint
    if not (run_dir / "metrics.json").exists():
        train(kind, cfg, splits)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    if not c.keep_runs:
        shutil.rmtree(run_dir)
    return {"test_accuracy": metrics["test_accuracy"], "train_seconds": metrics["train_seconds"],
            "trained_on": len(splits["train"]), "validated_on": len(splits["val"]), "epochs": metrics["epochs"],
            "best_epoch": metrics["best_epoch"], "val_accuracy": metrics["val_accuracy"],
            "hardware": metrics["hardware"], "date": metrics["date"], "source": "trained"}


def run_curves(cfg: CurvesConfig) -> Path:
    c = cfg.curves
    if c.quick:
        for name, value in QUICK.items():
            setattr(c, name, value)
    kinds = {Path(path).stem: (path, config_kind(path)) for path in c.configs}
    full_runs = dict(pair.split("=", 1) for pair in c.full_runs or [] if "=" in pair)
    if len(full_runs) != len(c.full_runs or []) or set(map(_stem, full_runs)) - set(kinds):
        raise ConfigError(f"full_runs must be CONFIG=DIR pairs naming listed configs, got {c.full_runs}")
    full_runs = {_stem(k): v for k, v in full_runs.items()}
    out = Path(c.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    points = read_points(out / "curves.json")
    done = {point_key(p) for p in points}
    for other in c.merge or []:
        new = [p for p in read_points(Path(other), must_exist=True) if point_key(p) not in done]
        points += new
        done |= {point_key(p) for p in new}

    splits = load_imdb(c.data, allow_partial=True)
    test = splits["test"]
    subset = (np.arange(len(test)) if c.test_size >= len(test)
              else stratified_indices(test.labels, c.test_size / len(test), c.test_seed)[1])
    test_subset = test.take(subset)
    test_fingerprint = test_subset.fingerprint()
    if any(p["test_fingerprint"] != test_fingerprint for p in points):
        raise runs.RunError(f"{out / 'curves.json'} holds points scored on another test subset; use another "
                            f"output_dir, or the same test_size and test_seed")
    todo = [p for p in planned_points(c) if p not in done and (not c.only or p[0] in c.only)]
    print(f"learning curves: {len(done)} points already in {out / 'curves.json'}, {len(todo)} to go")
    for n, (model, size, seed) in enumerate(todo, 1):
        path, kind = kinds[model]
        print(f"[{n}/{len(todo)}] {model}: {size:,} reviews, seed {seed}")
        if model in full_runs and size >= len(splits["train"]):
            result = full_run_point(full_runs[model], test, subset)
        else:
            result = trained_point(path, kind, point_splits(splits["train"], test_subset, size, seed, c), size,
                                   seed, c)
        points.append({"model": model, "train_size": size, "seed": seed, **result, "test_n": len(subset),
                       "test_fingerprint": test_fingerprint})
        write_outputs(points, out)
        print(f"    test accuracy {result['test_accuracy']:.4f} ({result['train_seconds']:.0f} s training)")
    write_outputs(points, out)
    print(f"learning curves: {out / 'curves.md'} and {out / 'curves.png'}")
    return out


def _stem(path: str) -> str:
    return Path(path).stem

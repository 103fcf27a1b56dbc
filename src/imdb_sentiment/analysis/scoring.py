"""Scoring runs for the report: every model's test scores and speed, pairs of models compared, accuracy by review
length, examples of where models differ, and scores on other labelled sets."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import numpy as np

from imdb_sentiment.core import hardware, runs
from imdb_sentiment.core.data import splits_for
from imdb_sentiment.core.metrics import metrics_with_interval
from imdb_sentiment.core.stats import agreement, mcnemar
from imdb_sentiment.inference.evaluate import score_labelled, test_scores
from imdb_sentiment.inference.io import read_labelled
from imdb_sentiment.inference.predictors import load_predictor


def size_on_disk(run_dir: Path) -> int:
    """Bytes a deployment needs: the run folder without training checkpoints and saved test scores."""
    return sum(p.stat().st_size for p in run_dir.rglob("*")
               if p.is_file() and not p.name.startswith("test_probabilities")
               and not any(part.startswith("checkpoint") for part in p.relative_to(run_dir).parts))


def excerpt(text: str, limit: int = 300) -> str:
    text = " ".join(text.replace("<br />", " ").split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " ..."


def score_runs(run_dirs: list[str], data: str | None = None, batch_size: int = 64, latency_reviews: int = 100,
               throughput_reviews: int = 2000, seed: int = 0, quantize: str | None = None) -> dict:
    """Every run's test scores and speed; refuse runs trained or tested on other reviews.

    A run's scores are those it saved when training ended; older runs are scored here once and the scores saved.
    Speed is timed here, for every model in the same process: a random sample of test reviews in batches
    (throughput), and reviews one at a time (latency)."""
    infos = {str(r): runs.read_run(r) for r in run_dirs}
    reference = next(iter(infos))
    for run, info in infos.items():
        for split, verb in (("train", "trained"), ("test", "tested")):
            if info["data_fingerprint"][split] != infos[reference]["data_fingerprint"][split]:
                raise runs.RunError(f"{run} was {verb} on other reviews than {reference} (another dataset, subset or "
                                    "seed); retrain it with the same [data] settings and seed, or compare it apart.")
    predictors = [load_predictor(r, batch_size, quantize) for r in run_dirs]
    names = [p.name for p in predictors]
    if len(set(names)) != len(names):
        raise runs.RunError(f"two runs share a folder name ({names}); the report names models by folder")
    test = splits_for(predictors[0].cfg, data)["test"]
    rng = np.random.default_rng(seed)
    speed_sample = [test.texts[i] for i in rng.choice(len(test), size=min(throughput_reviews, len(test)), replace=False)]
    latency_sample = speed_sample[:latency_reviews]
    models = {}
    for predictor, run_dir in zip(predictors, run_dirs):
        probs = test_scores(predictor, test)
        start = time.perf_counter()
        predictor.predict(speed_sample)
        seconds = time.perf_counter() - start
        latencies = []
        for text in latency_sample:
            start = time.perf_counter()
            predictor.predict([text])
            latencies.append(1000 * (time.perf_counter() - start))
        trained = json.loads((Path(run_dir) / "metrics.json").read_text())
        history = Path(run_dir) / "history.json"
        if not models:  # the runs share their training reviews (checked above), so one count holds for all
            train_samples = trained.get("train_samples")
        models[predictor.name] = {
            "kind": predictor.kind, "variant": trained.get("variant"), "run_dir": str(run_dir),
            **metrics_with_interval(test.labels, probs, seed), "params": trained.get("params"),
            "trainable_params": trained.get("trainable_params"), "size_bytes": size_on_disk(Path(run_dir)),
            "train_seconds": trained.get("train_seconds"), "train_hardware": trained.get("hardware"),
            "epochs": trained.get("epochs"), "teacher": trained.get("teacher"),
            "train_samples": trained.get("train_samples"),
            "calibration": predictor.calibration.settings() or None,
            "history": json.loads(history.read_text()) if history.exists() else None,
            "throughput_reviews_per_s": len(speed_sample) / seconds,
            "latency_ms_p50": float(np.percentile(latencies, 50)), "latency_ms_p95": float(np.percentile(latencies, 95)),
            "probs": probs,
        }
    return {"test": test, "models": models, "batch_size": batch_size, "latency_reviews": len(latency_sample),
            "throughput_reviews": len(speed_sample), "hardware": hardware.hardware(), "date": runs.today(),
            "train_samples": train_samples}


def compare_pairs(scored: dict) -> list[dict]:
    labels = scored["test"].labels.astype(bool)
    pairs = []
    for (a, ma), (b, mb) in itertools.combinations(scored["models"].items(), 2):
        pred_a, pred_b = ma["probs"] >= 0.5, mb["probs"] >= 0.5
        pairs.append({"a": a, "b": b, "agreement": agreement(pred_a, pred_b),
                      **mcnemar(pred_a == labels, pred_b == labels)})
    return pairs


def accuracy_by_length(scored: dict, bins: int = 5) -> dict:
    words = np.array([len(t.split()) for t in scored["test"].texts])
    edges = np.unique(np.quantile(words, np.linspace(0, 1, bins + 1)).astype(int))
    which = np.clip(np.searchsorted(edges, words, side="right") - 1, 0, len(edges) - 2)
    labels = scored["test"].labels.astype(bool)
    result = {"edges": edges.tolist(), "counts": np.bincount(which, minlength=len(edges) - 1).tolist(), "models": {}}
    for name, m in scored["models"].items():
        correct = (m["probs"] >= 0.5) == labels
        result["models"][name] = [float(correct[which == k].mean()) for k in range(len(edges) - 1)]
    return result


def error_examples(scored: dict, a: str, b: str, n: int = 3) -> list[dict]:
    """Reviews `a` gets right and `b` gets wrong, those where `b` was most confidently wrong first."""
    test, labels = scored["test"], scored["test"].labels.astype(bool)
    pa, pb = scored["models"][a]["probs"], scored["models"][b]["probs"]
    chosen = np.flatnonzero(((pa >= 0.5) == labels) & ((pb >= 0.5) != labels))
    chosen = chosen[np.argsort(-np.abs(pb[chosen] - 0.5))][:n]
    return [{"id": test.ids[i], "label": "positive" if labels[i] else "negative", a: float(pa[i]), b: float(pb[i]),
             "excerpt": excerpt(test.texts[i])} for i in chosen]


def confident_mistakes(scored: dict, name: str, n: int = 2) -> dict:
    test, labels, probs = scored["test"], scored["test"].labels.astype(bool), scored["models"][name]["probs"]
    out = {}
    for kind, wrong in (("false positives", (probs >= 0.5) & ~labels), ("false negatives", (probs < 0.5) & labels)):
        idx = np.flatnonzero(wrong)
        idx = idx[np.argsort(-np.abs(probs[idx] - 0.5))][:n]
        out[kind] = [{"id": test.ids[i], "probability": float(probs[i]), "excerpt": excerpt(test.texts[i], 200)}
                     for i in idx]
    return out


def score_other_data(run_dirs: list[str], names: list[str], sets: list[str], quantize: str | None) -> dict:
    """{set: {model: evaluate_labelled's result}} for each extra labelled set; each set read and each model loaded
    once."""
    read = {str(d): read_labelled(d) for d in sets}
    scores: dict = {d: {} for d in read}
    for name, run in zip(names, run_dirs):
        predictor = load_predictor(run, quantize=quantize)
        for d, (items, labels) in read.items():
            scores[d][name] = score_labelled(predictor, items, labels, d)
    return scores


def score_pair_data(run_dirs: list[str], names: list[str], path: str | None, quantize: str | None) -> dict:
    """{model: evaluate --pairs result} on a pairs file in Kaushik et al.'s layout (Text, Sentiment, batch_id)."""
    if not path:
        return {}
    from imdb_sentiment.inference.pairs import evaluate_pairs

    return {name: {**evaluate_pairs(run, path, "Text", "Sentiment", quantize=quantize), "file": None}
            for name, run in zip(names, run_dirs)}

"""Paired evaluation on counterfactual reviews (Kaushik et al., ICLR 2020): each pair is an IMDB review and the same
review minimally revised by a person so that the other label applies. A model that reads the words deciding the
verdict gets both right; one that reads topic and tone gets the original right and the revision wrong.

In a pairs file the original comes first and its revision second (as in Kaushik et al.'s `*_paired.tsv`); pairs
are told apart by a column (`batch_id` there). Accuracy on the originals, on the revisions, and consistency (both
of a pair right) each get a 95% bootstrap interval over pairs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from imdb_sentiment.core.data import DataError
from imdb_sentiment.core.stats import bootstrap_interval
from imdb_sentiment.inference.io import Item, read_labelled
from imdb_sentiment.inference.predictors import Predictor, load_predictor

PAIR_COLUMN = "batch_id"  # Kaushik et al.'s name, used when a file has it and no other is given


def pair_indices(items: list[Item], labels: list) -> list[tuple[int, int]]:
    """(original, revision) row indices per pair, in file order; every pair must have two rows of opposite labels."""
    rows: dict[object, list[int]] = {}
    for k, item in enumerate(items):
        if item.pair in (None, ""):
            raise DataError(f"{item.source}: no pair id")
        rows.setdefault(item.pair, []).append(k)
    for pair, members in rows.items():
        if len(members) != 2:
            raise DataError(f"pair {pair!r} has {len(members)} rows ({items[members[0]].source}); a pair is an original "
                            f"and its revision")
        first, second = members
        if labels[first] is not None and labels[first] == labels[second]:
            raise DataError(f"pair {pair!r}: both rows are labelled {'positive' if labels[first] else 'negative'}; a "
                            f"revision takes the other label")
    return [tuple(members) for members in rows.values()]


def paired_metrics(labels: list, p_positive: list, pairs: list[tuple[int, int]], seed: int = 0) -> dict:
    """Accuracy on originals and revisions and consistency, each with its 95% bootstrap interval over pairs."""
    correct = np.array([p is not None and (p >= 0.5) == bool(y) for y, p in zip(labels, p_positive)])
    original, revision = correct[[a for a, _ in pairs]], correct[[b for _, b in pairs]]
    result = {"pairs": len(pairs)}
    for name, values in (("original", original), ("revision", revision), ("consistency", original & revision)):
        result[f"{name}_accuracy" if name != "consistency" else name] = float(values.mean())
        result[f"{name}_ci95"] = list(bootstrap_interval(values, seed=seed))
    result["correct_revisions"] = revision.tolist()  # per pair, for McNemar's test between models
    return result


def score_pairs(predictor: Predictor, items: list[Item], labels: list, path: str | Path, seed: int = 0) -> dict:
    pairs = pair_indices(items, labels)
    results = predictor.predict([item.text if item.error is None else None for item in items])
    unscored = [(item.source, item.error or r.error) for item, r in zip(items, results) if item.error or r.error]
    if unscored:  # a pair with an unscored half counts as a miss; say how many there were
        print(f"{len(unscored)} reviews could not be scored (counted as wrong), e.g. {unscored[0][0]}: {unscored[0][1]}")
    return {"run": predictor.name, "data": str(path),
            **paired_metrics(labels, [r.p_positive for r in results], pairs, seed)}


def evaluate_pairs(run_dir: str | Path, path: str | Path, text_column: str = "text", label_column: str = "label",
                   pair_column: str = PAIR_COLUMN, quantize: str | None = None, precision: str = "fp32",
                   trust_pickles: bool = False, seed: int = 0) -> dict:
    items, labels = read_labelled(path, text_column, label_column, pair_column)
    predictor = load_predictor(run_dir, quantize=quantize, precision=precision, trust_pickles=trust_pickles)
    return score_pairs(predictor, items, labels, path, seed)


def pairs_summary(result: dict) -> str:
    def line(name: str, value: float, ci: list) -> str:
        return f"  {name}: {value:.1%} (95% CI {ci[0]:.1%}-{ci[1]:.1%})"

    return "\n".join([f"{result['run']} on {result['pairs']:,} pairs of {result['data']}",
                      line("originals", result["original_accuracy"], result["original_ci95"]),
                      line("revisions", result["revision_accuracy"], result["revision_ci95"]),
                      line("consistency (both right)", result["consistency"], result["consistency_ci95"])])

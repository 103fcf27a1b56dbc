"""The table of results/counterfactual/README.md from the JSON files bench/pairs_augmentation.sh wrote: each model
with and without the pairs, on IMDB's test set and the dev pairs, with McNemar's test between the two.

    python bench/pairs_table.py tfidf-nbsvm [NAME ...]      # the full test split: IMDB_SENTIMENT_DATA

A run tested on a stratified subset (`--max_eval_samples N`, the default seed) is compared on that subset.
"""

import json
import sys
from functools import cache
from pathlib import Path

import numpy as np

from imdb_sentiment.core.data import load_splits
from imdb_sentiment.core.stats import mcnemar

OUT = Path("results/counterfactual")


@cache
def test_labels(reviews: int) -> np.ndarray:
    return load_splits(max_eval_samples=None if reviews == 25_000 else reviews)["test"].labels


def variant_label(variant: str) -> str:
    """'pairs3-copies' (the pairs three times, and augmented copies) -> '+ pairs x3 + copies'."""
    repeat, _, extra = variant[len("pairs"):].partition("-")
    return "+ pairs" + (f" x{repeat}" if repeat else "") + (f" + {extra}" if extra else "")


def row(name: str) -> list[str]:
    """Rows of NAME-plain and each NAME-pairs* variant there is (pairs3: the pairs added three times; pairs3-copies:
    and augmented copies), each followed by McNemar's test against plain."""
    variants = ["plain"] + sorted(f.name[len(name) + 1:-len(".dev_pairs.json")]
                                  for f in OUT.glob(f"{name}-pairs*.dev_pairs.json"))
    dev = {v: json.loads((OUT / f"{name}-{v}.dev_pairs.json").read_text()) for v in variants}
    test = {v: json.loads((OUT / f"{name}-{v}.metrics.json").read_text()) for v in variants}
    probs = {v: np.load(OUT / f"{name}-{v}.test_probabilities.npy") for v in variants}
    right = {v: (p >= 0.5) == test_labels(len(p)) for v, p in probs.items()}
    rows = []
    for v in variants:
        d = dev[v]
        label = "" if v == "plain" else variant_label(v)
        reviews = "" if len(probs[v]) == 25_000 else f" ({len(probs[v]):,})"
        rows.append(f"| {name} {label} | {test[v]['test_accuracy']:.2%}{reviews} | {d['original_accuracy']:.1%} | "
                    f"{d['revision_accuracy']:.1%} ({d['revision_ci95'][0]:.1%}-{d['revision_ci95'][1]:.1%}) | "
                    f"{d['consistency']:.1%} ({d['consistency_ci95'][0]:.1%}-{d['consistency_ci95'][1]:.1%}) |")
        if v != "plain":
            revisions = mcnemar(d["correct_revisions"], dev["plain"]["correct_revisions"])["p_value"]
            rows.append(f"| (against plain: McNemar p on the revisions {revisions:.2g}, on IMDB's test set "
                        f"{mcnemar(right[v], right['plain'])['p_value']:.2g}) | | | | |")
    return rows


if __name__ == "__main__":
    print("| model | IMDB test | dev originals | dev revisions (95% CI) | consistency (95% CI) |")
    print("|---|---|---|---|---|")
    for name in sys.argv[1:]:
        print("\n".join(row(name)))

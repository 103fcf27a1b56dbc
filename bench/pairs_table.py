"""The table of results/counterfactual/README.md from the JSON files bench/pairs_augmentation.sh wrote: each model
with and without the pairs, on IMDB's test set and the dev pairs, with McNemar's test between the two.

    python bench/pairs_table.py tfidf-nbsvm [NAME ...]      # the full test split: IMDB_SENTIMENT_DATA
"""

import json
import sys
from pathlib import Path

import numpy as np

from imdb_sentiment.core.data import load_imdb
from imdb_sentiment.core.stats import mcnemar

OUT = Path("results/counterfactual")


def row(name: str) -> list[str]:
    dev = {v: json.loads((OUT / f"{name}-{v}.dev_pairs.json").read_text()) for v in ("plain", "pairs")}
    test = {v: json.loads((OUT / f"{name}-{v}.metrics.json").read_text()) for v in ("plain", "pairs")}
    probs = {v: np.load(OUT / f"{name}-{v}.test_probabilities.npy") for v in ("plain", "pairs")}
    labels = load_imdb()["test"].labels
    cells = []
    for v in ("plain", "pairs"):
        d = dev[v]
        cells.append(f"{name} {'+ pairs' if v == 'pairs' else ''} | {test[v]['test_accuracy']:.2%} | "
                     f"{d['original_accuracy']:.1%} | {d['revision_accuracy']:.1%} ({d['revision_ci95'][0]:.1%}-"
                     f"{d['revision_ci95'][1]:.1%}) | {d['consistency']:.1%} ({d['consistency_ci95'][0]:.1%}-"
                     f"{d['consistency_ci95'][1]:.1%})")
    revisions = mcnemar(dev["pairs"]["correct_revisions"], dev["plain"]["correct_revisions"])["p_value"]
    note = f"McNemar p on the revisions {revisions:.2g}"
    right = {v: (probs[v] >= 0.5) == labels for v in probs}
    note += f", on IMDB's test set {mcnemar(right['pairs'], right['plain'])['p_value']:.2g}"
    return [f"| {c} |" for c in cells] + [f"| ({note}) | | | | |"]


if __name__ == "__main__":
    print("| model | IMDB test | dev originals | dev revisions (95% CI) | consistency (95% CI) |")
    print("|---|---|---|---|---|")
    for name in sys.argv[1:]:
        print("\n".join(row(name)))

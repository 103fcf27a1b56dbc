"""Is the gap between saved runs more than chance? Accuracy, agreement and McNemar's test on the same test reviews.

    python bench/paired_test.py runs/minilm-l6 runs/minilm-l6-rerun runs/tfidf-nbsvm [--json FILE]

Every run is compared with every other. Runs of any kind; each run's saved test scores are used (scored here for
a run without them). Two runs of one config that differ only in their random draws show how far training noise
alone moves a result, which McNemar's test on one run cannot tell.
"""

from __future__ import annotations

import json

from saved_runs import load_runs  # bench/, the script's own folder

from imdb_sentiment.analysis.scoring import compare_pairs
from imdb_sentiment.core.hardware import hardware
from imdb_sentiment.core.runs import today
from imdb_sentiment.inference.evaluate import test_scores


def main() -> None:
    args, predictors, test = load_runs(__doc__, "run directories tested on the same reviews")
    scored = {"test": test, "models": {p.name: {"probs": test_scores(p, test)} for p in predictors}}
    accuracy = {run: float(((m["probs"] >= 0.5) == test.labels.astype(bool)).mean())
                for run, m in scored["models"].items()}
    pairs = compare_pairs(scored)
    print("\n".join(f"{run}: {acc:.2%} of {len(test)} test reviews" for run, acc in accuracy.items()))
    print(f"{'A':<28}{'B':<28}{'agree':>8}{'only A right':>14}{'only B right':>14}{'McNemar p':>11}")
    for pair in pairs:
        print(f"{pair['a']:<28}{pair['b']:<28}{pair['agreement']:>8.1%}{pair['only_a_correct']:>14,}"
              f"{pair['only_b_correct']:>14,}{pair['p_value']:>11.2g}")
    if args.json:
        document = {"test_reviews": len(test), "accuracy": accuracy, "pairs": pairs, "hardware": hardware(),
                    "date": today()}
        with open(args.json, "w") as f:
            json.dump(document, f, indent=2)


if __name__ == "__main__":
    main()

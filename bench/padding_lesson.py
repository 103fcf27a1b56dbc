"""Where the naive BiLSTM fails: test accuracy by how much padding a review carries.

    python bench/padding_lesson.py runs/bilstm-naive runs/bilstm-glove [--json results/bilstm/padding_lesson.json]

The naive model reads its summary at the last padded position, so for a review shorter than max_length its forward
state has run through the padding; a review that fills the window has no padding and is read correctly. The runs'
saved test scores are used (scored here once for runs without them). Each later run is compared with the first by
McNemar's test on the same test reviews.
"""

from __future__ import annotations

import json

import numpy as np
from saved_runs import load_runs  # bench/, the script's own folder

from imdb_sentiment.core.hardware import hardware
from imdb_sentiment.core.runs import today
from imdb_sentiment.core.stats import mcnemar
from imdb_sentiment.inference.evaluate import test_scores
from imdb_sentiment.models.batches import encode_review


def length_groups(lengths: np.ndarray, max_length: int, bins: int = 4) -> dict[str, np.ndarray]:
    """Reviews shorter than the window in `bins` equal ranges of length (most padding first), then the full ones."""
    edges = np.linspace(0, max_length, bins + 1).astype(int)
    groups = {f"{lo}-{hi - 1} tokens ({max_length - hi + 1}-{max_length - lo} padding)": (lengths >= lo) & (lengths < hi)
              for lo, hi in zip(edges[:-1], edges[1:])}
    groups[f"fills the window ({max_length}, no padding)"] = lengths >= max_length
    groups["all"] = np.ones_like(lengths, dtype=bool)
    return groups


def main() -> None:
    args, predictors, test = load_runs(__doc__, "BiLSTM run directories trained on the same data")
    cfg = predictors[0].cfg
    vocab, max_length = predictors[0].vocab, cfg.model.max_length
    lengths = np.array([len(encode_review(text, vocab, max_length)[0]) for text in test.texts])
    groups = length_groups(lengths, max_length)
    result = {"max_length": max_length, "test_reviews": len(test), "padded_share": float((lengths < max_length).mean()),
              "reviews": {name: int(mask.sum()) for name, mask in groups.items()},
              "hardware": hardware(), "date": today()}
    print(f"{result['padded_share']:.1%} of {len(test)} test reviews are shorter than {max_length} tokens (padded)")
    accuracy, correct = {}, {}
    for predictor in predictors:
        correct[predictor.name] = (test_scores(predictor, test) >= 0.5) == test.labels.astype(bool)
        accuracy[predictor.name] = {name: float(correct[predictor.name][mask].mean()) for name, mask in groups.items()}
    result["accuracy"] = accuracy
    first, *others = correct
    result["mcnemar_vs_first"] = {run: mcnemar(correct[first], correct[run]) for run in others}
    width = max(len(run) for run in accuracy) + 2
    print(f"{'test reviews':<42}{'count':>8}" + "".join(f"{run:>{width}}" for run in accuracy))
    for name, mask in groups.items():
        print(f"{name:<42}{int(mask.sum()):>8}" + "".join(f"{accuracy[run][name]:>{width}.2%}" for run in accuracy))
    for run, test_result in result["mcnemar_vs_first"].items():
        print(f"McNemar, {first} against {run}: only {first} right on {test_result['only_a_correct']} reviews, "
              f"only {run} on {test_result['only_b_correct']}, p = {test_result['p_value']:.2g}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()

"""Where the naive BiLSTM fails: test accuracy on reviews that were padded against reviews that fill the window.

    python bench/padding_lesson.py runs/bilstm-naive runs/bilstm-glove [--json results/bilstm/padding_lesson.json]

The naive model reads its summary at the last padded position, so for a review shorter than max_length its forward
state has run through the padding; a review that fills the window has no padding and is read correctly.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from imdb_sentiment.batches import encode_review
from imdb_sentiment.data import splits_for
from imdb_sentiment.predict import load_predictor
from imdb_sentiment.runs import hardware, today


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="BiLSTM run directories trained on the same data")
    parser.add_argument("--data", help="default: the first run's dataset")
    parser.add_argument("--json")
    args = parser.parse_args()
    predictors = [load_predictor(run) for run in args.runs]
    cfg = predictors[0].cfg
    test = splits_for(cfg, args.data)["test"]
    vocab, max_length = predictors[0].vocab, cfg.model.max_length
    padded = np.array([len(encode_review(text, vocab, max_length)[0]) < max_length for text in test.texts])
    groups = {"padded (shorter than max_length)": padded, "fills the window": ~padded, "all": np.ones_like(padded)}
    result = {"max_length": max_length, "test_reviews": len(test), "padded_share": float(padded.mean()),
              "hardware": hardware(), "date": today(), "accuracy": {}}
    print(f"{padded.mean():.1%} of {len(test)} test reviews are shorter than {max_length} tokens (padded)")
    print(f"{'run':<24}" + "".join(f"{name:>36}" for name in groups))
    for predictor in predictors:
        probs = np.array([r.probability for r in predictor.predict(test.texts, progress=True)])
        correct = (probs >= 0.5) == test.labels.astype(bool)
        accuracy = {name: float(correct[mask].mean()) for name, mask in groups.items()}
        result["accuracy"][predictor.name] = accuracy
        print(f"{predictor.name:<24}" + "".join(f"{a:>36.2%}" for a in accuracy.values()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()

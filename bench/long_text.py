"""Reading all of a long review: a run's accuracy on the test set and on its longest quarter (by words) when reviews
are cut as in training (truncate) or read whole in overlapping windows (windows: mean margin; windows_max: the
surest window), with reviews/s on that quarter.

    python bench/long_text.py --run builtin --json results/long_text/builtin.json
    python bench/long_text.py --run runs/mpnet-base --quantize int8 --sample 400 --json results/long_text/mpnet-base.json
    python bench/long_text.py --run runs/mpnet-base --quantize int8 --sample 2000 --modes truncate windows_max ...

For a model too slow to read the whole test set several times (MPNet: 13 reviews/s in int8 here), `--sample N`
scores N random reviews of the longest quarter only, once per mode, timed as they are scored.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

from imdb_sentiment.core.data import splits_for
from imdb_sentiment.core.hardware import hardware
from imdb_sentiment.core.runs import command_line, today
from imdb_sentiment.core.stats import mcnemar
from imdb_sentiment.core.text import LONG_TEXT
from imdb_sentiment.inference.predictors import load_predictor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", default="builtin")
    parser.add_argument("--json")
    parser.add_argument("--quantize", choices=["int8"])
    parser.add_argument("--sample", type=int, help="score this many random reviews of the longest quarter only")
    parser.add_argument("--modes", nargs="+", choices=LONG_TEXT, default=list(LONG_TEXT),
                        help="readings to score (truncate first: the others are tested against it)")
    args = parser.parse_args()
    if args.modes[0] != "truncate":
        parser.error("--modes must start with truncate, which the others are tested against")
    test = splits_for(load_predictor(args.run).cfg)["test"]
    words = np.array([len(t.split()) for t in test.texts])
    longest = words >= np.quantile(words, 0.75)
    if args.sample:
        return sampled(args, test, longest)
    long_texts = [t for t, keep in zip(test.texts, longest) if keep]
    labels = test.labels.astype(bool)
    rows, correct = {}, {}
    for mode in args.modes:
        predictor = load_predictor(args.run, long_text=mode, quantize=args.quantize)
        p = np.array([r.p_positive for r in predictor.predict(test.texts, progress=True)])
        correct[mode] = (p >= 0.5) == labels
        start = time.perf_counter()
        predictor.predict(long_texts)
        seconds = time.perf_counter() - start
        rows[mode] = {"accuracy": float(correct[mode].mean()), "accuracy_longest_quarter":
                      float(correct[mode][longest].mean()), "reviews_per_s_longest_quarter": len(long_texts) / seconds}
        print(mode, json.dumps(rows[mode]), flush=True)
    for mode in args.modes[1:]:
        rows[mode]["mcnemar_p_vs_truncate"] = mcnemar(correct[mode], correct["truncate"])["p_value"]
        rows[mode]["mcnemar_p_vs_truncate_longest_quarter"] = mcnemar(correct[mode][longest],
                                                                       correct["truncate"][longest])["p_value"]
    result = {"run": args.run, "test_reviews": len(test), "longest_quarter": {"reviews": int(longest.sum()),
              "min_words": int(words[longest].min()), "max_words": int(words.max())}, "modes": rows,
              "hardware": hardware(), "date": today(), "command": command_line()}
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


def sampled(args, test, longest) -> None:
    """Each mode on `args.sample` random reviews of the longest quarter, scored once and timed."""
    pick = np.random.default_rng(0).choice(np.flatnonzero(longest), size=args.sample, replace=False)
    texts, labels = [test.texts[i] for i in pick], test.labels[pick].astype(bool)
    rows, correct = {}, {}
    for mode in args.modes:
        predictor = load_predictor(args.run, long_text=mode, quantize=args.quantize)
        start = time.perf_counter()
        p = np.array([r.p_positive for r in predictor.predict(texts, progress=True)])
        seconds = time.perf_counter() - start
        correct[mode] = (p >= 0.5) == labels
        rows[mode] = {"accuracy_longest_quarter_sample": float(correct[mode].mean()),
                      "reviews_per_s_longest_quarter": len(texts) / seconds}
        print(mode, json.dumps(rows[mode]), flush=True)
    for mode in args.modes[1:]:
        rows[mode]["mcnemar_p_vs_truncate"] = mcnemar(correct[mode], correct["truncate"])["p_value"]
    result = {"run": args.run, "quantize": args.quantize, "sample_of_longest_quarter": args.sample,
              "longest_quarter": {"reviews": int(longest.sum())}, "modes": rows,
              "hardware": hardware(), "date": today(), "command": command_line()}
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

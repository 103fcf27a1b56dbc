"""Reading all of a long review: a run's accuracy on the test set and on its longest quarter (by words) when reviews
are cut as in training (truncate) or read whole in overlapping windows (windows: mean margin; windows_max: the
surest window), with reviews/s on that quarter.

    python bench/long_text.py --run builtin --json results/long_text/builtin.json
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
    args = parser.parse_args()
    test = splits_for(load_predictor(args.run).cfg)["test"]
    words = np.array([len(t.split()) for t in test.texts])
    longest = words >= np.quantile(words, 0.75)
    long_texts = [t for t, keep in zip(test.texts, longest) if keep]
    labels = test.labels.astype(bool)
    rows, correct = {}, {}
    for mode in LONG_TEXT:
        predictor = load_predictor(args.run, long_text=mode)
        p = np.array([r.p_positive for r in predictor.predict(test.texts, progress=True)])
        correct[mode] = (p >= 0.5) == labels
        start = time.perf_counter()
        predictor.predict(long_texts)
        seconds = time.perf_counter() - start
        rows[mode] = {"accuracy": float(correct[mode].mean()), "accuracy_longest_quarter":
                      float(correct[mode][longest].mean()), "reviews_per_s_longest_quarter": len(long_texts) / seconds}
        print(mode, json.dumps(rows[mode]), flush=True)
    for mode in LONG_TEXT[1:]:
        rows[mode]["mcnemar_p_vs_truncate"] = mcnemar(correct[mode], correct["truncate"])["p_value"]
        rows[mode]["mcnemar_p_vs_truncate_longest_quarter"] = mcnemar(correct[mode][longest],
                                                                       correct["truncate"][longest])["p_value"]
    result = {"run": args.run, "test_reviews": len(test), "longest_quarter": {"reviews": int(longest.sum()),
              "min_words": int(words[longest].min()), "max_words": int(words.max())}, "modes": rows,
              "hardware": hardware(), "date": today(), "command": command_line()}
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

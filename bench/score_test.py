"""Score a saved run on all 25,000 test reviews and keep the per-review scores, for runs too slow to score at the
end of training (score_test = false) or scored in another precision than they were trained in.

    python bench/score_test.py --run /root/imdb-runs/mpnet-base --quantize int8 \
        --out results/transformer/mpnet-base

Writes OUT/test_scores.npz (review ids, labels, P(positive)) and OUT/test_int8.json (accuracy with its bootstrap
interval, F1, the command, hardware with the CPU's features, date and seconds), and keeps the scores in the run
(test_probabilities-int8.npy for int8), where `compare --from_saved true --add RUN` finds them.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy.special import expit

from imdb_sentiment.core import hardware, runs
from imdb_sentiment.core.data import splits_for
from imdb_sentiment.inference.evaluate import scored_metrics, test_scores
from imdb_sentiment.inference.predictors import load_predictor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="run directory")
    parser.add_argument("--quantize", choices=["int8"], default=None)
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--split", default="test")
    parser.add_argument("--out", required=True, help="folder for test_scores.npz and test_<precision>.json")
    args = parser.parse_args()

    predictor = load_predictor(args.run, quantize=args.quantize, precision=args.precision)
    reviews = splits_for(predictor.cfg)[args.split]
    saved = runs.test_probabilities_path(predictor.run_dir, predictor.variant)
    already = args.split == "test" and saved.exists()
    start = time.perf_counter()
    p_positive = test_scores(predictor, reviews) if args.split == "test" else expit(
        predictor.margins(reviews.texts, progress=True))
    seconds = None if already else time.perf_counter() - start
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / f"{args.split}_scores.npz", ids=np.array(reviews.ids), p_positive=p_positive,
                        labels=reviews.labels)
    result = {**scored_metrics(predictor.name, f"{args.split} split", reviews.labels, p_positive),
              "quantize": args.quantize, "model_precision": args.precision, "reviews": len(reviews),
              # scores kept in the run by an earlier scoring are read, not timed again
              "scores_read_from": str(saved) if already else None,
              "seconds": seconds and round(seconds, 1),
              "reviews_per_second": seconds and round(len(reviews) / seconds, 2),
              "data_fingerprint": reviews.fingerprint(), "hardware": hardware.hardware(),
              "command": runs.command_line(), "date": runs.today()}
    (out / f"{args.split}_{predictor.variant or 'fp32'}.json").write_text(json.dumps(result, indent=2) + "\n")
    timing = f"read from {saved}" if already else f"{seconds:.0f} s"
    print(f"{predictor.name}: {result['accuracy']:.2%} on {len(reviews)} {args.split} reviews ({timing}); "
          f"written to {out}")


if __name__ == "__main__":
    main()

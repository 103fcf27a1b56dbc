"""Which BiLSTM should ship as the built-in model? Chosen on IMDB's validation split and the counterfactual dev
pairs, never on the test set.

    python bench/choose_builtin.py builtin runs/bilstm-distilled_kl_mpnet runs/bilstm-distilled_kl_mpnet_pairs \
        --pairs ../shared/data/counterfactual_imdb/dev_paired.tsv --json results/counterfactual/builtin_choice.json

The rule, fixed before the candidates were scored: a candidate is eligible when its IMDB validation accuracy is
not significantly below the current built-in model's (McNemar p >= 0.05, or higher); among the eligible, the
highest consistency on the dev pairs (both reviews of a pair right) wins, then validation accuracy. The first run
named is the current built-in model. Each candidate also answers the sentences a curious user types first, and
their mirror images.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from imdb_sentiment.apps.builtin import FIRST_SENTENCES, first_sentences
from imdb_sentiment.core.data import splits_for
from imdb_sentiment.core.hardware import hardware
from imdb_sentiment.core.runs import command_line, today
from imdb_sentiment.core.stats import mcnemar
from imdb_sentiment.inference.pairs import evaluate_pairs
from imdb_sentiment.inference.predictors import load_predictor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="the current built-in model first, then the candidates")
    parser.add_argument("--pairs", required=True, help="Kaushik et al.'s dev_paired.tsv")
    parser.add_argument("--json")
    args = parser.parse_args()

    rows, correct = {}, {}
    for run in args.runs:
        predictor = load_predictor(run)
        val = splits_for(predictor.cfg)["val"]
        p = np.array([r.p_positive for r in predictor.predict(val.texts)])
        correct[run] = (p >= 0.5) == val.labels.astype(bool)
        paired = evaluate_pairs(run, args.pairs, "Text", "Sentiment")
        rows[run] = {"val_accuracy": float(correct[run].mean()), "val_reviews": len(val),
                     "revision_accuracy": paired["revision_accuracy"], "consistency": paired["consistency"],
                     "original_accuracy": paired["original_accuracy"],
                     "sentences": first_sentences(predictor)}
    current = args.runs[0]
    for run, row in rows.items():
        test = mcnemar(correct[run], correct[current])
        row["val_p_against_current"] = test["p_value"]
        row["eligible"] = run == current or row["val_accuracy"] >= rows[current]["val_accuracy"] \
            or test["p_value"] >= 0.05
    chosen = max((r for r in rows if rows[r]["eligible"]),
                 key=lambda r: (rows[r]["consistency"], rows[r]["val_accuracy"]))
    for run, row in rows.items():
        right = sum(s["right"] for s in row["sentences"].values())
        print(f"{Path(run).name}: validation {row['val_accuracy']:.2%} (p = {row['val_p_against_current']:.2g} "
              f"against {Path(current).name}), dev revisions {row['revision_accuracy']:.1%}, consistency "
              f"{row['consistency']:.1%}, sentences right {right}/{len(FIRST_SENTENCES)}"
              f"{'' if row['eligible'] else ' (not eligible)'}")
    print(f"chosen: {chosen}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rule": __doc__.split("\n\n")[2], "runs": rows, "chosen": chosen,
                                               "hardware": hardware(), "command": command_line(), "date": today()},
                                              indent=2) + "\n")


if __name__ == "__main__":
    main()

"""How the training data labels the reviews that contain a phrase: can a model learn from these labels that "not bad"
is praise? For each phrase, the number of IMDB training reviews (the 22,500 of the runs' split) and of the usable
counterfactual train pairs that contain it, and the share of them labelled positive.

    python bench/phrase_labels.py --pairs ../shared/data/counterfactual_imdb/train_paired.tsv \\
        --json results/counterfactual/phrase_labels.json
"""

import argparse
import json
import re
from pathlib import Path

from imdb_sentiment.core.data import load_splits, read_pairs, with_pairs
from imdb_sentiment.core.runs import command_line, today

PHRASES = ["not bad", "not bad at all", "not that bad", "not boring", "not good", "not good at all", "not great"]


def label_shares(texts: list[str], labels, phrases: list[str]) -> dict[str, dict]:
    rows = {}
    for phrase in phrases:
        pattern = re.compile(rf"\b{re.escape(phrase)}\b")
        hits = [int(y) for text, y in zip(texts, labels) if pattern.search(text.lower())]
        rows[phrase] = {"reviews": len(hits), "positive": round(sum(hits) / len(hits), 3) if hits else None}
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", help="Kaushik et al.'s train_paired.tsv")
    parser.add_argument("--phrases", nargs="+", default=PHRASES)
    parser.add_argument("--json")
    args = parser.parse_args()
    splits = load_splits()
    result = {"imdb_train": label_shares(splits["train"].texts, splits["train"].labels, args.phrases)}
    if args.pairs:
        train = with_pairs(splits, read_pairs(args.pairs))
        pairs = train.take(range(len(splits["train"]), len(train)))
        result["train_pairs"] = label_shares(pairs.texts, pairs.labels, args.phrases)
    for source, rows in result.items():
        for phrase, row in rows.items():
            share = "-" if row["positive"] is None else f"{row['positive']:.0%}"
            print(f"{source:12s} {phrase!r:20s} {row['reviews']:5d} reviews, {share} positive")
    if args.json:
        Path(args.json).write_text(json.dumps({**result, "command": command_line(), "date": today()}, indent=2) + "\n")


if __name__ == "__main__":
    main()

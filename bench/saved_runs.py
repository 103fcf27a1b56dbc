"""What the scripts that read saved runs share: their command line (runs, --data, --json) and the test split."""

from __future__ import annotations

import argparse

from imdb_sentiment.core.data import splits_for
from imdb_sentiment.inference.predictors import Predictor, load_predictor


def load_runs(description: str, runs_help: str) -> tuple[argparse.Namespace, list[Predictor], object]:
    """(arguments, one predictor per run, the first run's test split) for a script's command line."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help=runs_help)
    parser.add_argument("--data", help="default: the first run's dataset")
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()
    predictors = [load_predictor(run) for run in args.runs]
    return args, predictors, splits_for(predictors[0].cfg, args.data)["test"]

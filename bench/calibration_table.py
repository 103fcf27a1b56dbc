"""The calibration each run keeps, and what the other method would have done: the table of
results/calibration/README.md, from the runs' calibration.json (written by `imdb-sentiment calibrate RUN --method
best`), copied beside it.

    python bench/calibration_table.py runs/tfidf-nbsvm runs/mpnet-base ... --out results/calibration
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print("| run | fitted on | kept | cross-validated ECE: temperature / isotonic | cross-validated log loss: none / "
          "temperature / isotonic | ECE where fitted | test ECE |")
    print("|---|---|---|---|---|---|---|")
    for run in map(Path, args.runs):
        saved = json.loads((run / "calibration.json").read_text())
        shutil.copy(run / "calibration.json", args.out / f"{run.resolve().name}.json")
        cv = saved.get("cross_validated_ece", {})
        loss = saved.get("cross_validated_log_loss")  # recorded since 2026-12-08
        loss = " / ".join(f"{loss[m]:.4f}" for m in ("none", "temperature", "isotonic")) if loss else "-"
        kept = saved["method"] + (f" (T = {saved['temperature']:.3f})" if saved["method"] == "temperature" else "")
        test = (f"{saved['test_ece_before']:.2%} -> **{saved['test_ece_after']:.2%}**" if "test_ece_after" in saved
                else "no saved test scores")
        fitted_on = ("validation" if saved.get("fitted_on", "validation").startswith("validation")
                     else f"{saved['reviews']:,} out-of-fold training scores")
        print(f"| {run.resolve().name} | {fitted_on} | {kept} | {cv.get('temperature', float('nan')):.2%} / "
              f"{cv.get('isotonic', float('nan')):.2%} | {loss} | {saved['ece_before']:.2%} -> {saved['ece_after']:.2%} "
              f"| {test} |")


if __name__ == "__main__":
    main()

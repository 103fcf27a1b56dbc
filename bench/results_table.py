"""Print the README's results table from the committed results/*/*/metrics.json files.

    python bench/results_table.py
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "results"


def main() -> None:
    # Named by folder: a rerun of a variant sits beside the first run under its own name.
    rows = [{**json.loads(p.read_text()), "run": p.parent.name} for p in sorted(ROOT.glob("*/*/metrics.json"))]
    # A run whose test set was scored apart (MPNet: in int8, by bench/score_test.py) has no test accuracy here.
    untested = [f"{m['model']} {m['run']}" for m in rows if m.get("test_accuracy") is None]
    rows = [m for m in rows if m.get("test_accuracy") is not None]
    print("| model | run | test acc | test F1 | val acc | epochs (best) | stopped by | s/epoch | params "
          "(trainable) | GloVe coverage |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for m in sorted(rows, key=lambda m: (m["model"], -m["test_accuracy"])):
        coverage = f"{m['glove_coverage']:.1%}" if m.get("glove_coverage") else "-"
        print(f"| {m['model']} | {m['run']} | {m['test_accuracy']:.2%} | {m['test_f1']:.4f} | "
              f"{m['val_accuracy']:.2%} | {m['epochs']:g} ({m['best_epoch']:g}) | {m['stopped_by']} | "
              f"{m['seconds_per_epoch']:.0f} | {m['params']:,} ({m['trainable_params']:,}) | {coverage} |")
    if untested:
        print(f"\nNot in the table, their test sets scored apart: {', '.join(untested)}.")
    by_hardware: dict[str, list[str]] = {}
    for m in rows:
        by_hardware.setdefault(m["hardware"], []).append(f"{m['model']} {m['run']}")
    print("\nHardware: " + "; ".join(f"{hw} ({', '.join(names)})" for hw, names in sorted(by_hardware.items())) + ".")


if __name__ == "__main__":
    main()

"""The report's long-review section: each model reading the longest quarter of the test set truncated as in training
or whole, in overlapping windows, from the JSON files `bench/long_text.py` writes into the report's `long_text/`
folder. Reading every window costs several passes per review, too slow for MPNet over the whole quarter here, so a
file may hold a random sample of the quarter; files with the same sample size hold the same reviews (seed 0).
"""

from __future__ import annotations

import json
from pathlib import Path

from imdb_sentiment.analysis.findings import p_text

READINGS = {"truncate": "truncated (as trained)", "windows": "windows, mean margin", "windows_max": "windows, surest"}
IN_WORDS = {"windows": "averaging its windows' margins", "windows_max": "trusting its surest window"}


def read_long_text(folder: str | Path) -> list[dict]:
    """One row per bench/long_text.py result in `folder`: the run, the reviews scored, and per reading the accuracy
    on them, McNemar's p against truncating, and reviews/s as timed (a file's `note` says when the machine was
    busy)."""
    rows = []
    for file in sorted(Path(folder).glob("*.json")):
        result = json.loads(file.read_text())
        sample = result.get("sample_of_longest_quarter")
        suffix = "_sample" if sample else ""
        readings = {mode: {"accuracy": r[f"accuracy_longest_quarter{suffix}"],
                           "p": r.get("mcnemar_p_vs_truncate" if sample else "mcnemar_p_vs_truncate_longest_quarter"),
                           "reviews_per_s": r["reviews_per_s_longest_quarter"]}
                    for mode, r in result["modes"].items()}
        rows.append({"model": Path(result["run"]).name, "file": file.name, "date": result.get("date"),
                     "reviews": sample or result["longest_quarter"]["reviews"], "sample": bool(sample),
                     "readings": readings, "note": result.get("note")})
    return rows


def best_reading(row: dict) -> str:
    return max(row["readings"], key=lambda mode: row["readings"][mode]["accuracy"])


def long_text_finding(rows: list[dict]) -> str | None:
    """For each model, on its largest set of long reviews: truncated against its best whole-review reading."""
    largest = {}
    for row in rows:
        if row["reviews"] > largest.get(row["model"], {"reviews": 0})["reviews"]:
            largest[row["model"]] = row
    parts = []
    for model, row in largest.items():
        best = best_reading(row)
        if best == "truncate":
            parts.append(f"{model} gains nothing from it ({row['reviews']:,} reviews)")
            continue
        cut, whole = row["readings"]["truncate"], row["readings"][best]
        parts.append(f"{model} goes from {cut['accuracy']:.2%} truncated to {whole['accuracy']:.2%} "
                     f"{IN_WORDS[best]} (McNemar p {p_text(whole['p'])}, {row['reviews']:,} reviews) at "
                     f"{whole['reviews_per_s'] / cut['reviews_per_s']:.2f}x its truncated speed")
    return ("Reading all of a long review in overlapping windows, on the longest quarter of the test set: "
            + "; ".join(parts) + ".") if parts else None


def long_text_blocks(rows: list[dict]) -> list[tuple]:
    if not rows:
        return []
    blocks: list[tuple] = [("h2", "Reading whole long reviews"), (
        "p", "Accuracy on the longest quarter of the test reviews (by words) when each review is cut as in training "
             "or read whole in overlapping windows of the same length, their margins averaged or the surest kept "
             "(`--long_text`; `bench/long_text.py`). Same sample size, same reviews. McNemar's p against truncating; "
             "reviews/s as timed on that run's machine.")]
    modes = [m for m in READINGS if any(m in row["readings"] for row in rows)]
    table = []
    for row in rows:
        cells = []
        for mode in modes:
            r = row["readings"].get(mode)
            cells.append("-" if r is None else f"{r['accuracy']:.2%}" + (f" (p {p_text(r['p'])})" if r["p"] is not None else "")
                         + f", {r['reviews_per_s']:.3g}/s")
        reviews = f"{row['reviews']:,}" + (" (sample)" if row["sample"] else " (all)")
        table.append([row["model"], reviews, *cells])
    blocks.append(("table", ["model", "long reviews", *(READINGS[m] for m in modes)], table))
    blocks += [("p", f"{row['model']} ({row['file']}): {row['note']}") for row in rows if row["note"]]
    return blocks

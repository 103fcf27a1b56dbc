"""Does a model's confidence mean what it says, and what does abstaining buy? From each model's saved test scores:
its expected calibration error, and its accuracy on the 90% and 80% of test reviews it is most sure of (selective
prediction), with the accuracy-coverage curves and reliability diagrams as one figure."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from imdb_sentiment.inference.calibration import Calibration, expected_calibration_error, margins_of, reliability

COVERAGES = (0.9, 0.8)


def accuracy_at_coverage(p_positive, labels, coverage: float) -> float:
    """Accuracy on the `coverage` share of reviews with the highest confidence (the probability of their label)."""
    p, labels = np.asarray(p_positive, dtype=float), np.asarray(labels).astype(bool)
    keep = np.argsort(-np.maximum(p, 1 - p), kind="stable")[:max(1, round(coverage * len(p)))]
    return float(((p[keep] >= 0.5) == labels[keep]).mean())


def confidence_table(scored: dict) -> dict:
    """{model: ECE as trained, ECE with the run's calibration where it has one, accuracy at each coverage}."""
    labels = scored["test"].labels
    table = {}
    for name, m in scored["models"].items():
        row = {"ece": expected_calibration_error(m["probs"], labels),
               **{f"accuracy_at_{round(100 * c)}": accuracy_at_coverage(m["probs"], labels, c) for c in COVERAGES}}
        calibration = Calibration.from_settings(m.get("calibration") or  # reports from before isotonic maps came in
                                                {"temperature": m.get("temperature") or 1.0})
        if calibration.method:
            row["ece_calibrated"] = expected_calibration_error(calibration.p_positive(margins_of(m["probs"])), labels)
            row["calibration"] = calibration.method
        table[name] = row
    return table


def abstention_finding(table: dict) -> str:
    best = max(table, key=lambda n: table[n]["accuracy_at_90"])
    worst_ece = max(table, key=lambda n: table[n]["ece"])
    best_ece = min(table, key=lambda n: table[n]["ece"])
    return (f"Allowed to abstain on the 10% of test reviews it is least sure of, {best} is the most accurate "
            f"({table[best]['accuracy_at_90']:.2%} on the rest); calibration as trained ranges from "
            f"{table[best_ece]['ece']:.2%} expected calibration error ({best_ece}) to {table[worst_ece]['ece']:.2%} "
            f"({worst_ece}).")


def plot_confidence(scored: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = scored["test"].labels
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    coverages = np.linspace(0.1, 1, 19)
    for name, m in scored["models"].items():
        left.plot(coverages, [accuracy_at_coverage(m["probs"], labels, c) for c in coverages], label=name, lw=1)
        points = reliability(m["probs"], labels)
        right.plot([p["confidence"] for p in points], [p["accuracy"] for p in points], "-o", ms=2, lw=1, label=name)
    right.plot([0.5, 1], [0.5, 1], color="grey", ls=":", lw=1)
    left.set(xlabel="share of test reviews labelled (the most confident first)", ylabel="accuracy on them",
             title="Selective prediction: accuracy against coverage")
    right.set(xlabel="confidence (15 bins)", ylabel="accuracy", title="Reliability (dotted: perfect calibration)")
    left.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

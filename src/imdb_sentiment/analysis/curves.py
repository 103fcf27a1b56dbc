"""Learning curves read back: points summarised per model and size, the sizes reaching each accuracy, the table
and the plot. `imdb-sentiment curves` (apps/curves.py) trains the points."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from imdb_sentiment.analysis.render import markdown
from imdb_sentiment.core import runs

THRESHOLDS = (0.80, 0.85)


def point_key(point: dict) -> tuple[str, int, int]:
    return point["model"], point["train_size"], point["seed"]


def read_points(path: Path, must_exist: bool = False) -> list[dict]:
    if not path.exists():
        if must_exist:
            raise runs.RunError(f"{path} not found")
        return []
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise runs.RunError(f"{path} is not valid JSON ({err}); fix or delete it") from err


def summarise(points: list[dict]) -> dict:
    """{model: {size: (mean accuracy, standard deviation over seeds, seeds)}}."""
    table: dict = {}
    for p in points:
        table.setdefault(p["model"], {}).setdefault(p["train_size"], []).append(p["test_accuracy"])
    return {model: {size: (float(np.mean(a)), float(np.std(a, ddof=1)) if len(a) > 1 else 0.0, len(a))
                    for size, a in sorted(sizes.items())} for model, sizes in table.items()}


def smallest_size_reaching(curve: dict, threshold: float) -> int | None:
    return next((size for size, (mean, _, _) in curve.items() if mean >= threshold), None)


def table(points: list[dict]) -> tuple[list[str], list[list[str]]]:
    """(header, rows): mean test accuracy per model and size (± standard deviation and subsets where more than
    one), then the smallest size whose mean reaches each threshold."""
    summary = summarise(points)
    sizes = sorted({p["train_size"] for p in points})
    header = ["model", *(f"{s:,}" for s in sizes), *(f"reaches {t:.0%} at" for t in THRESHOLDS)]
    rows = []
    for model, curve in summary.items():
        cells = [(f"{curve[s][0]:.1%}" + (f" ± {curve[s][1]:.1%} ({curve[s][2]})" if curve[s][2] > 1 else "")
                  if s in curve else "") for s in sizes]
        reached = [f"{size:,}" if (size := smallest_size_reaching(curve, t)) else "not yet" for t in THRESHOLDS]
        rows.append([model, *cells, *reached])
    return header, rows


def describe(points: list[dict]) -> str:
    test_n = ", ".join(f"{n:,}" for n in sorted({p["test_n"] for p in points}))
    return (f"Test accuracy by labelled training reviews (validation included), on one fixed stratified subset of "
            f"{test_n} test reviews: mean ± standard deviation over subsets where more than one subset was drawn "
            f"(their number in brackets). \"Reaches\" reads the mean.")


def write_outputs(points: list[dict], out: Path) -> None:
    points = sorted(points, key=point_key)
    runs.write_json(out / "curves.json", points)
    (out / "curves.md").write_text(markdown([("p", describe(points)), ("table", *table(points))]))
    plot(summarise(points), out / "curves.png")


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for model, curve in summary.items():
        sizes = list(curve)
        mean = np.array([curve[s][0] for s in sizes])
        sd = np.array([curve[s][1] for s in sizes])
        ax.plot(sizes, mean, "-o", ms=3, label=model)
        ax.fill_between(sizes, mean - sd, mean + sd, alpha=0.2)
    for threshold in THRESHOLDS:
        ax.axhline(threshold, color="grey", lw=0.5, ls=":")
    ax.set(xscale="log", xlabel="labelled training reviews (validation included)", ylabel="test accuracy",
           title="Learning curves (band: ± one standard deviation over subsets)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

"""The report's plots: accuracy against throughput (with the Pareto front), confusion matrices, learning curves and
accuracy by review length, as PNG files."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def paired_colours(names: list[str], palette: list) -> dict:
    """One hue per variant, dark for its head+tail run (or a run without a twin) and light for its head twin.

    `palette` lists (dark, light) pairs in turn, as matplotlib's tab20 does.
    """
    families = list(dict.fromkeys(n.removesuffix("_head_tail") for n in names))
    pairs = len(palette) // 2
    return {n: palette[2 * (families.index(n.removesuffix("_head_tail")) % pairs) + (f"{n}_head_tail" in names)]
            for n in names}


def label_points(ax, points: dict[str, tuple[float, float]], fontsize: int = 7) -> list:
    """Label each point beside it, moving a label down past any label already placed that it would overlap
    (models of similar speed and accuracy otherwise print over each other)."""
    renderer = ax.figure.canvas.get_renderer()
    placed, texts = [], []
    for name, (x, y) in sorted(points.items(), key=lambda item: -item[1][1]):
        text = ax.annotate(name, (x, y), fontsize=fontsize, xytext=(4, 3), textcoords="offset points")
        box = text.get_window_extent(renderer)
        side = 4
        if box.x1 > ax.bbox.x1:  # past the right edge: label on the left of the point
            side = -4
            text.set_horizontalalignment("right")
            text.set_position((side, 3))
            box = text.get_window_extent(renderer)
        offset = 3
        while any(box.overlaps(other) for other in placed):
            offset -= box.height * 72 / ax.figure.dpi + 1  # one label height lower, in points
            text.set_position((side, offset))
            box = text.get_window_extent(renderer)
        placed.append(box)
        texts.append(text)
    return texts


def make_plots(scored: dict, by_length: dict, front: list[str], out: Path) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models, plots = scored["models"], []

    histories = {n: m["history"] for n, m in models.items() if m["kind"] != "tfidf" and m.get("history")}
    if histories:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        colours = paired_colours(list(histories), plt.get_cmap("tab20").colors)
        for name, rows in histories.items():
            epochs = [r["epoch"] for r in rows]
            for ax, key in zip(axes, ("loss", "accuracy")):
                if all(f"train_{key}" in r for r in rows):
                    ax.plot(epochs, [r[f"train_{key}"] for r in rows], "--", color=colours[name], alpha=0.6)
                ax.plot(epochs, [r[f"val_{key}"] for r in rows], "-o", color=colours[name], label=name, ms=3)
        for ax, key in zip(axes, ("loss", "accuracy")):
            ax.set(xlabel="epoch", ylabel=key, title=f"{key}: validation (solid), train (dashed)")
        axes[1].legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "learning_curves.png", dpi=110)
        plots.append(("Learning curves", "learning_curves.png"))

    fig, axes = plt.subplots(1, len(models), figsize=(2.6 * len(models), 2.8), squeeze=False)
    for ax, (name, m) in zip(axes[0], models.items()):
        c = m["confusion"]
        grid = np.array([[c["tn"], c["fp"]], [c["fn"], c["tp"]]])
        ax.imshow(grid, cmap="Blues")
        for (i, j), v in np.ndenumerate(grid):
            ax.text(j, i, f"{v:,}", ha="center", va="center", color="white" if v > grid.max() / 2 else "black")
        ax.set(xticks=[0, 1], yticks=[0, 1], xticklabels=["neg", "pos"], yticklabels=["neg", "pos"],
               xlabel="predicted", ylabel="true", title=name)
        ax.title.set_fontsize(8)
    fig.tight_layout()
    fig.savefig(out / "confusion_matrices.png", dpi=110)
    plots.append(("Confusion matrices (counts)", "confusion_matrices.png"))

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for name, m in models.items():
        on_front = name in front
        ax.scatter(m["throughput_reviews_per_s"], m["accuracy"], s=60 if on_front else 30,
                   marker="*" if on_front else "o")
    ax.set(xscale="log", xlabel=f"reviews/s (batch {scored['batch_size']}, this machine)", ylabel="test accuracy",
           title="Accuracy against inference throughput (* = Pareto front)")
    fig.tight_layout()
    label_points(ax, {n: (m["throughput_reviews_per_s"], m["accuracy"]) for n, m in models.items()})
    fig.savefig(out / "accuracy_vs_throughput.png", dpi=110)
    plots.append(("Accuracy against throughput", "accuracy_vs_throughput.png"))

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    edges = by_length["edges"]
    centers = np.arange(len(edges) - 1)
    for name, accuracies in by_length["models"].items():
        ax.plot(centers, accuracies, "-o", label=name, ms=3)
    ax.set_xticks(centers, [f"{edges[k]}-{edges[k + 1]}" for k in centers], fontsize=8)
    ax.set(xlabel="review length (words)", ylabel="test accuracy", title="Accuracy by review length")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "accuracy_by_length.png", dpi=110)
    plots.append(("Accuracy by review length", "accuracy_by_length.png"))
    plt.close("all")
    return plots

"""The comparison report: every model scored on the same test reviews, in the same process, on the same machine.

Writes report.md, report.html, metrics.json and PNG plots into one folder. Numbers a run measured while training
(training time, its hardware) are read from its metrics.json; everything else is measured here.
"""

from __future__ import annotations

import html
import itertools
import json
import time
from pathlib import Path

import numpy as np

from . import runs
from .data import splits_for
from .evaluation import metrics_with_interval
from .predict import load_predictor, test_scores
from .stats import agreement, mcnemar


def _size_on_disk(run_dir: Path) -> int:
    """Bytes a deployment needs: the run folder without training checkpoints and saved test scores."""
    return sum(p.stat().st_size for p in run_dir.rglob("*")
               if p.is_file() and p.name != runs.TEST_PROBABILITIES
               and not any(part.startswith("checkpoint") for part in p.relative_to(run_dir).parts))


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:.1f} MB" if n_bytes >= 1e5 else f"{n_bytes / 1e3:.0f} kB"


def _excerpt(text: str, limit: int = 300) -> str:
    text = " ".join(text.replace("<br />", " ").split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " ..."


def score_runs(run_dirs: list[str], data: str | None = None, batch_size: int = 64, latency_reviews: int = 100,
               throughput_reviews: int = 2000, seed: int = 0, quantize: str | None = None) -> dict:
    """Every run's test scores and speed; refuse runs trained or tested on other reviews.

    A run's scores are those it saved when training ended; older runs are scored here once and the scores saved.
    Speed is timed here, for every model in the same process: a random sample of test reviews in batches
    (throughput), and reviews one at a time (latency)."""
    infos = {str(r): runs.read_run(r) for r in run_dirs}
    reference = next(iter(infos))
    for run, info in infos.items():
        for split, verb in (("train", "trained"), ("test", "tested")):
            if info["data_fingerprint"][split] != infos[reference]["data_fingerprint"][split]:
                raise runs.RunError(f"{run} was {verb} on other reviews than {reference} (another dataset, subset or "
                                    "seed); retrain it with the same [data] settings and seed, or compare it apart.")
    predictors = [load_predictor(r, batch_size, quantize) for r in run_dirs]
    names = [p.name for p in predictors]
    if len(set(names)) != len(names):
        raise runs.RunError(f"two runs share a folder name ({names}); the report names models by folder")
    test = splits_for(predictors[0].cfg, data)["test"]
    rng = np.random.default_rng(seed)
    speed_sample = [test.texts[i] for i in rng.choice(len(test), size=min(throughput_reviews, len(test)), replace=False)]
    latency_sample = speed_sample[:latency_reviews]
    models = {}
    for predictor, run_dir in zip(predictors, run_dirs):
        probs = test_scores(predictor, test)
        start = time.perf_counter()
        predictor.predict(speed_sample)
        seconds = time.perf_counter() - start
        latencies = []
        for text in latency_sample:
            start = time.perf_counter()
            predictor.predict([text])
            latencies.append(1000 * (time.perf_counter() - start))
        trained = json.loads((Path(run_dir) / "metrics.json").read_text())
        history = Path(run_dir) / "history.json"
        if not models:  # the runs share their training reviews (checked above), so one count holds for all
            train_samples = trained.get("train_samples")
        models[predictor.name] = {
            "kind": predictor.kind, "variant": trained.get("variant"), "run_dir": str(run_dir),
            **metrics_with_interval(test.labels, probs, seed), "params": trained.get("params"),
            "trainable_params": trained.get("trainable_params"), "size_bytes": _size_on_disk(Path(run_dir)),
            "train_seconds": trained.get("train_seconds"), "train_hardware": trained.get("hardware"),
            "epochs": trained.get("epochs"), "teacher": trained.get("teacher"),
            "history": json.loads(history.read_text()) if history.exists() else None,
            "throughput_reviews_per_s": len(speed_sample) / seconds,
            "latency_ms_p50": float(np.percentile(latencies, 50)), "latency_ms_p95": float(np.percentile(latencies, 95)),
            "probs": probs,
        }
    return {"test": test, "models": models, "batch_size": batch_size, "latency_reviews": len(latency_sample),
            "throughput_reviews": len(speed_sample), "hardware": runs.hardware(), "date": runs.today(),
            "train_samples": train_samples}


def compare_pairs(scored: dict) -> list[dict]:
    labels = scored["test"].labels.astype(bool)
    pairs = []
    for (a, ma), (b, mb) in itertools.combinations(scored["models"].items(), 2):
        pred_a, pred_b = ma["probs"] >= 0.5, mb["probs"] >= 0.5
        pairs.append({"a": a, "b": b, "agreement": agreement(pred_a, pred_b),
                      **mcnemar(pred_a == labels, pred_b == labels)})
    return pairs


def _p_value(p: float) -> str:
    """"= 0.024", or "< 1e-300" where the p-value underflows a float (printing 0 would claim certainty)."""
    return "< 1e-300" if p < 1e-300 else f"= {p:.2g}"


def _p_values(pairs: list[dict]) -> dict:
    """McNemar's p-value of each pair of models, looked up by the unordered pair."""
    return {frozenset((p["a"], p["b"])): p["p_value"] for p in pairs}


def _ranked(models: dict) -> list[str]:
    """Model names, most accurate first."""
    return sorted(models, key=lambda n: -models[n]["accuracy"])


def _versus_baseline(models: dict, pairs: list[dict], baseline: str, ranked: list[str]) -> str:
    """Which neural models beat the linear baseline, and whether McNemar's test says the difference is real."""
    p_values = _p_values(pairs)
    groups: dict[str, list[str]] = {"significantly better": [], "significantly worse": [], "no significant difference": []}
    for name in ranked:
        if models[name]["kind"] == "tfidf":
            continue
        diff = models[name]["accuracy"] - models[baseline]["accuracy"]
        p_value = p_values[frozenset((name, baseline))]
        verdict = ("no significant difference" if p_value >= 0.05
                   else "significantly better" if diff > 0 else "significantly worse")
        groups[verdict].append(f"{name} ({100 * diff:+.2f} points, p {_p_value(p_value)})")
    found = [f"{verdict}: {', '.join(names)}" for verdict, names in groups.items() if names]
    return (f"Against the strongest linear baseline ({baseline}, {models[baseline]['accuracy']:.2%}; McNemar's test at "
            f"0.05): " + ("; ".join(found) if found else "no neural model in the comparison") + ".")


def accuracy_by_length(scored: dict, bins: int = 5) -> dict:
    words = np.array([len(t.split()) for t in scored["test"].texts])
    edges = np.unique(np.quantile(words, np.linspace(0, 1, bins + 1)).astype(int))
    which = np.clip(np.searchsorted(edges, words, side="right") - 1, 0, len(edges) - 2)
    labels = scored["test"].labels.astype(bool)
    result = {"edges": edges.tolist(), "counts": np.bincount(which, minlength=len(edges) - 1).tolist(), "models": {}}
    for name, m in scored["models"].items():
        correct = (m["probs"] >= 0.5) == labels
        result["models"][name] = [float(correct[which == k].mean()) for k in range(len(edges) - 1)]
    return result


def error_examples(scored: dict, a: str, b: str, n: int = 3) -> list[dict]:
    """Reviews `a` gets right and `b` gets wrong, those where `b` was most confidently wrong first."""
    test, labels = scored["test"], scored["test"].labels.astype(bool)
    pa, pb = scored["models"][a]["probs"], scored["models"][b]["probs"]
    chosen = np.flatnonzero(((pa >= 0.5) == labels) & ((pb >= 0.5) != labels))
    chosen = chosen[np.argsort(-np.abs(pb[chosen] - 0.5))][:n]
    return [{"id": test.ids[i], "label": "positive" if labels[i] else "negative", a: float(pa[i]), b: float(pb[i]),
             "excerpt": _excerpt(test.texts[i])} for i in chosen]


def confident_mistakes(scored: dict, name: str, n: int = 2) -> dict:
    test, labels, probs = scored["test"], scored["test"].labels.astype(bool), scored["models"][name]["probs"]
    out = {}
    for kind, wrong in (("false positives", (probs >= 0.5) & ~labels), ("false negatives", (probs < 0.5) & labels)):
        idx = np.flatnonzero(wrong)
        idx = idx[np.argsort(-np.abs(probs[idx] - 0.5))][:n]
        out[kind] = [{"id": test.ids[i], "probability": float(probs[i]), "excerpt": _excerpt(test.texts[i], 200)}
                     for i in idx]
    return out


def _significance(p_value: float) -> str:
    return f"McNemar p {_p_value(p_value)}, {'significant' if p_value < 0.05 else 'not significant'} at 0.05"


def score_other_data(run_dirs: list[str], names: list[str], sets: list[str], quantize: str | None) -> dict:
    """{set: {model: evaluate_labelled's result}} for each extra labelled set; each set read and each model loaded
    once."""
    from .predict import read_labelled, score_labelled

    read = {str(d): read_labelled(d) for d in sets}
    scores: dict = {d: {} for d in read}
    for name, run in zip(names, run_dirs):
        predictor = load_predictor(run, quantize=quantize)
        for d, (items, labels) in read.items():
            scores[d][name] = score_labelled(predictor, items, labels, d)
    return scores


def findings(models: dict, pairs: list[dict], by_length: dict, curve_points: list[dict] | None = None,
             probes: list[dict] | None = None, other_data: dict | None = None) -> list[str]:
    """The report's conclusions as sentences, each built from the measured numbers it states."""
    p_values, ranked = _p_values(pairs), _ranked(models)
    acc = {n: models[n]["accuracy"] for n in models}
    out = []
    if len(ranked) > 1:
        best, second = ranked[:2]
        out.append(f"{best} is the most accurate model ({acc[best]:.2%} test accuracy); {second} is next at "
                   f"{acc[second]:.2%}, {100 * (acc[best] - acc[second]):.2f} points behind "
                   f"({_significance(p_values[frozenset((best, second))])}).")
    transformers = [n for n in ranked if models[n]["kind"] == "transformer"]
    # A student (a BiLSTM trained on a teacher's outputs) is kept apart: what the Transformer buys over an RNN is
    # read against the best BiLSTM trained on the labels alone.
    lstms = [n for n in ranked if models[n]["kind"] == "bilstm" and not models[n].get("teacher")]
    students = [n for n in ranked if models[n]["kind"] == "bilstm" and models[n].get("teacher")]
    t, b = (transformers[0], lstms[0]) if transformers and lstms else (None, None)
    if t:
        out.append(f"The best Transformer, {t} ({acc[t]:.2%}), is {100 * (acc[t] - acc[b]):+.2f} points from the best "
                   f"BiLSTM trained on the labels, {b} ({acc[b]:.2%}; {_significance(p_values[frozenset((t, b))])}).")
        s = students[0] if students else None
        if s:
            out.append(f"Distillation: the best student, {s} ({acc[s]:.2%}), is {100 * (acc[s] - acc[b]):+.2f} points "
                       f"from {b} ({_significance(p_values[frozenset((s, b))])}) and {100 * (acc[s] - acc[t]):+.2f} "
                       f"from {t} ({_significance(p_values[frozenset((s, t))])}).")
        fast = s if s and acc[s] > acc[b] else b
        speed = models[fast]["throughput_reviews_per_s"] / models[t]["throughput_reviews_per_s"]
        params = (f" with {models[fast]['params'] / models[t]['params']:.0%} of its parameters"
                  if models[fast]["params"] and models[t]["params"] else "")
        out.append(f"What the BiLSTM buys back: {fast} labels {speed:.1f}x as many reviews per second as {t} "
                   f"({models[fast]['throughput_reviews_per_s']:,.0f} against "
                   f"{models[t]['throughput_reviews_per_s']:,.0f}){params}.")
        edges, lead = by_length["edges"], np.subtract(by_length["models"][t], by_length["models"][b])
        wide, narrow = int(np.argmax(lead)), int(np.argmin(lead))
        out.append(f"By review length, {t}'s lead over {b} is largest on reviews of {edges[wide]}-{edges[wide + 1]} "
                   f"words ({100 * lead[wide]:+.1f} points) and smallest on {edges[narrow]}-{edges[narrow + 1]} words "
                   f"({100 * lead[narrow]:+.1f}).")
    if other_data and t:
        out.append(f"On other data, {t}'s lead over {b} is " + "; ".join(
            f"{100 * (r[t]['accuracy'] - r[b]['accuracy']):+.2f} points on {Path(d).name} ({r[t]['accuracy']:.2%} "
            f"against {r[b]['accuracy']:.2%})" for d, r in other_data.items())
                   + f", against {100 * (acc[t] - acc[b]):+.2f} on IMDB's test set.")
    if curve_points:
        from .curves import smallest_size_reaching, summarise

        curves = summarise(curve_points)
        reach = {m: smallest_size_reaching(c, 0.85) for m, c in curves.items()}
        reached = sorted((size, m) for m, size in reach.items() if size)
        never = [m for m, size in reach.items() if not size]
        smallest = min(min(c) for c in curves.values())
        at_smallest = sorted(((c[smallest][0], m) for m, c in curves.items() if smallest in c), reverse=True)
        out.append("Learning curves: 85% test accuracy takes " + "; ".join(f"{m} {size:,}" for size, m in reached)
                   + " labelled reviews" + (f" ({', '.join(never)}: not within the sizes tried)" if never else "")
                   + f". With {smallest:,} reviews, " + ", ".join(f"{m} {a:.1%}" for a, m in at_smallest) + ".")
    if probes:
        rates = {(p["model"], p["capability"]): p["failure_rate"] for p in probes}
        probed_t = [n for n in transformers if any(m == n for m, _ in rates)]
        probed_b = [n for n in lstms if any(m == n for m, _ in rates)]
        if probed_t and probed_b:
            t, b = probed_t[0], probed_b[0]
            gaps = {c: rates[(b, c)] - rates[(t, c)] for m, c in rates if m == t and (b, c) in rates}
            cap = max(gaps, key=gaps.get)
            out.append(f"Behavioural tests: the widest gap is {cap}, where {b} fails {rates[(b, cap)]:.1%} of the "
                       f"cases and {t} {rates[(t, cap)]:.1%}.")
    return out


def versus_full_runs(models: dict, pairs: list[dict], full_accuracy: dict[str, float], shown: int = 6) -> str:
    """Where a small-data comparison orders two models unlike their full runs, in words: the pairs most apart in
    the full runs first, each with McNemar's verdict on the small run's difference."""
    p_values = _p_values(pairs)
    known = [n for n in _ranked(models) if full_accuracy.get(n) is not None]
    acc = {n: models[n]["accuracy"] for n in known}
    flipped = sorted(((a, b) for a, b in itertools.combinations(known, 2)
                      if acc[a] > acc[b] and full_accuracy[a] < full_accuracy[b]),
                     key=lambda ab: full_accuracy[ab[1]] - full_accuracy[ab[0]], reverse=True)
    pair_count = len(known) * (len(known) - 1) // 2
    if not flipped:
        return f"The {len(known)} models with full runs rank here in the order of their full runs."
    listed = "; ".join(f"{a} above {b} here ({acc[a]:.1%} against {acc[b]:.1%}, "
                       f"{_significance(p_values[frozenset((a, b))])}) but below it in the full runs "
                       f"({full_accuracy[a]:.2%} against {full_accuracy[b]:.2%})" for a, b in flipped[:shown])
    more = f"; {len(flipped) - shown} more in the table's full-run column" if len(flipped) > shown else ""
    return (f"Small data orders {len(flipped)} of the {pair_count} pairs of models unlike the full runs: "
            f"{listed}{more}.")


def rivals(models: dict, pairs: list[dict]) -> list[list[str]]:
    """Rows of each model against the best model and against its nearest rival in accuracy."""
    p_values, ranked = _p_values(pairs), _ranked(models)
    rows = []
    for name in ranked:
        others = [n for n in ranked if n != name]
        nearest = min(others, key=lambda n: abs(models[n]["accuracy"] - models[name]["accuracy"]))
        cells = [name, f"{models[name]['accuracy']:.2%}"]
        for other in (ranked[0] if name != ranked[0] else None, nearest):
            if other is None:
                cells += ["(best)", ""]
                continue
            diff = 100 * (models[name]["accuracy"] - models[other]["accuracy"])
            cells += [f"{other}: {diff:+.2f}", _p_value(p_values[frozenset((name, other))]).removeprefix("= ")]
        rows.append(cells)
    return rows


def pareto_front(models: dict) -> list[str]:
    """Models no other model beats on both accuracy and throughput."""
    return [n for n, m in models.items() if not any(
        o["accuracy"] >= m["accuracy"] and o["throughput_reviews_per_s"] >= m["throughput_reviews_per_s"]
        and (o["accuracy"], o["throughput_reviews_per_s"]) != (m["accuracy"], m["throughput_reviews_per_s"])
        for o in models.values())]


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


SCORES = "test_scores.npz"  # every model's P(positive) on the test reviews, beside metrics.json


def build_report(run_dirs: list[str], output_dir: str | Path, data: str | None = None, batch_size: int = 64,
                 latency_reviews: int = 100, throughput_reviews: int = 2000, note: str | None = None,
                 quantize: str | None = None, extra_eval: list[str] | None = None,
                 full_accuracy: dict[str, float] | None = None) -> Path:
    """Score `run_dirs` and write the report into `output_dir`. `note` (a quick run's caveat) opens the report;
    `full_accuracy` ({model: test accuracy of its full run}) puts a small-data run beside the full results."""
    scored = score_runs(run_dirs, data, batch_size, latency_reviews, throughput_reviews, quantize=quantize)
    scored["other_data"] = score_other_data(run_dirs, list(scored["models"]), extra_eval or [], quantize)
    return write_report(scored, output_dir, note, full_accuracy)


def rebuild_report(output_dir: str | Path, test) -> Path:
    """Write the report in `output_dir` again from what it saved, metrics.json and every model's test scores, so
    that it can be rebuilt (after a change to the report code) on a clone without the runs: speeds, sizes and the
    other-data scores are the ones measured when it was first written; `test` is the test split it was scored on."""
    out = Path(output_dir)
    if not (out / "metrics.json").exists() or not (out / SCORES).exists():
        raise runs.RunError(f"{out} holds no report with saved test scores ({SCORES}) to rebuild from")
    saved = json.loads((out / "metrics.json").read_text())
    if saved.get("test_fingerprint") != test.fingerprint():
        raise runs.RunError(f"the report in {out} was scored on other test reviews than the ones given "
                            "(another dataset or subset)")
    with np.load(out / SCORES) as scores:
        models = {name: {**m, "probs": scores[name]} for name, m in saved["models"].items()}
    scored = {"test": test, "models": models, **{k: saved[k] for k in (
        "batch_size", "latency_reviews", "throughput_reviews", "hardware", "date", "other_data", "train_samples")}}
    return write_report(scored, out, saved["note"], saved["full_run_accuracy"])


def write_report(scored: dict, output_dir: str | Path, note: str | None = None,
                 full_accuracy: dict[str, float] | None = None) -> Path:
    """report.md, report.html, metrics.json, the plots and the test scores of `scored` (score_runs' result, with the
    other-data scores and the training set size) into `output_dir`."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    models, test, batch_size, other_data = scored["models"], scored["test"], scored["batch_size"], scored["other_data"]
    pairs = compare_pairs(scored)
    by_length = accuracy_by_length(scored)
    front = pareto_front(models)
    plots = make_plots(scored, by_length, front, out)
    ranked = _ranked(models)

    curves_file, probes_file = out / "curves" / "curves.json", out / "probes" / "probes.json"
    curve_points = None
    if curves_file.exists():  # written by `imdb-sentiment curves` (configs/curves.toml) into this folder
        from . import curves

        curve_points = curves.read_points(curves_file)
    probes = json.loads(probes_file.read_text()) if probes_file.exists() else None

    found = findings(models, pairs, by_length, curve_points, probes, other_data)
    blocks: list[tuple] = [("h1", "IMDB sentiment: model comparison")]
    if note:
        blocks.append(("p", "**" + note.format(train=scored["train_samples"], test=len(test)) + "**"))
    if full_accuracy:
        blocks.append(("p", versus_full_runs(models, pairs, full_accuracy)))
    blocks.append(("h2", "Findings"))
    blocks.extend(("p", sentence) for sentence in found)
    blocks.append(("h2", "How this was measured"))
    blocks.append(("p", f"Every model scored on the same {len(test):,} test reviews (the scores each run saved when "
                        f"its training ended). Speed timed for every model in one process on {scored['hardware']} "
                        f"({scored['date']}): throughput in reviews/s at batch {batch_size} over "
                        f"{scored['throughput_reviews']:,} random test reviews; latency one review at a time, "
                        f"{scored['latency_reviews']} reviews. Training time and hardware come from each run."))
    rows = [[n, models[n]["kind"], f"{models[n]['accuracy']:.2%}",
             f"{models[n]['accuracy_ci95'][0]:.2%}-{models[n]['accuracy_ci95'][1]:.2%}",
             f"{models[n]['precision']:.3f}", f"{models[n]['recall']:.3f}", f"{models[n]['f1']:.3f}",
             f"{models[n]['roc_auc']:.3f}", f"{models[n]['params']:,}" if models[n]["params"] else "-",
             _size(models[n]["size_bytes"]),
             f"{models[n]['train_seconds']:,.0f} s" if models[n]["train_seconds"] is not None else "-",
             f"{models[n]['throughput_reviews_per_s']:,.0f}",
             f"{models[n]['latency_ms_p50']:.1f} / {models[n]['latency_ms_p95']:.1f}"] for n in ranked]
    header = ["model", "kind", "accuracy", "95% CI (bootstrap)", "precision", "recall", "F1", "ROC-AUC", "params",
              "on disk", "train time", "reviews/s", "latency p50/p95 ms"]
    if full_accuracy:
        header.insert(3, "full run")
        for n, row in zip(ranked, rows):
            row.insert(3, f"{full_accuracy[n]:.2%}" if full_accuracy.get(n) is not None else "-")
    blocks.append(("h2", "Results"))
    blocks.append(("table", header, rows))
    baseline = next((n for n in ranked if models[n]["kind"] == "tfidf"), None)
    if baseline:
        blocks.append(("p", _versus_baseline(models, pairs, baseline, ranked)))
    blocks.append(("p", f"Pareto front (no model is both more accurate and faster): {', '.join(front)}."))
    train_hardware = sorted({m["train_hardware"] for m in models.values() if m["train_hardware"]})
    blocks.append(("p", "Training hardware: " + "; ".join(train_hardware) + "."))

    blocks.append(("h2", "Are the differences real? Each model against the best and its nearest rival"))
    blocks.append(("p", "Accuracy differences in points, with McNemar's test on the same test reviews; every pair "
                        "is in the appendix."))
    blocks.append(("table", ["model", "accuracy", "vs the best", "p-value", "vs the nearest rival", "p-value"],
                   rivals(models, pairs)))

    blocks.append(("h2", "Plots"))
    blocks.extend(("img", title, file) for title, file in plots)
    blocks.append(("h2", "Accuracy by review length"))
    edges = by_length["edges"]
    blocks.append(("table", ["model"] + [f"{edges[k]}-{edges[k + 1]} words ({c:,})" for k, c in
                                         enumerate(by_length["counts"])],
                   [[n] + [f"{a:.1%}" for a in accs] for n, accs in by_length["models"].items()]))

    if other_data:
        blocks.append(("h2", "Other data: what transfers"))
        blocks.append(("p", "Accuracy (95% bootstrap interval) of every model on each other labelled set, "
                            "IMDB's test set first; reviews that could not be read or scored are counted apart."))
        sets = list(other_data)
        blocks.append(("table", ["model", "IMDB test", *(f"{Path(d).name} ({next(iter(r.values()))['n']:,})"
                                                         for d, r in other_data.items())],
                       [[n, f"{models[n]['accuracy']:.2%}",
                         *(f"{other_data[d][n]['accuracy']:.2%} ({other_data[d][n]['accuracy_ci95'][0]:.1%}-"
                           f"{other_data[d][n]['accuracy_ci95'][1]:.1%})" for d in sets)] for n in ranked]))

    if curve_points:
        blocks.append(("h2", "Learning curves: accuracy against labelled training reviews"))
        blocks.append(("p", curves.describe(curve_points) + " From `imdb-sentiment curves`; every point in "
                            "curves/curves.json."))
        blocks.append(("table", *curves.table(curve_points)))
        blocks.append(("img", "Learning curves", "curves/curves.png"))

    neural = [n for n in ranked if models[n]["kind"] == "transformer"]
    lstm = [n for n in ranked if models[n]["kind"] == "bilstm"]
    blocks.append(("h2", "Where they differ"))
    if neural and lstm:
        for a, b in ((neural[0], lstm[0]), (lstm[0], neural[0])):
            blocks.append(("h3", f"{a} right, {b} wrong"))
            for e in error_examples(scored, a, b):
                blocks.append(("quote", f"{e['id']} ({e['label']}; P(positive): {a} {e[a]:.2f}, {b} {e[b]:.2f}) "
                                        f"{e['excerpt']}"))
    else:
        blocks.append(("p", "Needs one Transformer and one BiLSTM run."))
    blocks.append(("h2", "Most confident mistakes"))
    for name in ranked:
        blocks.append(("h3", name))
        for kind, examples in confident_mistakes(scored, name).items():
            for e in examples:
                blocks.append(("quote", f"{kind[:-1]}, P(positive) {e['probability']:.3f}, {e['id']}: {e['excerpt']}"))

    blocks.append(("h2", "Appendix: McNemar's test for every pair"))
    blocks.append(("table", ["A", "B", "agree", "only A right", "only B right", "p-value", "test"],
                   [[p["a"], p["b"], f"{p['agreement']:.1%}", f"{p['only_a_correct']:,}", f"{p['only_b_correct']:,}",
                     _p_value(p["p_value"]).removeprefix("= "), p["method"]] for p in pairs]))

    summary = {n: {k: v for k, v in m.items() if k != "probs"} for n, m in models.items()}
    runs.write_json(out / "metrics.json", {"findings": found, "models": summary, "pairs": pairs,
                                           "other_data": other_data,
                                           "accuracy_by_length": by_length,
                                           "pareto_front": front, "test_reviews": len(test),
                                           "test_fingerprint": test.fingerprint(), "note": note,
                                           "full_run_accuracy": full_accuracy, "train_samples": scored["train_samples"],
                                           **{k: scored[k] for k in ("batch_size", "latency_reviews",
                                                                     "throughput_reviews", "hardware", "date")}})
    np.savez_compressed(out / SCORES, **{n: m["probs"] for n, m in models.items()})
    (out / "report.md").write_text(_markdown(blocks))
    (out / "report.html").write_text(_html(blocks))
    return out


def _markdown(blocks) -> str:
    lines = []
    for kind, *body in blocks:
        if kind in ("h1", "h2", "h3"):
            lines.append(f"{'#' * int(kind[1])} {body[0]}\n")
        elif kind == "p":
            lines.append(body[0] + "\n")
        elif kind == "quote":
            lines.append(f"> {body[0]}\n")
        elif kind == "img":
            lines.append(f"![{body[0]}]({body[1]})\n")
        elif kind == "table":
            header, rows = body
            lines.append("| " + " | ".join(header) + " |")
            lines.append("|" + "---|" * len(header))
            lines.extend("| " + " | ".join(str(c).replace("|", "/") for c in row) + " |" for row in rows)
            lines.append("")
    return "\n".join(lines)


def _html(blocks) -> str:
    def inline(text: str) -> str:
        parts = html.escape(text).split("**")
        return "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))

    out = ["<!doctype html><html><head><meta charset='utf-8'><title>IMDB sentiment: model comparison</title>",
           "<style>body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem}"
           "table{border-collapse:collapse;margin:1rem 0}td,th{padding:.3rem .6rem;border-bottom:1px solid #ddd;"
           "text-align:left}blockquote{color:#444;border-left:3px solid #ccc;margin:.6rem 0;padding-left:.8rem}"
           "img{max-width:100%}</style></head><body>"]
    for kind, *body in blocks:
        if kind in ("h1", "h2", "h3"):
            out.append(f"<{kind}>{html.escape(body[0])}</{kind}>")
        elif kind == "p":
            out.append(f"<p>{inline(body[0])}</p>")
        elif kind == "quote":
            out.append(f"<blockquote>{html.escape(body[0])}</blockquote>")
        elif kind == "img":
            out.append(f"<figure><img src='{body[1]}' alt='{html.escape(body[0])}'><figcaption>"
                       f"{html.escape(body[0])}</figcaption></figure>")
        elif kind == "table":
            header, rows = body
            out.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"
                       + "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                                 for row in rows) + "</table>")
    out.append("</body></html>")
    return "\n".join(out)

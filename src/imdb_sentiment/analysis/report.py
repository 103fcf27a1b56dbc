"""The comparison report: every model scored on the same test reviews, in the same process, on the same machine.

Writes report.md, report.html, metrics.json and PNG plots into one folder. Numbers a run measured while training
(training time, its hardware) are read from its metrics.json; everything else is measured here (analysis/scoring.py)
and put into words by analysis/findings.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from imdb_sentiment.analysis import curves
from imdb_sentiment.analysis.confidence import abstention_finding, confidence_table, plot_confidence
from imdb_sentiment.analysis.counterfactual import (counterfactual_blocks, counterfactual_finding, read_pair_results,
                                                    revision_pairs)
from imdb_sentiment.analysis.findings import (by_accuracy, findings, p_text, pareto_front, rivals, versus_baseline,
                                              versus_full_runs)
from imdb_sentiment.analysis.long_text import long_text_blocks, long_text_finding, read_long_text
from imdb_sentiment.analysis.plots import make_plots
from imdb_sentiment.analysis.render import markdown, to_html
from imdb_sentiment.analysis.scoring import (accuracy_by_length, compare_pairs, confident_mistakes, error_examples,
                                             score_other_data, score_pair_data, score_runs)
from imdb_sentiment.core import runs
from imdb_sentiment.inference.calibration import CALIBRATION, read_calibration


def human_size(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:.1f} MB" if n_bytes >= 1e5 else f"{n_bytes / 1e3:.0f} kB"


SCORES = "test_scores.npz"  # every model's P(positive) on the test reviews, beside metrics.json


def build_report(run_dirs: list[str], output_dir: str | Path, data: str | None = None, batch_size: int = 64,
                 latency_reviews: int = 100, throughput_reviews: int = 2000, note: str | None = None,
                 quantize: str | None = None, extra_eval: list[str] | None = None,
                 full_accuracy: dict[str, float] | None = None, pairs: str | None = None) -> Path:
    """Score `run_dirs` and write the report into `output_dir`. `note` (a quick run's caveat) opens the report;
    `full_accuracy` ({model: test accuracy of its full run}) puts a small-data run beside the full results;
    `pairs` (a counterfactual pairs file) adds the counterfactual section."""
    scored = score_runs(run_dirs, data, batch_size, latency_reviews, throughput_reviews, quantize=quantize)
    scored["other_data"] = score_other_data(run_dirs, list(scored["models"]), extra_eval or [], quantize)
    scored["counterfactual"] = score_pair_data(run_dirs, list(scored["models"]), pairs, quantize)
    return write_report(scored, output_dir, note, full_accuracy)


def rebuild_report(output_dir: str | Path, test, pair_results: list[str] | None = None) -> Path:
    """Write the report in `output_dir` again from what it saved, metrics.json and every model's test scores, so
    that it can be rebuilt (after a change to the report code) on a clone without the runs: speeds, sizes and the
    other-data scores are the ones measured when it was first written; `test` is the test split it was scored on.
    `pair_results` (MODEL=FILE, analysis/counterfactual.py) add or replace rows of the counterfactual section."""
    saved, scored = _saved(output_dir, test)
    scored["counterfactual"] = {**(scored["counterfactual"] or {}),
                                **read_pair_results(pair_results or [], scored["models"])}
    return write_report(scored, output_dir, saved["note"], saved["full_run_accuracy"])


def add_to_report(output_dir: str | Path, run_dirs: list[str], test, quantize: str | None = None,
                  pairs: str | None = None, pair_results: list[str] | None = None) -> Path:
    """Score `run_dirs` (in int8 with `quantize`) and add them to the report saved in `output_dir`, whose own runs
    may be gone: the new models are timed here, at the report's batch size and sample sizes, and the report says
    where and when; they are scored on the report's other data sets and on `pairs` too; `pair_results`
    (MODEL=FILE) add saved paired evaluations of any of the report's models."""
    saved, scored = _saved(output_dir, test)
    added = score_runs(run_dirs, None, scored["batch_size"], scored["latency_reviews"], scored["throughput_reviews"],
                       quantize=quantize)
    if added["test"].fingerprint() != test.fingerprint():
        raise runs.RunError(f"{run_dirs} were tested on other reviews than the report in {output_dir}")
    for model in added["models"].values():
        model["timed_on"] = f"{added['hardware']} ({added['date']})"
    scored["models"].update(added["models"])
    other = score_other_data(run_dirs, list(added["models"]), list(scored["other_data"]), quantize)
    for data_set, by_model in other.items():
        scored["other_data"][data_set].update(by_model)
    scored["counterfactual"] = {**(scored["counterfactual"] or {}),
                                **score_pair_data(run_dirs, list(added["models"]), pairs, quantize),
                                **read_pair_results(pair_results or [], scored["models"])}
    return write_report(scored, output_dir, saved["note"], saved["full_run_accuracy"])


def _saved(output_dir: str | Path, test) -> tuple[dict, dict]:
    """(metrics.json, score_runs' result rebuilt from it and the saved test scores) of the report in `output_dir`."""
    out = Path(output_dir)
    if not (out / "metrics.json").exists() or not (out / SCORES).exists():
        raise runs.RunError(f"{out} holds no report with saved test scores ({SCORES}) to rebuild from")
    saved = json.loads((out / "metrics.json").read_text())
    if saved.get("test_fingerprint") != test.fingerprint():
        raise runs.RunError(f"the report in {out} was scored on other test reviews than the ones given "
                            "(another dataset or subset)")
    with np.load(out / SCORES) as scores:
        models = {name: {**m, "probs": scores[name]} for name, m in saved["models"].items()}
    for m in models.values():  # a calibration fitted since the report was scored, where the run is still here
        if m.get("run_dir") and (Path(m["run_dir"]) / CALIBRATION).exists():
            m["calibration"] = read_calibration(Path(m["run_dir"])).settings() or None
    return saved, {"test": test, "models": models, "counterfactual": saved.get("counterfactual"), **{k: saved[k] for k in (
        "batch_size", "latency_reviews", "throughput_reviews", "hardware", "date", "other_data", "train_samples")}}


def write_report(scored: dict, output_dir: str | Path, note: str | None = None,
                 full_accuracy: dict[str, float] | None = None) -> Path:
    """report.md, report.html, metrics.json, the plots and the test scores of `scored` (score_runs' result, with the
    other-data scores and the training set size) into `output_dir`."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    models, test, other_data = scored["models"], scored["test"], scored["other_data"]
    pairs = compare_pairs(scored)
    by_length = accuracy_by_length(scored)
    front = pareto_front(models)
    plots = make_plots(scored, by_length, front, out)
    order = by_accuracy(models)

    curves_file, probes_file = out / "curves" / "curves.json", out / "probes" / "probes.json"
    curve_points = None
    if curves_file.exists():  # written by `imdb-sentiment curves` (configs/curves.toml) into this folder
        curve_points = curves.read_points(curves_file)
    probes = json.loads(probes_file.read_text()) if probes_file.exists() else None

    confidence = confidence_table(scored)
    plot_confidence(scored, out / "confidence.png")
    counterfactual = scored.get("counterfactual") or {}
    found = findings(models, pairs, by_length, curve_points, probes, other_data) + [abstention_finding(confidence)]
    long_reviews = read_long_text(out / "long_text")  # written by bench/long_text.py into this folder
    found += [f for f in [counterfactual_finding(counterfactual, models), long_text_finding(long_reviews)] if f]
    blocks = ([("h1", "IMDB sentiment: model comparison")] + _summary(scored, pairs, found, note, full_accuracy)
              + _results(scored, pairs, order, front, full_accuracy)
              + _breakdowns(scored, order, plots, by_length, curve_points) + long_text_blocks(long_reviews)
              + _confidence(confidence, order)
              + counterfactual_blocks(counterfactual, order) + _examples(scored, pairs, order))

    summary = {n: {k: v for k, v in m.items() if k != "probs"} for n, m in models.items()}
    runs.write_json(out / "metrics.json", {"findings": found, "models": summary, "pairs": pairs,
                                           "other_data": other_data, "confidence": confidence,
                                           "counterfactual": counterfactual,
                                           "revision_pairs": revision_pairs(counterfactual),
                                           "accuracy_by_length": by_length, "long_text": long_reviews,
                                           "pareto_front": front, "test_reviews": len(test),
                                           "test_fingerprint": test.fingerprint(), "note": note,
                                           "full_run_accuracy": full_accuracy, "train_samples": scored["train_samples"],
                                           **{k: scored[k] for k in ("batch_size", "latency_reviews",
                                                                     "throughput_reviews", "hardware", "date")}})
    np.savez_compressed(out / SCORES, **{n: m["probs"] for n, m in models.items()})
    (out / "report.md").write_text(markdown(blocks))
    (out / "report.html").write_text(to_html(blocks))
    return out


def _summary(scored: dict, pairs: list[dict], found: list[str], note: str | None, full_accuracy: dict | None) -> list[tuple]:
    """The caveat of a small run, the findings, and how everything was measured."""
    models, test = scored["models"], scored["test"]
    batch_size = scored["batch_size"]
    blocks: list[tuple] = []
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
                        f"{scored['latency_reviews']} reviews. Training time and hardware come from each run."
                        + _exceptions(scored)))
    return blocks


def _exceptions(scored: dict) -> str:
    """The models added to the report later (timed on another machine) or trained on fewer reviews, by name."""
    sentences = []
    for name, m in scored["models"].items():
        if m.get("timed_on"):
            sentences.append(f"{name} was added later and timed on its own on {m['timed_on']}: compare its speed "
                             f"with the others' as a ratio to theirs on that machine, not as measured beside them.")
        if m.get("train_samples") and scored["train_samples"] and m["train_samples"] < scored["train_samples"]:
            sentences.append(f"{name} was trained on {m['train_samples']:,} of the {scored['train_samples']:,} "
                             f"training reviews.")
    return "".join(" " + sentence for sentence in sentences)


def _results(scored: dict, pairs: list[dict], ranked: list[str], front: list[str], full_accuracy: dict | None) -> list[tuple]:
    """The results table, the models against the linear baseline, and each model against its rivals."""
    models = scored["models"]
    blocks: list[tuple] = []
    rows = [[n, models[n]["kind"], f"{models[n]['accuracy']:.2%}",
             f"{models[n]['accuracy_ci95'][0]:.2%}-{models[n]['accuracy_ci95'][1]:.2%}",
             f"{models[n]['precision']:.3f}", f"{models[n]['recall']:.3f}", f"{models[n]['f1']:.3f}",
             f"{models[n]['roc_auc']:.3f}", f"{models[n]['params']:,}" if models[n]["params"] else "-",
             human_size(models[n]["size_bytes"]),
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
        blocks.append(("p", versus_baseline(models, pairs, baseline, ranked)))
    blocks.append(("p", f"Pareto front (no model is both more accurate and faster): {', '.join(front)}."))
    train_hardware = sorted({m["train_hardware"] for m in models.values() if m["train_hardware"]})
    blocks.append(("p", "Training hardware: " + "; ".join(train_hardware) + "."))

    blocks.append(("h2", "Are the differences real? Each model against the best and its nearest rival"))
    blocks.append(("p", "Accuracy differences in points, with McNemar's test on the same test reviews; every pair "
                        "is in the appendix."))
    blocks.append(("table", ["model", "accuracy", "vs the best", "p-value", "vs the nearest rival", "p-value"],
                   rivals(models, pairs)))
    return blocks


def _breakdowns(scored: dict, ranked: list[str], plots: list, by_length: dict, curve_points: list | None) -> list[tuple]:
    """The plots, accuracy by review length, on other data, and by training set size."""
    models, other_data = scored["models"], scored["other_data"]
    blocks: list[tuple] = []
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
    return blocks


def _confidence(table: dict, ranked: list[str]) -> list[tuple]:
    """Calibration and abstention, from the saved test scores."""
    calibrated = any("ece_calibrated" in row for row in table.values())
    header = ["model", "ECE as trained", *(["ECE, calibrated"] if calibrated else []),
              "accuracy on the 90% most confident", "on the 80%"]
    rows = [[n, f"{table[n]['ece']:.2%}", *([f"{table[n]['ece_calibrated']:.2%} ({table[n]['calibration']})"
                                             if "ece_calibrated" in table[n] else "-"] if calibrated else []),
             f"{table[n]['accuracy_at_90']:.2%}", f"{table[n]['accuracy_at_80']:.2%}"] for n in ranked]
    return [("h2", "Confidence: calibration and abstention"),
            ("p", "Expected calibration error (15 bins of confidence, the probability of the chosen label) of each "
                  "model's test scores, and its accuracy when it labels only the test reviews it is most sure of. "
                  "Runs trained since temperature scaling came in also show their calibrated error (temperature "
                  "scaling, or an isotonic map of the confidence where one temperature could not calibrate the "
                  "model; either is fitted on the run's validation split)."),
            ("table", header, rows), ("img", "Selective prediction and reliability", "confidence.png")]


def _examples(scored: dict, pairs: list[dict], ranked: list[str]) -> list[tuple]:
    """Reviews one model gets right and the other wrong, the most confident mistakes, and every pair's test."""
    models = scored["models"]
    blocks: list[tuple] = []
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
                     p_text(p["p_value"]).removeprefix("= "), p["method"]] for p in pairs]))
    return blocks

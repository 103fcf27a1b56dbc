import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import bilstm_test_config

from imdb_sentiment.analysis.findings import pareto_front
from imdb_sentiment.analysis.plots import paired_colours
from imdb_sentiment.analysis.report import add_to_report, build_report, rebuild_report
from imdb_sentiment.analysis.scoring import score_runs
from imdb_sentiment.apps.compare import QUICK, run_compare
from imdb_sentiment.core.config import CompareConfig
from imdb_sentiment.core.data import splits_for
from imdb_sentiment.core.fields import load_config
from imdb_sentiment.core.runs import TEST_PROBABILITIES, RunError
from imdb_sentiment.inference.pairs import evaluate_pairs
from imdb_sentiment.inference.predictors import load_predictor
from imdb_sentiment.training.bilstm import train_bilstm


@pytest.fixture(scope="module")
def tfidf_run(imdb_dir, tmp_path_factory):
    from imdb_sentiment.core.config import TfidfConfig
    from imdb_sentiment.training.tfidf import train_tfidf

    return train_tfidf(load_config(TfidfConfig, overrides={
        "data.data": str(imdb_dir), "data.allow_partial_dataset": True, "data.val_fraction": 0.2,
        "model.min_df": 1, "train.output_dir": str(tmp_path_factory.mktemp("runs") / "tfidf-tiny")}), "pytest")


def test_report_end_to_end_on_tiny_runs(bilstm_run, transformer_run, tfidf_run, tmp_path):
    (tmp_path / "report" / "curves").mkdir(parents=True)
    (tmp_path / "report" / "curves" / "curves.json").write_text(json.dumps([
        {"model": "tfidf", "train_size": n, "seed": 0, "test_accuracy": a, "test_n": 60}
        for n, a in ((40, 0.7), (80, 0.86))]))
    other = tmp_path / "other.csv"
    other.write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in [
        ("A great and moving film.", "pos"), ("Excellent acting.", "pos"), ("Superb.", "pos"),
        ("Awful and dull.", "neg"), ("The worst plot.", "neg"), ("Boring; a waste.", "neg")]))
    out = build_report([str(bilstm_run), str(transformer_run), str(tfidf_run)], tmp_path / "report",
                       latency_reviews=5, note="tiny test runs", extra_eval=[str(other)])
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["models"]) == {bilstm_run.name, transformer_run.name, tfidf_run.name}
    for name, m in metrics["models"].items():
        assert m["n"] == 120 and m["accuracy_ci95"][0] <= m["accuracy"] <= m["accuracy_ci95"][1]
        assert m["throughput_reviews_per_s"] > 0 and m["latency_ms_p50"] <= m["latency_ms_p95"]
        assert m["size_bytes"] > 0 and m["params"] > 0
        assert sum(m["confusion"].values()) == 120
        # The report's accuracy is the run's own test accuracy, from the scores saved when training ended.
        assert m["accuracy"] == pytest.approx(json.loads((Path(m["run_dir"]) / "metrics.json").read_text())["test_accuracy"])
    assert len(metrics["pairs"]) == 3 and all(0 <= p["p_value"] <= 1 for p in metrics["pairs"])
    assert sum(metrics["accuracy_by_length"]["counts"]) == 120
    for plot in ("learning_curves", "confusion_matrices", "accuracy_vs_throughput", "accuracy_by_length"):
        assert (out / f"{plot}.png").stat().st_size > 1000
    report = (out / "report.md").read_text()
    for heading in ("## Results", "## Are the differences real?", "## Where they differ", "## Most confident mistakes",
                    f"### {transformer_run.name} right, {bilstm_run.name} wrong", "tiny test runs",
                    "## Learning curves", "| tfidf | 70.0% | 86.0% | 80 | 80 |", "curves/curves.png",
                    "## Appendix: McNemar's test for every pair", "## Other data: what transfers",
                    "| model | IMDB test | other.csv (6) |",
                    f"On other data, {transformer_run.name}'s lead over {bilstm_run.name} is ",
                    "Learning curves: 85% test accuracy takes tfidf 80 labelled reviews. With 40 reviews, tfidf 70.0%."):
        assert heading in report
    assert "<table>" in (out / "report.html").read_text()
    assert report.startswith("# IMDB sentiment: model comparison\n\n**tiny test runs**\n\n## Findings\n")
    assert 3 <= len(metrics["findings"]) <= 8 and all(f in report for f in metrics["findings"])
    assert {r["n"] for r in metrics["other_data"][str(other)].values()} == {6}

    # Rebuilt from its saved scores, with the runs gone, the report says the same.
    splits = splits_for(load_predictor(bilstm_run).cfg)
    saved = tmp_path / "saved"
    shutil.copytree(out, saved)
    for run in (bilstm_run, transformer_run, tfidf_run):
        shutil.move(run, tmp_path / f"moved-{run.name}")
    try:
        rebuild_report(saved, splits["test"])
    finally:
        for run in (bilstm_run, transformer_run, tfidf_run):
            shutil.move(tmp_path / f"moved-{run.name}", run)
    assert (saved / "report.md").read_text() == report
    assert json.loads((saved / "metrics.json").read_text()) == metrics
    with pytest.raises(RunError, match="other test reviews"):
        rebuild_report(saved, splits["val"])


def test_runs_trained_or_tested_on_other_reviews_are_refused(bilstm_run, imdb_dir, tmp_path):
    other_split = train_bilstm(bilstm_test_config(imdb_dir, tmp_path / "other-seed", seed=7, max_epochs=1))
    with pytest.raises(RunError, match="trained on other reviews"):
        build_report([str(bilstm_run), str(other_split)], tmp_path / "report")
    cfg = bilstm_test_config(imdb_dir, tmp_path / "subset", max_epochs=1)
    cfg.data.max_eval_samples = 60
    with pytest.raises(RunError, match="tested on other reviews"):
        build_report([str(bilstm_run), str(train_bilstm(cfg))], tmp_path / "report")


def test_pareto_front():
    models = {"slow-good": {"accuracy": 0.9, "throughput_reviews_per_s": 10},
              "fast-ok": {"accuracy": 0.8, "throughput_reviews_per_s": 1000},
              "dominated": {"accuracy": 0.79, "throughput_reviews_per_s": 500}}
    assert pareto_front(models) == ["slow-good", "fast-ok"]


def test_paired_colours_give_a_variant_and_its_head_tail_twin_one_hue():
    palette = ["glove dark", "glove light", "minilm dark", "minilm light"]
    colours = paired_colours(["bilstm-glove_head_tail", "minilm-l6", "bilstm-glove"], palette)
    assert colours == {"bilstm-glove_head_tail": "glove dark", "bilstm-glove": "glove light", "minilm-l6": "minilm dark"}


def test_compare_quick_trains_missing_runs_then_reports(imdb_dir, tmp_path, capsys):
    bilstm = tmp_path / "bilstm_tiny.toml"
    bilstm.write_text(f"# imdb-sentiment train bilstm --config {bilstm}\n[data]\nallow_partial_dataset = true\n"
                      "[model]\nembeddings = \"random\"\nembedding_dim = 8\nhidden_size = 8\n"
                      f"[train]\noutput_dir = \"{tmp_path / 'unused'}\"\n")
    tfidf = tmp_path / "tfidf_tiny.toml"
    tfidf.write_text(f"# imdb-sentiment train tfidf --config {tfidf}\n[data]\nallow_partial_dataset = true\n"
                     "[model]\nmin_df = 1\nC = [1.0]\n")
    cfg = load_config(CompareConfig, overrides={
        "compare.configs": [str(bilstm), str(tfidf)], "compare.data": str(imdb_dir), "compare.quick": True,
        "compare.quick_runs_dir": str(tmp_path / "quick"), "compare.quick_output_dir": str(tmp_path / "report"),
        "compare.latency_reviews": 3,
        "compare.full_results": [str(tmp_path / "full.json"), f"tfidf-logreg={tmp_path / 'tfidf' / 'metrics.json'}"]})
    # a full report that knows the BiLSTM by its full run's folder name (the config's own output_dir), and one
    # run's metrics for the TF-IDF model (its config's default output_dir, runs/tfidf-logreg)
    (tmp_path / "full.json").write_text(json.dumps({"models": {"unused": {"accuracy": 0.9}}}))
    (tmp_path / "tfidf").mkdir()
    (tmp_path / "tfidf" / "metrics.json").write_text(json.dumps({"test_accuracy": 0.8}))
    out = run_compare(cfg)
    printed = capsys.readouterr().out
    assert re.search(r"^\[0:00\] comparing 2 models, quick", printed, re.M)
    assert re.search(r"^\[\d+:\d\d\] model 2 of 2: tfidf_tiny \(tfidf\) training into ", printed, re.M)
    assert re.search(r"\| bilstm_tiny \| bilstm \| [\d.]+% \| 90.00% \|", (out / "report.md").read_text())
    assert json.loads((out / "metrics.json").read_text())["full_run_accuracy"] == {"bilstm_tiny": 0.9,
                                                                                   "tfidf_tiny": 0.8}
    trained = json.loads((tmp_path / "quick" / "bilstm_tiny" / "run.json").read_text())["config"]
    assert trained["model"]["hidden_size"] == QUICK["bilstm"]["model.hidden_size"] != 8  # quick settings win
    assert trained["train"]["max_epochs"] == QUICK["bilstm"]["train.max_epochs"]
    assert "subset of 108 training reviews with small settings and scored on 120 test reviews" in \
        (out / "report.md").read_text()

    cfg.compare.quick, cfg.compare.train_missing = False, False
    with pytest.raises(RunError, match="holds no finished run"):
        run_compare(cfg)


def test_a_run_is_added_to_a_saved_report_whose_runs_are_gone(bilstm_run, transformer_run, tfidf_run, tmp_path):
    other = tmp_path / "other.csv"
    other.write_text("text,label\nA great and moving film.,pos\nAwful and dull.,neg\n")
    bilstm, tfidf = (shutil.copytree(run, tmp_path / run.name) for run in (bilstm_run, tfidf_run))
    out = build_report([str(bilstm), str(tfidf)], tmp_path / "report", latency_reviews=3, throughput_reviews=20,
                       extra_eval=[str(other)])
    before = json.loads((out / "metrics.json").read_text())
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("Sentiment\tText\tbatch_id\n" + "".join(
        f"{a}\t{t}\t{k}\n" for k, (x, y) in enumerate([("A superb, moving film.", "A dull, lifeless film."),
                                                      ("Awful and boring.", "Gripping and wonderful."),
                                                      ("I loved every minute.", "I hated every minute.")])
        for a, t in (("Positive" if k != 1 else "Negative", x), ("Negative" if k != 1 else "Positive", y))))
    saved_pairs = tmp_path / "bilstm.dev_pairs.json"
    saved_pairs.write_text(json.dumps(evaluate_pairs(bilstm, pairs, "Text", "Sentiment")))
    shutil.rmtree(bilstm), shutil.rmtree(tfidf)
    test = splits_for(load_predictor(transformer_run).cfg)["test"]
    add_to_report(out, [str(transformer_run)], test, pairs=str(pairs),
                  pair_results=[f"{bilstm_run.name}={saved_pairs}"])
    after = json.loads((out / "metrics.json").read_text())
    assert set(after["counterfactual"]) == {bilstm_run.name, transformer_run.name}
    assert after["counterfactual"][transformer_run.name]["pairs"] == 3 and len(after["revision_pairs"]) == 1
    assert "## Counterfactual pairs: does a model read the words that decide the label?" in \
        (out / "report.md").read_text()
    assert any(f.startswith("On 3 human-edited review pairs, ") for f in after["findings"])
    with pytest.raises(RunError, match="the report has no model 'nobody'"):
        rebuild_report(out, test, [f"nobody={saved_pairs}"])
    assert set(after["models"]) == set(before["models"]) | {transformer_run.name}
    for name, model in before["models"].items():  # measured then, kept as measured
        assert {k: after["models"][name][k] for k in model} == model
    added = after["models"][transformer_run.name]
    assert added["throughput_reviews_per_s"] > 0 and added["timed_on"].endswith(f"({after['date']})")
    assert added["accuracy"] == pytest.approx(json.loads((transformer_run / "metrics.json").read_text())["test_accuracy"])
    assert after["other_data"][str(other)][transformer_run.name]["n"] == 2
    assert len(after["pairs"]) == 3
    assert f"{transformer_run.name} was added later and timed on its own" in (out / "report.md").read_text()
    with pytest.raises(RunError, match="other test reviews"):
        add_to_report(out, [str(transformer_run)], splits_for(load_predictor(transformer_run).cfg)["val"])


def test_report_scores_and_saves_runs_without_saved_scores(bilstm_run, tmp_path):
    run = shutil.copytree(bilstm_run, tmp_path / "older-run")
    (run / TEST_PROBABILITIES).unlink()  # as runs trained before scores were saved
    scored = score_runs([str(run)], latency_reviews=2, throughput_reviews=10)
    assert (run / TEST_PROBABILITIES).exists()
    assert scored["models"]["older-run"]["probs"] == pytest.approx(np.load(bilstm_run / TEST_PROBABILITIES), abs=1e-5)
    assert scored["throughput_reviews"] == 10 and scored["latency_reviews"] == 2


def test_baseline_verdicts_follow_mcnemar():
    from imdb_sentiment.analysis.findings import versus_baseline

    models = {"tfidf": {"kind": "tfidf", "accuracy": 0.90}, "big": {"kind": "transformer", "accuracy": 0.92},
              "lstm": {"kind": "bilstm", "accuracy": 0.88}, "close": {"kind": "bilstm", "accuracy": 0.901},
              "broken": {"kind": "bilstm", "accuracy": 0.5}}
    pairs = [{"a": "big", "b": "tfidf", "p_value": 1e-6}, {"a": "tfidf", "b": "lstm", "p_value": 0.001},
             {"a": "close", "b": "tfidf", "p_value": 0.7},
             {"a": "tfidf", "b": "broken", "p_value": 0.0}]
    text = versus_baseline(models, pairs, "tfidf", ["big", "close", "tfidf", "lstm", "broken"])
    assert "significantly better: big (+2.00 points, p = 1e-06)" in text
    assert "significantly worse: lstm (-2.00 points, p = 0.001), broken (-40.00 points, p < 1e-300)" in text
    assert "no significant difference: close (+0.10 points, p = 0.7)" in text


def test_a_quick_student_learns_from_the_quick_teacher(imdb_dir, tmp_path):
    from imdb_sentiment.models.transformer import build_tiny_distilbert

    # --quick reads 128 tokens with a Transformer
    tiny = build_tiny_distilbert([p.read_text() for p in sorted(imdb_dir.rglob("*.txt"))], tmp_path / "tiny",
                                 max_position_embeddings=128)
    teacher = tmp_path / "minilm_l6.toml"  # the quick teacher is the quick run of the config of this name
    teacher.write_text(f"# imdb-sentiment train transformer --config {teacher}\n[data]\nallow_partial_dataset = true\n"
                       f"[model]\nmodel_name = \"{tiny}\"\n"
                       "[train]\nmax_steps = 4\nbatch_size = 8\n")
    student = tmp_path / "student.toml"
    student.write_text(f"# imdb-sentiment train bilstm --config {student}\n[data]\nallow_partial_dataset = true\n"
                       "[model]\nembeddings = \"random\"\nembedding_dim = 8\nhidden_size = 8\n"
                       "[distill]\nteacher = \"runs/no-such-teacher\"\nlogits_cache = \"no/such/cache.npz\"\n"
                       "augment_copies = 1\n")
    cfg = load_config(CompareConfig, overrides={
        "compare.configs": [str(teacher), str(student)], "compare.data": str(imdb_dir), "compare.quick": True,
        "compare.quick_runs_dir": str(tmp_path / "quick"), "compare.quick_output_dir": str(tmp_path / "report"),
        "compare.latency_reviews": 2, "compare.throughput_reviews": 20})
    run_compare(cfg)
    metrics = json.loads((tmp_path / "quick" / "student" / "metrics.json").read_text())
    assert metrics["teacher"] == str(tmp_path / "quick" / "minilm_l6") and metrics["augmented_samples"] == 108
    assert (tmp_path / "quick" / "teacher_logits.npz").exists()  # one cache, shared by quick students


def test_labels_of_close_points_do_not_overlap():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from imdb_sentiment.analysis.plots import label_points

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    points = {f"bilstm-variant_{i}": (500 + i, 0.90 + 0.0002 * i) for i in range(6)} | {"minilm-l6": (25, 0.91)}
    points["tfidf-nbsvm, the fastest"] = (2800, 0.912)
    ax.scatter(*zip(*points.values()))
    ax.set(xscale="log")
    texts = label_points(ax, points)
    fig.canvas.draw()
    boxes = [t.get_window_extent() for t in texts]
    assert len(texts) == 8
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    assert all(box.x1 <= ax.bbox.x1 for box in boxes)  # the rightmost point's label stays inside the axes
    plt.close(fig)


def test_findings_state_the_measured_numbers():
    from imdb_sentiment.analysis.findings import findings, rivals

    models = {"minilm": {"kind": "transformer", "accuracy": 0.91, "throughput_reviews_per_s": 25.0, "params": 22_700_000},
              "bilstm": {"kind": "bilstm", "accuracy": 0.90, "throughput_reviews_per_s": 500.0, "params": 2_270_000},
              "nbsvm": {"kind": "tfidf", "accuracy": 0.912, "throughput_reviews_per_s": 900.0, "params": None}}
    pairs = [{"a": "minilm", "b": "bilstm", "p_value": 0.001}, {"a": "minilm", "b": "nbsvm", "p_value": 0.6},
             {"a": "bilstm", "b": "nbsvm", "p_value": 0.01}]
    by_length = {"edges": [0, 100, 200, 900], "models": {"minilm": [0.95, 0.92, 0.88], "bilstm": [0.95, 0.90, 0.84],
                                                         "nbsvm": [0.9, 0.9, 0.9]}}
    probes = [{"model": "minilm", "capability": "negation", "failure_rate": 0.2},
              {"model": "bilstm", "capability": "negation", "failure_rate": 0.7},
              {"model": "minilm", "capability": "typos", "failure_rate": 0.05},
              {"model": "bilstm", "capability": "typos", "failure_rate": 0.1}]
    text = findings(models, pairs, by_length, probes=probes)
    assert text[0] == ("nbsvm is the most accurate model (91.20% test accuracy); minilm is next at 91.00%, 0.20 points "
                       "behind (McNemar p = 0.6, not significant at 0.05).")
    assert "minilm (91.00%), is +1.00 points from the best BiLSTM trained on the labels, bilstm (90.00%; McNemar p = " \
           "0.001, significant" in text[1]
    assert "bilstm labels 20.0x as many reviews per second as minilm (500 against 25) with 10% of its parameters" in text[2]
    assert "largest on reviews of 200-900 words (+4.0 points) and smallest on 0-100 words (+0.0)" in text[3]
    assert text[4] == "Behavioural tests: the widest gap is negation, where bilstm fails 70.0% of the cases and minilm 20.0%."
    assert rivals(models, pairs)[0] == ["nbsvm", "91.20%", "(best)", "", "minilm: +0.20", "0.6"]

    # A student is not the BiLSTM the Transformer is measured against, but it is what the BiLSTM buys back with.
    models["student"] = {"kind": "bilstm", "accuracy": 0.905, "throughput_reviews_per_s": 600.0, "params": 2_270_000,
                         "teacher": "runs/minilm"}
    by_length["models"]["student"] = [0.95, 0.91, 0.86]
    pairs += [{"a": "student", "b": "bilstm", "p_value": 0.02}, {"a": "student", "b": "minilm", "p_value": 0.3},
              {"a": "student", "b": "nbsvm", "p_value": 0.1}]
    text = findings(models, pairs, by_length)
    assert "best BiLSTM trained on the labels, bilstm (90.00%" in text[1]
    assert text[2] == ("Distillation: the best student, student (90.50%), is +0.50 points from bilstm (McNemar p = 0.02, "
                       "significant at 0.05) and -0.50 from minilm (McNemar p = 0.3, not significant at 0.05).")
    assert "student labels 24.0x as many reviews per second as minilm" in text[3]

    # A larger Transformer and its student, added later and timed on another machine: speeds compare within a
    # machine, and the two teachers' students are set side by side.
    timed = "another CPU (2026-12-07)"
    models["mpnet-int8"] = {"kind": "transformer", "accuracy": 0.93, "throughput_reviews_per_s": 16.0,
                            "params": 109_500_000, "timed_on": timed}
    models["student2"] = {"kind": "bilstm", "accuracy": 0.915, "throughput_reviews_per_s": 800.0,
                          "params": 1_900_000, "teacher": "runs/mpnet", "timed_on": timed}
    by_length["models"].update({"mpnet-int8": [0.96, 0.93, 0.9], "student2": [0.95, 0.92, 0.87]})
    pairs += [{"a": a, "b": b, "p_value": 0.04} for a in ("mpnet-int8", "student2")
              for b in ("minilm", "bilstm", "nbsvm", "student")] + [{"a": "mpnet-int8", "b": "student2", "p_value": 0.01}]
    text = findings(models, pairs, by_length)
    assert "student2 labels 50.0x as many reviews per second as mpnet-int8 (800 against 16)" in text[3]
    assert text[4] == ("Teachers: the best student of mpnet (93.00%), student2, reaches 91.50%; the best of minilm "
                       "(91.00%), student, 90.50%: student2 leads by 1.00 points (McNemar p = 0.04, significant at 0.05).")


def test_a_small_run_names_the_pairs_it_orders_unlike_the_full_runs():
    from imdb_sentiment.analysis.findings import versus_full_runs

    models = {"nbsvm": {"accuracy": 0.88}, "glove": {"accuracy": 0.82}, "minilm": {"accuracy": 0.80},
              "scratch": {"accuracy": 0.70}, "student": {"accuracy": 0.60}}
    pairs = [{"a": a, "b": b, "p_value": 0.01} for a in models for b in models if a < b]
    full = {"nbsvm": 0.912, "glove": 0.90, "minilm": 0.913, "scratch": 0.888}  # no full run of the student
    text = versus_full_runs(models, pairs, full)
    assert text.startswith("Small data orders 2 of the 6 pairs of models unlike the full runs: ")
    # the pair furthest apart in the full runs comes first
    assert text.index("glove above minilm here (82.0% against 80.0%, McNemar p = 0.01, significant at 0.05) but "
                      "below it in the full runs (90.00% against 91.30%)") < text.index("nbsvm above minilm")
    assert "student" not in text
    assert versus_full_runs(models, pairs, {"nbsvm": 0.9, "scratch": 0.8}) == \
        "The 2 models with full runs rank here in the order of their full runs."
    assert "1 more in the table's full-run column" in versus_full_runs(models, pairs, full, shown=1)


def test_a_rebuilt_report_picks_up_a_calibration_fitted_since(tfidf_run, tmp_path):
    tfidf = shutil.copytree(tfidf_run, tmp_path / tfidf_run.name)
    (tfidf / "calibration.json").unlink(missing_ok=True)
    out = build_report([str(tfidf)], tmp_path / "report", latency_reviews=3, throughput_reviews=20)
    assert "ECE, calibrated" not in (out / "report.md").read_text()
    (tfidf / "calibration.json").write_text(json.dumps({"method": "isotonic", "temperature": 1.0,
                                                        "confidence_in": [0.5, 0.9], "confidence_out": [0.6, 0.8]}))
    rebuild_report(out, splits_for(load_predictor(tfidf).cfg)["test"])
    assert json.loads((out / "metrics.json").read_text())["models"][tfidf.name]["calibration"]["confidence_out"] == \
        [0.6, 0.8]
    assert "(isotonic)" in (out / "report.md").read_text()

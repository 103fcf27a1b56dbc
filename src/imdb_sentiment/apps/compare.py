"""`imdb-sentiment compare`: train the models a comparison lists when their runs are missing, then write the report.

Each model is named by its config file; its run directory is that config's `output_dir`. With --quick every model
is trained on a stratified subset with small settings into its own folder (reused when already there).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from imdb_sentiment.apps.train import CONFIG_CLASSES, config_kind, train
from imdb_sentiment.core import hardware, runs
from imdb_sentiment.core.config import CompareConfig
from imdb_sentiment.core.fields import load_config

# Quick settings, chosen by measurement (results/quick/README.md) so that the whole comparison takes under
# 15 minutes on 2 CPU cores and still shows what the full runs show: every model sees the same 5,000 reviews; the
# BiLSTMs read 128 tokens with a quarter of the units and a higher learning rate, for 6 epochs; MiniLM reads
# 128 tokens for one epoch in bf16 where the CPU has it (within noise of fp32 in a full run).
QUICK_TRAIN, QUICK_TEST = 5000, 1000
QUICK_TEACHER = "minilm_l6"  # the quick run of configs/minilm_l6.toml
QUICK_COPIES = 1  # augmented copies per review at most: the teacher labels each one, at about 85 reviews/s here
QUICK = {
    "bilstm": {"model.hidden_size": 64, "model.max_length": 128, "train.batch_size": 32, "train.learning_rate": 2e-3,
               "train.max_epochs": 6},
    "transformer": {"model.max_length": 128, "train.num_epochs": 1.0},
    "tfidf": {},
}


def quick_overrides(kind: str) -> dict:
    """QUICK[kind], with bf16 for the Transformer (and the teacher's labelling) where this CPU runs it natively."""
    bf16 = hardware.cpu_has_bf16() and not torch.cuda.is_available()
    if kind == "transformer":
        return {**QUICK[kind], "train.precision": "bf16" if bf16 else "auto"}
    if kind == "bilstm":
        return {**QUICK[kind], "distill.teacher_precision": "bf16" if bf16 else "fp32"}
    return QUICK[kind]


def run_compare(cfg: CompareConfig) -> Path:
    c = cfg.compare
    if c.from_saved:
        return rebuild(c)
    start, total = time.monotonic(), len(c.configs)

    def progress(message: str) -> None:
        elapsed = int(time.monotonic() - start)
        print(f"[{elapsed // 60:d}:{elapsed % 60:02d}] {message}", flush=True)

    progress(f"comparing {total} models" + (f", quick: each trained on {QUICK_TRAIN:,} reviews into "
                                            f"{c.quick_runs_dir}" if c.quick else ""))
    run_dirs, full_accuracy = [], {}
    published = full_run_accuracies(c.full_results) if c.quick else {}
    for number, path in enumerate(c.configs, 1):
        kind = config_kind(path)
        overrides = {"data.data": c.data} if c.data else {}
        if c.quick:
            overrides.update({"data.max_train_samples": QUICK_TRAIN, "data.max_eval_samples": QUICK_TEST,
                              "train.output_dir": str(Path(c.quick_runs_dir) / Path(path).stem),
                              **quick_overrides(kind)})
            # the full run of this config is named by its own output_dir, as in the full report
            full_name = Path(load_config(CONFIG_CLASSES[kind], path).train.output_dir).name
            full_accuracy[Path(path).stem] = published.get(full_name)
        model_cfg = load_config(CONFIG_CLASSES[kind], path, overrides)
        if c.quick and kind == "bilstm" and model_cfg.distill.enabled:
            # A quick student learns from the quick Transformer, trained on the same subset (listed before it).
            # The students share one cache: the first to need it (list the one with the most copies first) has the
            # teacher label, and a cache with more copies serves a student asking for fewer.
            d = model_cfg.distill
            d.teacher = str(Path(c.quick_runs_dir) / QUICK_TEACHER)
            d.logits_cache = str(Path(c.quick_runs_dir) / "teacher_logits.npz")
            d.augment_copies = min(d.augment_copies, QUICK_COPIES)
        run_dir = Path(model_cfg.train.output_dir)
        finished = (run_dir / "metrics.json").exists()
        progress(f"model {number} of {total}: {Path(path).stem} ({kind}) "
                 + (f"already trained in {run_dir}" if finished else f"training into {run_dir}"))
        if not finished:
            if not c.train_missing:
                raise runs.RunError(f"{run_dir} holds no finished run: train it with `imdb-sentiment train {kind} "
                                    f"--config {path}`, or let compare do it (--train_missing true).")
            if (run_dir / "run.json").exists() and kind != "tfidf":
                model_cfg.train.resume = True  # an interrupted run continues from its last checkpoint
            train(kind, model_cfg)
        run_dirs.append(str(run_dir))
    # build_report fills in the subset sizes the runs actually saw.
    note = ("Quick mode: every model trained on a stratified subset of {train:,} training reviews with small "
            "settings and scored on {test:,} test reviews. These are not the full results.") if c.quick else None
    progress(f"scoring and timing the {total} models for the report")
    out = build_report_for(run_dirs, c, note, full_accuracy if any(full_accuracy.values()) else None)
    progress(f"report: {out / 'report.md'} and {out / 'report.html'}")
    return out


def rebuild(c) -> Path:
    """The report written again from the scores it saved, with the runs in `add` scored and added; the test split
    is the one its first config describes."""
    from imdb_sentiment.analysis.report import add_to_report, rebuild_report
    from imdb_sentiment.core.data import splits_for

    overrides = {"data.data": c.data} if c.data else {}
    if c.quick:
        overrides["data.max_eval_samples"] = QUICK_TEST
    first = c.configs[0]
    test = splits_for(load_config(CONFIG_CLASSES[config_kind(first)], first, overrides))["test"]
    out = c.quick_output_dir if c.quick else c.output_dir
    if c.add:
        out = add_to_report(out, c.add, test, c.quantize, c.pairs, c.pair_results)
        print(f"report rebuilt with {', '.join(c.add)} added: {out / 'report.md'} and {out / 'report.html'}")
        return out
    out = rebuild_report(out, test, c.pair_results)
    print(f"report rebuilt from its saved scores: {out / 'report.md'} and {out / 'report.html'}")
    return out


def full_run_accuracies(files: list[str]) -> dict[str, float]:
    """{model: test accuracy} from full reports' metrics.json files, and from single runs' given as NAME=FILE; a
    model's first listing wins."""
    accuracies: dict[str, float] = {}
    for entry in files:
        name, _, file = entry.rpartition("=")
        if not Path(file).exists():
            continue
        metrics = json.loads(Path(file).read_text())
        if name:
            accuracies.setdefault(name, metrics["test_accuracy"])
        else:
            for model_name, model in metrics["models"].items():
                accuracies.setdefault(model_name, model["accuracy"])
    return accuracies


def build_report_for(run_dirs: list[str], c, note: str | None, full_accuracy: dict | None = None) -> Path:
    from imdb_sentiment.analysis.report import build_report

    output_dir = c.quick_output_dir if c.quick else c.output_dir
    return build_report(run_dirs, output_dir, c.data, c.batch_size, c.latency_reviews, c.throughput_reviews, note,
                        c.quantize, c.extra_eval, full_accuracy, c.pairs)

"""`imdb-sentiment compare`: train the models a comparison lists when their runs are missing, then write the report.

Each model is named by its config file; its run directory is that config's `output_dir`. With --quick every model
is trained on a stratified subset with small settings into its own folder (reused when already there).
"""

from __future__ import annotations

import re
from pathlib import Path

from . import runs
from .config import BiLSTMConfig, CompareConfig, ConfigError, TfidfConfig, TransformerConfig, load_config

CONFIG_CLASSES = {"bilstm": BiLSTMConfig, "transformer": TransformerConfig, "tfidf": TfidfConfig}
QUICK_TRAIN, QUICK_TEST = 2000, 1000
QUICK_TEACHER = "minilm_l6"  # the quick run of configs/minilm_l6.toml
QUICK = {
    "bilstm": {"train.max_epochs": 2},
    "transformer": {"model.max_length": 128, "train.num_epochs": 1.0},
    "tfidf": {},
}


def config_kind(path: str | Path) -> str:
    """The model kind from the command each config file starts with (`# imdb-sentiment train KIND ...`)."""
    first_line = Path(path).read_text().splitlines()[0] if Path(path).exists() else ""
    match = re.match(r"# imdb-sentiment train (\w+)", first_line)
    if not match or match.group(1) not in CONFIG_CLASSES:
        raise ConfigError(f"{path}: a model config starts with `# imdb-sentiment train KIND --config {path}`")
    return match.group(1)


def train(kind: str, cfg, splits: dict | None = None) -> Path:
    """Train `cfg` (on `splits` instead of its own when given) and return its run directory."""
    if kind == "bilstm":
        from .training import train_bilstm as trainer
    elif kind == "transformer":
        from .transformer import train_transformer as trainer
    else:
        from .baselines import train_tfidf as trainer
    return trainer(cfg, splits=splits)


def run_compare(cfg: CompareConfig) -> Path:
    c = cfg.compare
    run_dirs = []
    for path in c.configs:
        kind = config_kind(path)
        overrides = {"data.data": c.data} if c.data else {}
        if c.quick:
            overrides.update({"data.max_train_samples": QUICK_TRAIN, "data.max_eval_samples": QUICK_TEST,
                              "train.output_dir": str(Path(c.quick_runs_dir) / Path(path).stem), **QUICK[kind]})
        model_cfg = load_config(CONFIG_CLASSES[kind], path, overrides)
        if c.quick and kind == "bilstm" and model_cfg.distill.enabled:
            # A quick student learns from the quick Transformer, trained on the same subset (listed before it).
            model_cfg.distill.teacher = str(Path(c.quick_runs_dir) / QUICK_TEACHER)
            model_cfg.distill.logits_cache = None
        run_dir = Path(model_cfg.train.output_dir)
        if not (run_dir / "metrics.json").exists():
            if not c.train_missing:
                raise runs.RunError(f"{run_dir} holds no finished run: train it with `imdb-sentiment train {kind} "
                                    f"--config {path}`, or let compare do it (--train_missing true).")
            if (run_dir / "run.json").exists() and kind != "tfidf":
                model_cfg.train.resume = True  # an interrupted run continues from its last checkpoint
            print(f"training {path} into {run_dir}")
            train(kind, model_cfg)
        run_dirs.append(str(run_dir))
    # build_report fills in the subset sizes the runs actually saw.
    note = ("Quick mode: every model trained on a stratified subset of {train:,} training reviews with small "
            "settings and scored on {test:,} test reviews. These are not the full results.") if c.quick else None
    out = build_report_for(run_dirs, c, note)
    print(f"report: {out / 'report.md'} and {out / 'report.html'}")
    return out


def build_report_for(run_dirs: list[str], c, note: str | None) -> Path:
    from .report import build_report

    output_dir = c.quick_output_dir if c.quick else c.output_dir
    return build_report(run_dirs, output_dir, c.data, c.batch_size, c.latency_reviews, c.throughput_reviews, note,
                        c.quantize, c.extra_eval)

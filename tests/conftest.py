"""Synthetic aclImdb datasets: real layout, tiny size, sentiment a small model can learn in seconds."""

from __future__ import annotations

import os
import random
import tarfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

POSITIVE = ["great", "excellent", "wonderful", "loved", "superb", "brilliant", "moving"]
NEGATIVE = ["awful", "terrible", "boring", "worst", "waste", "dull", "poorly"]
FILLER = ["the", "film", "movie", "plot", "actor", "scene", "story", "was", "and", "a", "it", "director", "music",
          "of", "in", "this", "characters", "ending", "camera", "script", "."]


def synthetic_review(rng: random.Random, positive: bool) -> str:
    words = [rng.choice(FILLER) for _ in range(rng.randint(6, 60))]
    for _ in range(rng.randint(1, 3)):
        words.insert(rng.randrange(len(words) + 1), rng.choice(POSITIVE if positive else NEGATIVE))
    return " ".join(words).capitalize() + " <br /><br />The end."


def write_aclimdb(root: Path, per_class: int = 40, seed: int = 0) -> Path:
    rng = random.Random(seed)
    base = root / "aclImdb"
    for split in ("train", "test"):
        for label in ("pos", "neg"):
            folder = base / split / label
            folder.mkdir(parents=True)
            for i in range(per_class):
                rating = rng.randint(7, 10) if label == "pos" else rng.randint(1, 4)
                (folder / f"{i}_{rating}.txt").write_text(synthetic_review(rng, label == "pos"))
    return base


def tar_folder(folder: Path, archive: Path) -> Path:
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="aclImdb")
    return archive


@pytest.fixture(scope="session")
def imdb_dir(tmp_path_factory) -> Path:
    return write_aclimdb(tmp_path_factory.mktemp("imdb"), per_class=60)


@pytest.fixture(scope="session")
def imdb_tar(imdb_dir, tmp_path_factory) -> Path:
    return tar_folder(imdb_dir, tmp_path_factory.mktemp("tar") / "aclImdb_v1.tar.gz")


def bilstm_test_config(data, out, **train):
    from imdb_sentiment.core.config import BiLSTMConfig
    from imdb_sentiment.core.fields import load_config

    return load_config(BiLSTMConfig, overrides={
        "data.data": str(data), "data.allow_partial_dataset": True, "data.val_fraction": 0.2,
        "model.embeddings": "random", "model.embedding_dim": 16, "model.hidden_size": 16, "model.dropout": 0.0,
        "model.max_length": 48, "train.output_dir": str(out), "train.batch_size": 8, "train.learning_rate": 0.02,
        "train.max_epochs": 6, "train.patience": 6, **{f"train.{k}": v for k, v in train.items()}})


def transformer_test_config(data, model, out, **train):
    from imdb_sentiment.core.config import TransformerConfig
    from imdb_sentiment.core.fields import load_config

    return load_config(TransformerConfig, overrides={
        "data.data": str(data), "data.allow_partial_dataset": True, "data.val_fraction": 0.2,
        "model.model_name": str(model), "model.max_length": 64, "train.output_dir": str(out),
        "train.batch_size": 8, "train.eval_batch_size": 16, "train.learning_rate": 1e-3, "train.num_epochs": 1.0,
        **{f"train.{k}": v for k, v in train.items()}})


@pytest.fixture(scope="session")
def tiny_distilbert(imdb_dir, tmp_path_factory):
    """A tiny DistilBERT whose WordPiece vocabulary is learned from the 240 synthetic reviews."""
    from imdb_sentiment.models.transformer import build_tiny_distilbert

    texts = [path.read_text() for path in sorted(imdb_dir.rglob("*.txt"))]
    return build_tiny_distilbert(texts, tmp_path_factory.mktemp("tiny-distilbert"), max_position_embeddings=64)


@pytest.fixture(scope="session")
def bilstm_run(imdb_dir, tmp_path_factory):
    from imdb_sentiment.training.bilstm import train_bilstm

    return train_bilstm(bilstm_test_config(imdb_dir, tmp_path_factory.mktemp("runs") / "bilstm-tiny"), "pytest")


@pytest.fixture(scope="session")
def transformer_run(imdb_dir, tiny_distilbert, tmp_path_factory):
    from imdb_sentiment.training.transformer import train_transformer

    out = tmp_path_factory.mktemp("runs") / "distilbert-tiny"
    return train_transformer(transformer_test_config(imdb_dir, tiny_distilbert, out, num_epochs=6.0,
                                                     learning_rate=5e-3, patience=6), "pytest")

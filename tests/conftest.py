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

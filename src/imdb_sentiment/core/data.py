"""The IMDB Large Movie Review Dataset: reading, checking, downloading and splitting it.

Reads the official Stanford `aclImdb` layout from a folder or a tarball, or the Hugging Face dataset
`stanfordnlp/imdb` when the path is `hf:stanfordnlp/imdb`. The test split is only ever read for final numbers;
model selection uses the validation split carved from train here.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tarfile
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
IMDB_MD5 = "7c2ac02c03563afcf9b574c7e56c153a"
REVIEWS_PER_CLASS = 12_500
DATA_ENV_VAR = "IMDB_SENTIMENT_DATA"
CACHE_DIR = Path(os.environ.get("IMDB_SENTIMENT_CACHE", Path.home() / ".cache" / "imdb_sentiment"))
LABELS = ("neg", "pos")
_MEMBER = re.compile(r"(?:^|/)(train|test)/(pos|neg)/([^/]+)\.txt$")


class DataError(RuntimeError):
    """The dataset is missing, unreadable or not in the expected layout."""


@dataclass
class Reviews:
    texts: list[str]
    labels: np.ndarray  # (N,) int64, 1 = positive
    ids: list[str]  # "train/pos/123_9": split, class and the official file name

    def __len__(self) -> int:
        return len(self.texts)

    def take(self, indices) -> Reviews:
        indices = np.asarray(indices, dtype=np.int64)
        return Reviews([self.texts[i] for i in indices], self.labels[indices], [self.ids[i] for i in indices])

    def fingerprint(self) -> str:
        """Identifies the exact reviews and labels, so runs trained or tested on other data can be told apart."""
        digest = hashlib.sha1()
        for review_id, label in sorted(zip(self.ids, self.labels.tolist())):
            digest.update(f"{review_id}:{label}\n".encode())
        return digest.hexdigest()[:16]


def resolve_data_path(path: str | os.PathLike | None = None) -> str:
    """The dataset location: an explicit path, else $IMDB_SENTIMENT_DATA, else a previously downloaded archive."""
    candidate = path or os.environ.get(DATA_ENV_VAR)
    if candidate:
        return str(candidate)
    cached = CACHE_DIR / "aclImdb_v1.tar.gz"
    if cached.exists():
        return str(cached)
    raise DataError(
        "No IMDB dataset given. Pass --data PATH (an aclImdb folder or tarball), set "
        f"{DATA_ENV_VAR}, or run `imdb-sentiment download` to fetch the official archive into {CACHE_DIR}."
    )


def load_imdb(path: str | os.PathLike | None = None, allow_partial: bool = False) -> dict[str, Reviews]:
    """Both labelled splits as {"train": Reviews, "test": Reviews}.

    Undecodable bytes are replaced (U+FFFD) rather than failing mid-run; how many files needed that is logged.
    Unless `allow_partial`, each split must hold the official 12,500 reviews per class.
    """
    location = resolve_data_path(path)
    if location.startswith("hf:"):
        raw = _read_hf(location[3:])
    else:
        p = Path(location).expanduser()
        if not p.exists():
            raise DataError(f"IMDB dataset not found at {p}: expected an aclImdb folder or an aclImdb_v1.tar.gz file.")
        raw = _read_folder(p) if p.is_dir() else _read_tarball(p)
    splits = {split: _to_reviews(raw, split, location) for split in ("train", "test")}
    for split, reviews in splits.items():
        counts = np.bincount(reviews.labels, minlength=2)
        for label, count in zip(LABELS, counts):
            if count == 0:
                raise DataError(f"{location}: {split}/{label} holds no reviews; is this the aclImdb layout?")
            if not allow_partial and count != REVIEWS_PER_CLASS:
                raise DataError(
                    f"{location}: {split}/{label} holds {count} reviews, the official dataset has "
                    f"{REVIEWS_PER_CLASS}. The copy is incomplete or altered; pass allow_partial_dataset=true "
                    "to use it anyway."
                )
    return splits


def _to_reviews(raw: dict[str, tuple[bytes | str, int]], split: str, location: str) -> Reviews:
    ids = sorted(key for key in raw if key.startswith(split + "/"))
    texts, labels, replaced = [], [], 0
    for key in ids:
        content, label = raw[key]
        if isinstance(content, bytes):
            try:
                content = content.decode("utf-8")
            except UnicodeDecodeError:
                content = content.decode("utf-8", errors="replace")
                replaced += 1
        texts.append(content)
        labels.append(label)
    if replaced:
        log.warning("%s: %d %s reviews had invalid UTF-8; bad bytes were replaced by U+FFFD", location, replaced, split)
    return Reviews(texts, np.asarray(labels, dtype=np.int64), ids)


def _entry(split: str, label: str, name: str) -> tuple[str, int]:
    return f"{split}/{label}/{name}", LABELS.index(label)


def _read_folder(root: Path) -> dict[str, tuple[bytes, int]]:
    base = root / "aclImdb" if (root / "aclImdb").is_dir() else root
    raw = {}
    for split in ("train", "test"):
        for label in LABELS:
            folder = base / split / label
            if not folder.is_dir():
                raise DataError(f"{root}: missing folder {folder.relative_to(root.parent)}; expected the aclImdb layout "
                                "(train/pos, train/neg, test/pos, test/neg).")
            for file in folder.glob("*.txt"):
                key, y = _entry(split, label, file.stem)
                raw[key] = (file.read_bytes(), y)
    return raw


def _read_tarball(archive: Path) -> dict[str, tuple[bytes, int]]:
    raw = {}
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                match = _MEMBER.search(member.name)
                if match and member.isfile():
                    key, y = _entry(*match.groups())
                    raw[key] = (tar.extractfile(member).read(), y)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as err:
        raise DataError(f"{archive} is not a readable aclImdb tarball ({type(err).__name__}: {err}). "
                        "Re-download it or point --data at an extracted aclImdb folder.") from err
    if not raw:
        raise DataError(f"{archive} holds no aclImdb/{{train,test}}/{{pos,neg}}/*.txt reviews.")
    return raw


def _read_hf(name: str) -> dict[str, tuple[str, int]]:
    from datasets import load_dataset

    raw = {}
    for split in ("train", "test"):
        for i, row in enumerate(load_dataset(name, split=split)):
            raw[f"{split}/{LABELS[row['label']]}/{i}"] = (row["text"], int(row["label"]))
    return raw


def download_imdb(cache_dir: Path = CACHE_DIR, url: str = IMDB_URL, md5: str = IMDB_MD5) -> Path:
    """Fetch the official archive once, verify its checksum, and return its path."""
    from tqdm.auto import tqdm

    target = Path(cache_dir) / "aclImdb_v1.tar.gz"
    if target.exists() and _md5(target) == md5:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    with urllib.request.urlopen(url) as response, open(partial, "wb") as out:
        total = int(response.headers.get("Content-Length", 0)) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc="aclImdb_v1.tar.gz") as bar:
            while chunk := response.read(1 << 20):
                out.write(chunk)
                bar.update(len(chunk))
    if (got := _md5(partial)) != md5:
        partial.unlink()
        raise DataError(f"Downloaded {url} has MD5 {got}, expected {md5}; the file was deleted, try again.")
    partial.replace(target)
    return target


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def stratified_indices(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(rest, held_out) positions, sorted, with `fraction` of each class held out, the same for the same seed."""
    from sklearn.model_selection import train_test_split

    rest, held_out = train_test_split(np.arange(len(labels)), test_size=fraction, random_state=seed, stratify=labels)
    return np.sort(rest), np.sort(held_out)


def stratified_split(reviews: Reviews, fraction: float, seed: int) -> tuple[Reviews, Reviews]:
    """(rest, held_out) with `fraction` of each class held out, the same for the same seed."""
    rest, held_out = stratified_indices(reviews.labels, fraction, seed)
    return reviews.take(rest), reviews.take(held_out)


def stratified_sample(reviews: Reviews, n: int | None, seed: int) -> Reviews:
    """At most `n` reviews, classes in their original proportion (all of them when n is None or large)."""
    if n is None or n >= len(reviews):
        return reviews
    return stratified_split(reviews, n / len(reviews), seed)[1]


def load_splits(path=None, val_fraction: float = 0.1, seed: int = 42, max_train_samples: int | None = None,
                max_eval_samples: int | None = None, allow_partial: bool = False) -> dict[str, Reviews]:
    """{"train", "val", "test"}: validation carved from train; optional stratified subsets for quick runs."""
    splits = load_imdb(path, allow_partial=allow_partial)
    train, val = stratified_split(splits["train"], val_fraction, seed)
    return {
        "train": stratified_sample(train, max_train_samples, seed),
        "val": stratified_sample(val, max_eval_samples, seed),
        "test": stratified_sample(splits["test"], max_eval_samples, seed),
    }


def splits_for(cfg, data: str | None = None) -> dict[str, Reviews]:
    """The splits a run's config describes (its [data] table and seed); `data` reads another copy of the dataset.
    With `augment_pairs`, the pairs' reviews join the training split (validation and test untouched)."""
    d = cfg.data
    splits = load_splits(data or d.data, d.val_fraction, cfg.train.seed, d.max_train_samples, d.max_eval_samples,
                         d.allow_partial_dataset)
    if getattr(d, "augment_pairs", None):
        splits["train"] = with_pairs(splits, read_pairs(d.augment_pairs), d.augment_repeat)
    return splits


def read_pairs(path: str | os.PathLike) -> Reviews:
    """Counterfactual pairs in Kaushik et al.'s layout: a TSV with Sentiment (Positive/Negative), Text and batch_id
    columns, each pair an original review and its revision with the other label."""
    import csv

    path = Path(path)
    if not path.exists():
        raise DataError(f"pairs file not found: {path}")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if not rows or not {"Sentiment", "Text", "batch_id"} <= set(rows[0]):
        raise DataError(f"{path}: expected a TSV with Sentiment, Text and batch_id columns")
    labels = [{"positive": 1, "negative": 0}.get(row["Sentiment"].strip().lower()) for row in rows]
    if None in labels:
        raise DataError(f"{path} row {labels.index(None) + 2}: Sentiment must be Positive or Negative")
    return Reviews([row["Text"] for row in rows], np.array(labels, dtype=np.int64),
                   [f"pairs/{row['batch_id']}/{k % 2}" for k, row in enumerate(rows)])


# The train pairs whose originals are IMDB test reviews (../shared/data/counterfactual_imdb/README.md).
TEST_PAIRS = frozenset({"13998", "14049", "19006", "2856", "4202", "9855"})


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def with_pairs(splits: dict[str, Reviews], pairs: Reviews, repeat: int = 1) -> Reviews:
    """The training split with `repeat` copies of every pair neither of whose reviews is in the validation or test
    split (some originals are: Kaushik et al. drew six from IMDB's test set), so that neither leaks."""
    held_out = {_key(t) for split in ("val", "test") for t in splits[split].texts}
    leaking = {review_id.split("/")[1] for review_id, text in zip(pairs.ids, pairs.texts) if _key(text) in held_out}
    leaking |= TEST_PAIRS  # in IMDB's test split even when a run tests on a subset of it
    keep = [k for k, review_id in enumerate(pairs.ids) if review_id.split("/")[1] not in leaking]
    if leaking:
        log.info("left out %d pairs whose reviews are in the validation or test split", len(leaking))
    added = pairs.take(keep)
    train = splits["train"]
    return Reviews(train.texts + added.texts * repeat, np.concatenate([train.labels] + [added.labels] * repeat),
                   train.ids + [f"{review_id}/{r}" for r in range(repeat) for review_id in added.ids])

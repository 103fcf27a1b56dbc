"""Batches for the word-level models: encoded reviews, length-bucketed sampling, and padding."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from imdb_sentiment.core.text import PAD_ID, UNK_ID, Vocab, tokenize, truncate


def encode_review(text: str, vocab: Vocab, max_length: int, truncation: str = "head") -> tuple[list[int], bool]:
    """(token ids, whether the review was cut); an empty review becomes one <unk> so every review has a length."""
    ids = vocab.encode(tokenize(text))
    return truncate(ids, max_length, truncation) or [UNK_ID], len(ids) > max_length


def encode_texts(texts: Sequence[str], vocab: Vocab, max_length: int, truncation: str = "head") -> list[list[int]]:
    return [encode_review(text, vocab, max_length, truncation)[0] for text in texts]


class EncodedReviews(Dataset):
    """Token ids with their labels (-1: none, as for a distilled student's augmented copies) and, when distilling,
    the teacher's logit for each."""

    def __init__(self, ids: list[list[int]], labels: Sequence[int] | None = None,
                 teacher_logits: Sequence[float] | None = None):
        self.ids = ids
        self.labels = np.zeros(len(ids), dtype=np.int64) if labels is None else np.asarray(labels)
        self.teacher_logits = None if teacher_logits is None else np.asarray(teacher_logits, dtype=np.float32)
        self.lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> dict:
        item = {"input_ids": self.ids[index], "label": int(self.labels[index]), "index": index}
        if self.teacher_logits is not None:
            item["teacher_logit"] = float(self.teacher_logits[index])
        return item


class LengthBucketSampler(Sampler[list[int]]):
    """Batches of reviews of similar length, so each batch is trimmed to little more than its own longest.

    Training: shuffle, cut into pools of `bucket_batches` batches, sort each pool by length, batch it, and
    shuffle the batches; the order depends only on (seed, epoch), so a resumed run sees the same batches.
    Evaluation (shuffle=False): one global sort by length.
    """

    def __init__(self, lengths: np.ndarray, batch_size: int, shuffle: bool = True, bucket_batches: int = 50,
                 seed: int = 0):
        self.lengths, self.batch_size, self.shuffle = lengths, batch_size, shuffle
        self.bucket_batches, self.seed, self.epoch = bucket_batches, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[list[int]]:
        if not self.shuffle:
            order = np.argsort(self.lengths, kind="stable")
            yield from (order[i:i + self.batch_size].tolist() for i in range(0, len(order), self.batch_size))
            return
        rng = np.random.default_rng((self.seed, self.epoch))
        order = rng.permutation(len(self.lengths))
        if self.bucket_batches > 0:
            pool = self.batch_size * self.bucket_batches
            order = np.concatenate([chunk[np.argsort(self.lengths[chunk], kind="stable")]
                                    for chunk in np.split(order, range(pool, len(order), pool))])
        batches = [order[i:i + self.batch_size].tolist() for i in range(0, len(order), self.batch_size)]
        for b in rng.permutation(len(batches)):
            yield batches[b]

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)


def pad_collate(items: list[dict], pad_to: int | None = None, multiple_of: int = 1) -> dict[str, torch.Tensor]:
    """Right-pad to the batch's longest review rounded up to `multiple_of` (or to `pad_to`, as a naive pipeline
    does)."""
    lengths = np.fromiter((len(item["input_ids"]) for item in items), dtype=np.int64, count=len(items))
    width = pad_to or -(-int(lengths.max()) // multiple_of) * multiple_of
    # Filled in numpy, which copies a Python list into a row several times faster than a tensor per row does.
    input_ids = np.full((len(items), width), PAD_ID, dtype=np.int64)
    for row, item in enumerate(items):
        input_ids[row, :len(item["input_ids"])] = item["input_ids"]
    batch = {
        "input_ids": torch.from_numpy(input_ids),
        "lengths": torch.from_numpy(lengths),
        "labels": torch.tensor([item["label"] for item in items]),
        "index": torch.tensor([item["index"] for item in items]),
    }
    if "teacher_logit" in items[0]:
        batch["teacher_logits"] = torch.tensor([item["teacher_logit"] for item in items])
    return batch

"""Tokenizer, vocabulary and truncation for the word-level models."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1

_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
# Clitics split the way GloVe's corpus was tokenised ("don't" -> "do n't", "it's" -> "it 's"), so they match its vectors.
_NEGATION = re.compile(r"n't\b")
_TOKEN = re.compile(r"n't|'(?:s|re|ve|ll|d|m)\b|[^\W_]+(?:-[^\W_]+)*|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Lower-case word and punctuation tokens, with IMDB's `<br />` markup removed."""
    text = _NEGATION.sub(" n't", _BREAK.sub(" ", text.lower()))
    return _TOKEN.findall(text)


def truncate(ids: Sequence[int], max_length: int, strategy: str = "head", head: int | None = None) -> list[int]:
    """Keep `max_length` tokens: the first ones ("head"), or the first `head` and the last ones ("head_tail").

    Head+tail keeps a review's closing verdict, which Sun et al. (2019) found best on IMDB.
    """
    ids = list(ids)
    if len(ids) <= max_length:
        return ids
    if strategy == "head":
        return ids[:max_length]
    if strategy == "head_tail":
        head = max_length // 4 if head is None else min(head, max_length)
        tail = max_length - head
        return ids[:head] + (ids[-tail:] if tail else [])
    raise ValueError(f"unknown truncation strategy {strategy!r}; use 'head' or 'head_tail'")


LONG_TEXT = ("truncate", "windows", "windows_max")  # how a review longer than the model's window is read


def windows(ids: Sequence[int], size: int, overlap: float = 0.25) -> list[list[int]]:
    """Windows of `size` tokens covering all of `ids`, each overlapping the one before by `overlap` of its size (the
    last one ends at the last token); one window when the review fits."""
    ids = list(ids)
    if len(ids) <= size:
        return [ids]
    step = max(1, int(size * (1 - overlap)))
    starts = list(range(0, len(ids) - size, step)) + [len(ids) - size]
    return [ids[start:start + size] for start in starts]


class Vocab:
    """Token <-> id, with <pad> = 0 and <unk> = 1."""

    def __init__(self, tokens: Sequence[str]):
        if list(tokens[:2]) != [PAD, UNK]:
            raise ValueError(f"a vocabulary starts with {PAD!r}, {UNK!r}")
        self.itos = list(tokens)
        self.stoi = {token: i for i, token in enumerate(self.itos)}

    @classmethod
    def build(cls, tokenized: Iterable[list[str]], max_size: int = 25_000) -> Vocab:
        """The `max_size` most frequent tokens (ties broken alphabetically, so builds are reproducible)."""
        counts = Counter(token for tokens in tokenized for token in tokens)
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:max_size]
        return cls([PAD, UNK] + [token for token, _ in ranked])

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens: Iterable[str]) -> list[int]:
        return [self.stoi.get(token, UNK_ID) for token in tokens]

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.itos, ensure_ascii=False))

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        return cls(json.loads(Path(path).read_text()))


# Far more than any model here reads (512 tokens from the head and the tail), far less than a pathological input:
# a 1 GB one-line review is cut to this before it is tokenized.
MAX_REVIEW_CHARS = 100_000


def clip(text: str, max_chars: int = MAX_REVIEW_CHARS) -> str:
    """The first and last `max_chars` / 2 characters of a longer text (head+tail truncation reads both ends)."""
    if len(text) <= max_chars:
        return text
    half = max_chars // 2
    return text[:half] + " " + text[-half:]

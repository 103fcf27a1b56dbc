"""Reading reviews to predict or evaluate: arguments, stdin, text/CSV/JSONL files, folders, and labelled sets.

Every review becomes an Item that says where it came from; one that cannot be read carries its error, and the rest
are still read.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from imdb_sentiment.core.data import DataError
from imdb_sentiment.core.text import MAX_REVIEW_CHARS


@dataclass
class Item:
    """One review to predict, with where it came from ("line 3", "reviews/12.txt") and any reading error."""

    source: str
    text: object
    error: str | None = None
    label: object = None  # a labelled set's raw label value, when one was asked for
    pair: object = None  # the pair it belongs to, in a set of paired reviews (an original and its revision)


def read_items(texts: list[str] | None = None, file: str | None = None, column: str = "text") -> list[Item]:
    """Reviews from arguments, a file (.txt: one a line; .csv / .jsonl: `column`; a folder of .txt), or stdin."""
    return list(iter_items(texts, file, column))


def iter_items(texts: list[str] | None = None, file: str | None = None, column: str = "text") -> Iterator[Item]:
    """read_items one at a time, so a file of any size is read in constant memory. A missing file or a folder
    without .txt files is a DataError at once, before any review is read."""
    if texts:
        return (Item(f"argument {i}", text) for i, text in enumerate(texts, 1))
    if file is None:
        return _read_lines(sys.stdin.buffer, "stdin")
    path = Path(file)
    if not path.exists():
        raise DataError(f"input not found: {path}")
    if path.is_dir():
        files = sorted(path.glob("*.txt"))
        if not files:
            raise DataError(f"{path} holds no .txt files (one review per file)")
        return (_read_text_file(p) for p in files)
    if path.suffix == ".csv":
        return _read_csv(path, column)
    if path.suffix in (".jsonl", ".ndjson"):
        return _read_jsonl(path, column)
    return _read_file_lines(path)


def _read_file_lines(path: Path) -> Iterator[Item]:
    with open(path, "rb") as handle:
        yield from _read_lines(handle, path.name)


_INVALID_UTF8 = re.compile("[\udc80-\udcff]")


def _decode(raw: bytes, where: str) -> tuple[str | None, str | None]:
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as err:
        return None, f"{where}: not UTF-8 ({err.reason} at byte {err.start})"


def _read_lines(handle, name: str, max_bytes: int = 2 * MAX_REVIEW_CHARS) -> Iterator[Item]:
    """One Item a line. A line over `max_bytes` keeps only its two ends (`clip`), read in blocks: a one-line file of
    any size takes constant memory."""
    number = 0
    while True:
        raw = handle.readline(max_bytes)
        if not raw:
            return
        number += 1
        if len(raw) == max_bytes and not raw.endswith(b"\n"):
            raw = _clipped_line(handle, raw, max_bytes)
            text, error = raw.decode("utf-8", errors="replace"), None  # cut mid-character at the joins
        else:
            text, error = _decode(raw.rstrip(b"\r\n"), f"{name} line {number}")
        yield Item(f"{name}:{number}", text, error)


def _clipped_line(handle, head: bytes, max_bytes: int) -> bytes:
    """The head already read and the line's last `max_bytes // 2` bytes, the rest of the line skipped in blocks."""
    tail = b""
    while True:
        block = handle.readline(max_bytes)
        tail = (tail + block)[-max_bytes:]
        if not block or block.endswith(b"\n"):
            break
    return head[:max_bytes // 2] + b" " + tail.rstrip(b"\r\n")[-(max_bytes // 2):]


def _read_text_file(path: Path) -> Item:
    text, error = _decode(path.read_bytes(), str(path))
    return Item(path.name, text, error)


def _read_csv(path: Path, column: str, label_column: str | None = None, pair_column: str | None = None
              ) -> Iterator[Item]:
    # utf-8-sig: spreadsheets often start the file with a BOM, which would otherwise hide the first column's name.
    # surrogateescape keeps invalid bytes visible as lone surrogates, so only the rows holding them fail.
    # A field may be a whole long review: past csv's default limit (131,072 characters) the reader would stop.
    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))
    delimiter = "\t" if path.suffix == ".tsv" else ","
    with open(path, newline="", encoding="utf-8-sig", errors="surrogateescape") as handle:
        for number, row in enumerate(csv.DictReader(handle, delimiter=delimiter), 2):
            source = f"{path.name}:{number}"
            label = row.get(label_column) if label_column else None
            if pair_column and pair_column not in row:
                raise DataError(f"{path.name}: no pair column {pair_column!r} (columns: {', '.join(map(str, row))})")
            pair = row.get(pair_column) if pair_column else None
            if None in row:  # more fields than the header names: which one is the review is a guess
                yield Item(source, None, f"{path.name} row {number}: {len(row) - 1 + len(row[None])} fields, the "
                                         f"header names {len(row) - 1}", label, pair)
            elif column not in row:
                yield Item(source, None, f"no column {column!r} (columns: {', '.join(row)})", label, pair)
            elif _INVALID_UTF8.search(row[column] or ""):
                yield Item(source, None, f"{path.name} row {number}: not UTF-8", label, pair)
            else:
                yield Item(source, row[column], label=label, pair=pair)


def _read_jsonl(path: Path, column: str, label_column: str | None = None) -> Iterator[Item]:
    with open(path, "rb") as handle:
        for item in _read_lines(handle, path.name):
            if item.error:
                yield item
                continue
            try:
                record = json.loads(item.text)
            except json.JSONDecodeError as err:
                yield Item(item.source, None, f"invalid JSON: {err.msg}")
                continue
            label = record.get(label_column) if label_column and isinstance(record, dict) else None
            if not isinstance(record, dict) or column not in record:
                yield Item(item.source, None, f"no field {column!r}", label)
            else:
                yield Item(item.source, record[column], label=label)


POSITIVE_LABELS, NEGATIVE_LABELS = ("pos", "positive", "1", "true"), ("neg", "negative", "0", "false")


def is_labelled_set(path: str | Path) -> bool:
    """A folder with pos/ and neg/ subfolders, or a .csv / .jsonl file (the aclImdb layout is read by `data`)."""
    path = Path(path)
    if path.is_dir():
        return (path / "pos").is_dir() and (path / "neg").is_dir()
    return path.suffix in (".csv", ".tsv", ".jsonl", ".ndjson")


def read_labelled(path: str | Path, text_column: str = "text", label_column: str = "label",
                  pair_column: str | None = None) -> tuple[list[Item], list]:
    """(items, labels) of a labelled set: pos/ and neg/ folders of .txt files (one review per file), or a CSV, TSV
    or JSONL file with a text and a label column (and, for paired reviews, `pair_column`, read from CSV and TSV).
    Labels: pos/neg, positive/negative, 1/0, true/false, in any case. An unknown label is an error naming its
    line; an unreadable review is an Item with an error."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"labelled set not found: {path}")
    if path.is_dir():
        items, labels = [], []
        for label, folder in ((1, "pos"), (0, "neg")):
            files = sorted((path / folder).glob("*.txt"))
            items += [_read_text_file(f) for f in files]
            labels += [label] * len(files)
        for item, label in zip(items, labels):
            item.source = f"{'pos' if label else 'neg'}/{item.source}"
    else:
        if path.suffix in (".csv", ".tsv"):
            items = list(_read_csv(path, text_column, label_column, pair_column))
        else:
            items = list(_read_jsonl(path, text_column, label_column))
        labels = []
        for item in items:
            raw = item.label
            value = str(raw).strip().lower()
            if value in POSITIVE_LABELS or value in NEGATIVE_LABELS:
                labels.append(int(value in POSITIVE_LABELS))
            elif raw is None and item.error:
                labels.append(None)  # the row itself could not be read; its error says why
            elif raw is None:
                raise DataError(f"{item.source}: no {label_column!r} label (see --label_column)")
            else:
                raise DataError(f"{item.source}: label {raw!r} in column {label_column!r} is not one of "
                                f"{'/'.join(POSITIVE_LABELS)} or {'/'.join(NEGATIVE_LABELS)}")
    if not items:
        raise DataError(f"{path}: no reviews found")
    return items, labels

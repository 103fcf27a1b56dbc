"""bench/other_data.py: the VADER snippets become labelled sets that `evaluate --data` reads."""

import csv
import importlib.util
from pathlib import Path

from imdb_sentiment.inference.io import read_labelled

spec = importlib.util.spec_from_file_location("other_data", Path(__file__).parents[2] / "bench" / "other_data.py")
other_data = importlib.util.module_from_spec(spec)
spec.loader.exec_module(other_data)


def test_only_clearly_rated_snippets_get_a_label(tmp_path):
    text = "1\t2.5\tA joy from start to finish.\r\n2\t-0.4\tIt is a film.\r\n3\t-1.0\tDull, dull, dull.\r\n" \
           "4\t1.0\tNot bad\tat all.\r\n\r\n"
    rows = other_data.labelled_rows(text)
    assert [(r["text"], r["label"]) for r in rows] == [
        ("A joy from start to finish.", "pos"), ("Dull, dull, dull.", "neg"), ("Not bad\tat all.", "pos")]

    path = tmp_path / "set.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["text", "label", "rating"])
        writer.writeheader()
        writer.writerows(rows)
    items, labels = read_labelled(path)
    assert [i.text for i in items] == [r["text"] for r in rows] and labels == [1, 0, 1]

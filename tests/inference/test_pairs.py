import json

import numpy as np
import pytest

from imdb_sentiment.apps.cli import main
from imdb_sentiment.core.data import DataError
from imdb_sentiment.inference.io import read_labelled
from imdb_sentiment.inference.pairs import pair_indices, paired_metrics

PAIRS = [("1", "positive", "A wonderful film, moving and funny."), ("1", "negative", "A dreadful film, dull and grim."),
         ("2", "negative", "Boring, awful and far too long."), ("2", "positive", "Gripping, superb and never too long."),
         ("3", "positive", "Not bad at all, I loved it."), ("3", "negative", "Not good at all, I hated it.")]


def write_pairs(path, rows=PAIRS):
    path.write_text("Sentiment\tText\tbatch_id\n" + "".join(f"{label}\t{text}\t{pair}\n" for pair, label, text in rows))
    return path


def test_metrics_count_originals_revisions_and_pairs_both_right():
    labels = [1, 0, 0, 1, 1, 0]
    p = [0.9, 0.8, 0.1, 0.7, 0.2, 0.1]  # pair 1: revision wrong; pair 2: both right; pair 3: original wrong
    result = paired_metrics(labels, p, [(0, 1), (2, 3), (4, 5)])
    assert result["pairs"] == 3 and result["original_accuracy"] == pytest.approx(2 / 3)
    assert result["revision_accuracy"] == pytest.approx(2 / 3) and result["consistency"] == pytest.approx(1 / 3)
    assert result["correct_revisions"] == [False, True, True]
    low, high = result["consistency_ci95"]
    assert 0 <= low <= 1 / 3 <= high <= 1


def test_pairs_are_read_from_a_tsv_in_file_order(tmp_path):
    items, labels = read_labelled(write_pairs(tmp_path / "pairs.tsv"), "Text", "Sentiment", "batch_id")
    assert pair_indices(items, labels) == [(0, 1), (2, 3), (4, 5)]
    assert labels == [1, 0, 0, 1, 1, 0] and items[4].text == "Not bad at all, I loved it."


@pytest.mark.parametrize("rows, message", [
    (PAIRS[:5], "pair '3' has 1 rows"),
    ([*PAIRS[:4], ("3", "positive", "x"), ("3", "positive", "y")], "both rows are labelled positive")])
def test_a_broken_pair_is_named(tmp_path, rows, message):
    items, labels = read_labelled(write_pairs(tmp_path / "pairs.tsv", rows), "Text", "Sentiment", "batch_id")
    with pytest.raises(DataError, match=message):
        pair_indices(items, labels)


def test_evaluate_finds_the_pair_column_and_reports_consistency(tmp_path, capsys):
    path = write_pairs(tmp_path / "pairs.tsv")
    flags = ["--text_column", "Text", "--label_column", "Sentiment"]
    assert main(["evaluate", "builtin", "--data", str(path), *flags, "--json"]) in (0, None)
    result = json.loads(capsys.readouterr().out)
    assert result["pairs"] == 3 and len(result["correct_revisions"]) == 3
    assert result["consistency"] <= min(result["original_accuracy"], result["revision_accuracy"])
    assert result["revision_accuracy"] == np.mean(result["correct_revisions"])
    # another pair column, named, in a CSV
    csv = tmp_path / "pairs.csv"
    csv.write_text("group,label,review\n" + "".join(f"{pair},{label},\"{text}\"\n" for pair, label, text in PAIRS))
    assert main(["evaluate", "builtin", "--data", str(csv), "--text_column", "review", "--pairs", "group"]) in (0, None)
    assert "consistency (both right)" in capsys.readouterr().out

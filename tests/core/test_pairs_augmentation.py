"""Counterfactual pairs added to the training reviews, never leaking validation or test reviews."""
import json

import pytest

from imdb_sentiment.apps.cli import main
from imdb_sentiment.core.config import TfidfConfig
from imdb_sentiment.core.data import DataError, load_imdb, read_pairs, splits_for
from imdb_sentiment.core.fields import load_config


def write_pairs(path, rows):
    path.write_text("Sentiment\tText\tbatch_id\n" + "".join(f"{s}\t{t}\t{b}\n" for b, s, t in rows))
    return path


@pytest.fixture
def pairs_file(imdb_dir, tmp_path):
    test_review = load_imdb(str(imdb_dir), allow_partial=True)["test"].texts[0]
    return write_pairs(tmp_path / "pairs.tsv", [
        ("1", "Negative", "A dull and lifeless film."), ("1", "Positive", "A lively and gripping film."),
        ("2", "Positive", test_review), ("2", "Negative", test_review + " Not really."),  # its original is a test review
        ("9855", "Positive", "Listed as leaking into IMDB's test set."), ("9855", "Negative", "Its revision."),
        ("3", "Positive", "Not bad at all."), ("3", "Negative", "Not good at all.")])


def config(imdb_dir, pairs=None, repeat=1):
    return load_config(TfidfConfig, overrides={"data.data": str(imdb_dir), "data.allow_partial_dataset": True,
                                                "data.augment_pairs": pairs and str(pairs),
                                                "data.augment_repeat": repeat})


def test_pairs_join_training_only_and_never_leak(imdb_dir, pairs_file):
    plain, augmented = splits_for(config(imdb_dir)), splits_for(config(imdb_dir, pairs_file, repeat=2))
    added = [i for i in augmented["train"].ids if i.startswith("pairs/")]
    assert sorted(added) == sorted(f"pairs/{b}/{k}/{r}" for b in ("1", "3") for k in (0, 1) for r in (0, 1))
    assert len(augmented["train"]) == len(plain["train"]) + 8 and len(set(augmented["train"].ids)) == len(augmented["train"])
    assert augmented["val"].fingerprint() == plain["val"].fingerprint()
    assert augmented["test"].fingerprint() == plain["test"].fingerprint()
    assert "Not bad at all." in augmented["train"].texts


def test_a_bad_pairs_file_is_named(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_pairs(tmp_path / "missing.tsv")
    (tmp_path / "bad.tsv").write_text("text\tlabel\nfine\tpos\n")
    with pytest.raises(DataError, match="Sentiment, Text and batch_id"):
        read_pairs(tmp_path / "bad.tsv")


def test_train_tfidf_with_pairs(imdb_dir, pairs_file, tmp_path):
    out = tmp_path / "run"
    assert main(["train", "tfidf", "--data", str(imdb_dir), "--allow_partial_dataset", "--min_df", "1", "--C", "1",
                 "--augment_pairs", str(pairs_file), "--augment_repeat", "3", "--output_dir", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    plain = splits_for(config(imdb_dir))["train"]
    assert metrics["train_samples"] == len(plain) + 3 * 4

import tarfile

import numpy as np
import pytest
from conftest import tar_folder, write_aclimdb

from imdb_sentiment.core.data import DataError, load_imdb, load_splits, resolve_data_path, stratified_split


def test_folder_and_tarball_read_the_same_reviews(imdb_dir, imdb_tar):
    from_dir = load_imdb(imdb_dir, allow_partial=True)
    from_tar = load_imdb(imdb_tar, allow_partial=True)
    for split in ("train", "test"):
        assert from_dir[split].ids == from_tar[split].ids
        assert from_dir[split].texts == from_tar[split].texts
        assert from_dir[split].labels.tolist() == from_tar[split].labels.tolist()
        assert np.bincount(from_dir[split].labels).tolist() == [60, 60]
    assert from_dir["train"].ids[0].startswith("train/neg/")
    # The parent of aclImdb/ works too.
    assert load_imdb(imdb_dir.parent, allow_partial=True)["test"].ids == from_dir["test"].ids


def test_official_counts_are_enforced_unless_partial_allowed(imdb_dir):
    with pytest.raises(DataError, match="holds 60 reviews, the official dataset has 12500"):
        load_imdb(imdb_dir)


def test_missing_path_and_wrong_layout_name_the_problem(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_imdb(tmp_path / "nowhere")
    (tmp_path / "aclImdb" / "train" / "pos").mkdir(parents=True)
    with pytest.raises(DataError, match="missing folder .*train/neg"):
        load_imdb(tmp_path, allow_partial=True)


def test_corrupt_and_empty_tarballs_are_reported(tmp_path, imdb_tar):
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(imdb_tar.read_bytes()[:2000])
    with pytest.raises(DataError, match="not a readable aclImdb tarball"):
        load_imdb(truncated, allow_partial=True)
    empty = tmp_path / "empty.tar.gz"
    with tarfile.open(empty, "w:gz"):
        pass
    with pytest.raises(DataError, match="holds no aclImdb"):
        load_imdb(empty, allow_partial=True)


def test_a_class_with_no_reviews_is_an_error(tmp_path):
    base = write_aclimdb(tmp_path, per_class=3)
    for review in (base / "test" / "pos").iterdir():
        review.unlink()
    with pytest.raises(DataError, match="test/pos holds no reviews"):
        load_imdb(base, allow_partial=True)


def test_undecodable_bytes_are_replaced_not_fatal(tmp_path, caplog):
    base = write_aclimdb(tmp_path, per_class=3)
    (base / "train" / "pos" / "0_9.txt").write_bytes(b"Great film \xff\xfe indeed")
    train = load_imdb(tar_folder(base, tmp_path / "a.tar.gz"), allow_partial=True)["train"]
    text = train.texts[train.ids.index("train/pos/0_9")]
    assert text == "Great film \ufffd\ufffd indeed"
    assert "invalid UTF-8" in caplog.text


def test_validation_split_is_stratified_seeded_and_disjoint(imdb_dir):
    splits = load_splits(imdb_dir, val_fraction=0.25, seed=3, allow_partial=True)
    assert len(splits["val"]) == 30 and np.bincount(splits["val"].labels).tolist() == [15, 15]
    assert not set(splits["val"].ids) & set(splits["train"].ids)
    again = load_splits(imdb_dir, val_fraction=0.25, seed=3, allow_partial=True)
    assert again["val"].ids == splits["val"].ids
    other = load_splits(imdb_dir, val_fraction=0.25, seed=4, allow_partial=True)
    assert other["val"].ids != splits["val"].ids
    assert splits["train"].fingerprint() != other["train"].fingerprint()


def test_quick_subsets_keep_class_balance(imdb_dir):
    splits = load_splits(imdb_dir, max_train_samples=20, max_eval_samples=10, allow_partial=True)
    assert len(splits["train"]) == 20 and np.bincount(splits["train"].labels).tolist() == [10, 10]
    assert len(splits["test"]) == 10


def test_data_path_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("IMDB_SENTIMENT_DATA", "/from/env")
    assert resolve_data_path("/explicit") == "/explicit"
    assert resolve_data_path(None) == "/from/env"
    monkeypatch.delenv("IMDB_SENTIMENT_DATA")
    monkeypatch.setattr("imdb_sentiment.core.data.CACHE_DIR", tmp_path)
    with pytest.raises(DataError, match="--data PATH"):
        resolve_data_path(None)


def test_stratified_split_holds_out_the_fraction(imdb_dir):
    train = load_imdb(imdb_dir, allow_partial=True)["train"]
    rest, held = stratified_split(train, 0.1, seed=0)
    assert len(held) == 12 and len(rest) == 108


def test_download_verifies_the_checksum(imdb_tar, tmp_path):
    import hashlib

    from imdb_sentiment.core.data import download_imdb

    md5 = hashlib.md5(imdb_tar.read_bytes()).hexdigest()
    with pytest.raises(DataError, match="expected 0+; the file was deleted"):
        download_imdb(tmp_path, url=imdb_tar.as_uri(), md5="0" * 32)
    assert not list(tmp_path.iterdir())
    path = download_imdb(tmp_path, url=imdb_tar.as_uri(), md5=md5)
    assert path.read_bytes() == imdb_tar.read_bytes()
    assert len(load_imdb(path, allow_partial=True)["train"]) == 120

import pytest

from imdb_sentiment.core.text import PAD_ID, UNK_ID, Vocab, tokenize, truncate


def test_tokenize_lowercases_strips_markup_and_splits_like_glove():
    assert tokenize("I didn't LIKE it.<br /><br />It's bad!") == [
        "i", "did", "n't", "like", "it", ".", "it", "'s", "bad", "!"]
    assert tokenize("A well-known, café-style film") == ["a", "well-known", ",", "café-style", "film"]
    assert tokenize("   ") == []


def test_truncation_head_and_head_tail():
    ids = list(range(10))
    assert truncate(ids, 20) == ids
    assert truncate(ids, 4) == [0, 1, 2, 3]
    assert truncate(ids, 4, "head_tail", head=1) == [0, 7, 8, 9]
    assert truncate(ids, 8, "head_tail") == [0, 1, 4, 5, 6, 7, 8, 9]  # default head = max_length // 4
    assert truncate(ids, 4, "head_tail", head=4) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="unknown truncation"):
        truncate(ids, 4, "middle")


def test_vocab_keeps_most_frequent_and_roundtrips(tmp_path):
    vocab = Vocab.build([["b", "a", "a", "c"], ["c", "a", "b"]], max_size=2)
    assert vocab.itos == ["<pad>", "<unk>", "a", "b"]  # b and c tie at 2; ties go alphabetically
    assert vocab.encode(["a", "zzz"]) == [2, UNK_ID] and vocab.stoi["<pad>"] == PAD_ID
    vocab.save(tmp_path / "v.json")
    assert Vocab.load(tmp_path / "v.json").itos == vocab.itos

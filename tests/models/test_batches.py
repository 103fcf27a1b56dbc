import numpy as np

from imdb_sentiment.core.text import Vocab
from imdb_sentiment.models.batches import EncodedReviews, LengthBucketSampler, encode_texts, pad_collate


def test_encode_texts_truncates_and_never_returns_empty():
    vocab = Vocab(["<pad>", "<unk>", "good", "film"])
    assert encode_texts(["Good film good film", "", "???"], vocab, max_length=3) == [[2, 3, 2], [1], [1, 1, 1]]


def test_bucketed_batches_cover_everything_once_and_are_reproducible():
    lengths = np.random.default_rng(0).integers(1, 300, size=1000)
    sampler = LengthBucketSampler(lengths, batch_size=32, bucket_batches=5, seed=7)
    sampler.set_epoch(1)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(1000)) and len(batches) == len(sampler)
    assert batches == list(sampler)  # same (seed, epoch), same batches: a resumed run sees what it would have
    sampler.set_epoch(2)
    assert list(sampler) != batches
    # Bucketing trims padding: a batch spans far less than the full length range.
    def spread(batches):
        return np.mean([lengths[b].max() - lengths[b].min() for b in batches])

    unbucketed = list(LengthBucketSampler(lengths, batch_size=32, bucket_batches=0, seed=7))
    assert spread(batches) < spread(unbucketed) / 3
    eval_batches = list(LengthBucketSampler(lengths, 100, shuffle=False))
    assert all(lengths[a].max() <= lengths[b].min() for a, b in zip(eval_batches, eval_batches[1:]))


def test_pad_collate_to_longest_or_fixed_width():
    dataset = EncodedReviews([[5, 6, 7], [8]], [1, 0])
    batch = pad_collate([dataset[0], dataset[1]])
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["lengths"].tolist() == [3, 1] and batch["labels"].tolist() == [1, 0]
    assert pad_collate([dataset[1]], pad_to=4)["input_ids"].tolist() == [[8, 0, 0, 0]]
    rounded = pad_collate([dataset[0], dataset[1]], multiple_of=4)
    assert rounded["input_ids"].tolist() == [[5, 6, 7, 0], [8, 0, 0, 0]] and rounded["lengths"].tolist() == [3, 1]

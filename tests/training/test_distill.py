import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from imdb_sentiment.core.runs import RunError
from imdb_sentiment.training import distill

REVIEWS = ["This film was not good at all, a total waste of time. <br /> I hated it.",
           "A wonderful, moving story with superb acting from everyone involved."]


def test_copies_are_seeded_and_made_inside_the_students_window():
    aug = distill.Augmentation(copies=20, seed=3)
    copies = distill.augmented_copies(REVIEWS, aug, max_length=8, truncation="head_tail", unk="[UNK]")
    assert len(copies) == 40 and copies == distill.augmented_copies(REVIEWS, aug, 8, "head_tail", "[UNK]")
    assert copies != distill.augmented_copies(REVIEWS, distill.Augmentation(copies=20, seed=4), 8, "head_tail",
                                              "[UNK]")
    window = distill.window(REVIEWS[0], 8, "head_tail")
    ngrams = [c for c in copies[:20] if len(c) < len(window)]
    masked = [c for c in copies[:20] if len(c) == len(window)]
    assert ngrams and masked  # both kinds occur at p_ngram = 0.25 over 20 copies
    for copy in ngrams:  # one window of consecutive tokens
        assert 1 <= len(copy) <= 5 and any(window[i:i + len(copy)] == copy for i in range(len(window)))
    for copy in masked:  # each token kept or replaced by the unknown token, never moved
        assert all(c in (w, "[UNK]") for c, w in zip(copy, window))
    # The fingerprint ignores how the unknown token is spelt, so teacher and student copies compare equal.
    student = distill.augmented_copies(REVIEWS, aug, 8, "head_tail", "<unk>")
    assert distill.fingerprint(copies, "[UNK]") == distill.fingerprint(student, "<unk>")


def test_sentence_copies_are_sentences_of_the_window_negated_ones_first():
    reviews = REVIEWS + ["No punctuation at the end of this one", "!!! ..."]
    aug = distill.Augmentation(sentences=3, seed=1)
    copies = distill.sentence_copies(reviews, aug, max_length=64, truncation="head_tail")
    assert len(copies) == 12 and copies == distill.sentence_copies(reviews, aug, 64, "head_tail")
    # Only the first review has negated sentences, and only one of its two.
    assert copies[:3] == [distill.tokenize("This film was not good at all, a total waste of time.")] * 3
    assert all(c == distill.tokenize(REVIEWS[1]) for c in copies[3:6])
    assert copies[6:9] == [distill.tokenize(reviews[2])] * 3  # a last sentence without its full stop
    assert copies[9:] == [[]] * 3  # punctuation alone is no sentence
    assert distill.split_sentences(distill.tokenize("Bad. Not bad at all!")) == [["bad", "."],
                                                                              ["not", "bad", "at", "all", "!"]]


def test_the_cache_refuses_logits_made_for_another_teacher_or_other_copies(tmp_path):
    path = tmp_path / "teacher.npz"
    logits = {"train": np.arange(4, dtype=np.float32).reshape(2, 2)}
    distill.write_cache(path, logits, {"teacher_weights": "abc", "copies_fingerprint": "123"})
    assert np.array_equal(distill.load_cache(path, {"teacher_weights": "abc"})["train"], logits["train"])
    with pytest.raises(RunError, match="teacher_weights: cache 'abc', now 'xyz'"):
        distill.load_cache(path, {"teacher_weights": "xyz", "copies_fingerprint": "123"})


def test_a_student_without_copies_gets_a_teacher_labelled_cache_and_a_bf16_one_is_kept_apart(
        imdb_dir, transformer_run, tmp_path):
    from conftest import bilstm_test_config

    from imdb_sentiment.apps.train import train

    cfg = bilstm_test_config(imdb_dir, tmp_path / "noaug", max_epochs=1)
    cfg.distill.teacher = str(transformer_run)
    assert json.loads((train("bilstm", cfg) / "metrics.json").read_text())["augmented_samples"] == 0
    bf16 = bilstm_test_config(imdb_dir, tmp_path / "bf16", max_epochs=1)
    bf16.distill.logits_cache, bf16.distill.teacher_precision = str(tmp_path / "noaug" / "teacher_logits.npz"), "bf16"
    with pytest.raises(RunError, match="teacher_precision: cache 'fp32', now 'bf16'"):
        train("bilstm", bf16)


def test_a_student_learns_from_the_teachers_cached_logits(imdb_dir, transformer_run, tmp_path):
    from conftest import bilstm_test_config

    from imdb_sentiment.apps.train import train

    cfg = bilstm_test_config(imdb_dir, tmp_path / "student", max_epochs=2)
    cfg.distill.teacher, cfg.distill.augment_copies = str(transformer_run), 2
    metrics = json.loads((train("bilstm", cfg) / "metrics.json").read_text())
    cache = tmp_path / "student" / "teacher_logits.npz"
    assert cache.exists() and metrics["teacher"] == str(transformer_run)
    assert metrics["augmented_samples"] == 2 * metrics["train_samples"]

    # The committed-cache path: no teacher, fewer copies than cached; more copies than cached are refused.
    fewer = bilstm_test_config(imdb_dir, tmp_path / "fewer", max_epochs=1)
    fewer.distill.logits_cache, fewer.distill.augment_copies = str(cache), 1
    assert json.loads((train("bilstm", fewer) / "metrics.json").read_text())["augmented_samples"] == \
        metrics["train_samples"]
    more = bilstm_test_config(imdb_dir, tmp_path / "more", max_epochs=1)
    more.distill.logits_cache, more.distill.augment_copies = str(cache), 3
    with pytest.raises(RunError, match="2 augmented copies per review, fewer than the 3"):
        train("bilstm", more)


def test_the_loss_mixes_hard_labels_and_the_teacher_and_copies_have_no_hard_label():
    from imdb_sentiment.core.config import DistillArgs
    from imdb_sentiment.training.bilstm import loss_fn

    logits = torch.tensor([2.0, -1.0, 0.5])
    batch = {"labels": torch.tensor([1, 0, -1]), "teacher_logits": torch.tensor([3.0, -1.0, -0.5])}
    hard = F.binary_cross_entropy_with_logits(logits[:2], torch.tensor([1.0, 0.0]))
    assert torch.isclose(loss_fn(logits, batch, None), hard)
    mse = DistillArgs(alpha=0.25, loss="mse")
    assert torch.isclose(loss_fn(logits, batch, mse), 0.25 * hard + 0.75 * torch.tensor(2.0 / 3))
    kl = DistillArgs(alpha=0.0, loss="kl", temperature=2.0)
    # Matching the teacher exactly leaves only the teacher's own entropy: the loss is lowest there.
    assert loss_fn(batch["teacher_logits"], batch, kl) < loss_fn(logits, batch, kl)


def test_a_teacher_trained_on_a_sample_of_the_students_training_split_is_accepted(imdb_dir, tiny_distilbert,
                                                                                   tmp_path):
    from conftest import bilstm_test_config, transformer_test_config

    from imdb_sentiment.core.data import splits_for
    from imdb_sentiment.training.transformer import train_transformer

    student_train = splits_for(bilstm_test_config(imdb_dir, tmp_path / "student"))["train"]
    sampled = transformer_test_config(imdb_dir, tiny_distilbert, tmp_path / "sampled", num_epochs=0.5)
    sampled.data.max_train_samples = 40  # as MPNet-base is trained on 4,000 of the 22,500
    distill.check_teacher_reviews(train_transformer(sampled, "pytest"), student_train)
    # The same sample size under another seed takes other validation reviews, some of them the student's.
    reseeded = transformer_test_config(imdb_dir, tiny_distilbert, tmp_path / "reseeded", num_epochs=0.5, seed=7)
    reseeded.data.max_train_samples = 40
    with pytest.raises(RunError, match="trained on other reviews than the student's training split"):
        distill.check_teacher_reviews(train_transformer(reseeded, "pytest"), student_train)


def test_a_cache_is_reused_for_the_reviews_it_holds_and_refused_for_others(imdb_dir, transformer_run, tmp_path):
    from conftest import bilstm_test_config

    from imdb_sentiment.core.data import Reviews, splits_for

    train = splits_for(bilstm_test_config(imdb_dir, tmp_path / "student"))["train"]
    labelled: list[str] = []

    def label(texts):
        labelled.extend(texts)
        return np.stack([np.zeros(len(texts)), np.array([len(t) for t in texts], dtype=float)], axis=1)

    aug = distill.Augmentation(copies=0)
    first = distill.build_cache(tmp_path / "a.npz", transformer_run, label, train, aug, 48, "head_tail")
    pairs = Reviews(["not bad at all", "not good"], np.array([1, 0]), ["pairs/1/0", "pairs/1/1"])
    with_pairs = Reviews(train.texts + pairs.texts, np.concatenate([train.labels, pairs.labels]),
                         train.ids + pairs.ids)
    labelled.clear()
    both = distill.build_cache(tmp_path / "b.npz", transformer_run, label, with_pairs, aug, 48, "head_tail",
                               reuse=tmp_path / "a.npz")
    assert labelled == pairs.texts and np.array_equal(both["train"][:len(train)], first["train"])
    reordered = with_pairs.take(list(range(len(with_pairs)))[::-1])
    with pytest.raises(RunError, match="cannot be reused"):
        distill.build_cache(tmp_path / "c.npz", transformer_run, label, reordered, aug, 48, "head_tail",
                            reuse=tmp_path / "a.npz")


def test_sentence_copies_are_labelled_alone_and_follow_the_augmented_copies(imdb_dir, transformer_run, tmp_path):
    from conftest import bilstm_test_config

    from imdb_sentiment.core.data import splits_for

    train = splits_for(bilstm_test_config(imdb_dir, tmp_path / "student"))["train"]
    labelled: list[str] = []

    def label(texts):  # a teacher whose margin is the text's length, to tell the texts apart in the targets
        labelled.extend(texts)
        return np.stack([np.zeros(len(texts)), np.array([len(t) for t in texts], dtype=float)], axis=1)

    copies = distill.Augmentation(copies=1, seed=5)
    distill.build_cache(tmp_path / "a.npz", transformer_run, label, train, copies, 48, "head_tail")
    with_sentences = distill.Augmentation(copies=1, seed=5, sentences=2)
    labelled.clear()
    distill.build_cache(tmp_path / "b.npz", transformer_run, label, train, with_sentences, 48, "head_tail",
                        reuse=tmp_path / "a.npz")
    sentences = distill.sentence_copies(train.texts, with_sentences, 48, "head_tail")
    assert labelled == [" ".join(s) for s in sentences]  # the reviews and their copies came from the first cache

    targets, tokens, _ = distill.student_targets(tmp_path / "b.npz", None, train,
                                                 distill.Augmentation(copies=1, seed=5, sentences=1), 48, "head_tail")
    n = len(train)
    assert len(targets) == len(tokens) + n == 3 * n
    assert tokens[n:] == sentences[::2]  # the first sentence copy of each review, after the augmented copies
    assert np.array_equal(targets[2 * n:], [len(" ".join(s)) for s in sentences[::2]])
    with pytest.raises(RunError, match="0 sentence copies per review, fewer than the 1"):
        distill.student_targets(tmp_path / "a.npz", None, train, distill.Augmentation(copies=1, seed=5, sentences=1),
                                48, "head_tail")

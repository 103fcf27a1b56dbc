"""Teacher outputs for distilling a fine-tuned Transformer into the BiLSTM (Tang et al. 2019, "Distilling
Task-Specific Knowledge from BERT into Simple Neural Networks").

The student learns from the teacher's logits on the training reviews and on augmented copies of them. The copies are
made on the student's own word tokens, inside the window it reads (head+tail truncation), so teacher and student
see the same words:
- n-gram sampling: with probability `p_ngram`, the copy is one window of n consecutive tokens, n from 1 to 5;
- otherwise masking: each token becomes the unknown token with probability `p_mask` (`<unk>` for the student,
  the teacher tokenizer's own unknown token for the teacher).
Tang et al. also replace words by others of the same part of speech; that needs a tagger, which no package on this
machine's registries ships with its model weights offline, so it is left out.

Sentence copies (`sentences` per review) are one sentence of the window, one with a negation where the window has
one. IMDB's labels teach phrases such as "not bad" backwards (most reviews that say it are negative), and a whole
review's label says nothing of its sentences; the teacher's logit on the sentence alone does, at the length of the
first sentences a user types.

Copies are a pure function of (seed, review index, copy number): the cache stores the teacher's logits and a
fingerprint of the copies' tokens instead of the copies themselves, and `load_cache` refuses a cache made by
another teacher or for other reviews or copies.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from imdb_sentiment.core import hardware, runs
from imdb_sentiment.core.data import Reviews
from imdb_sentiment.core.text import UNK, tokenize, truncate
from imdb_sentiment.models.transformer import load_tokenizer


@dataclass
class Augmentation:
    copies: int = 1  # augmented copies per training review
    p_mask: float = 0.1
    p_ngram: float = 0.25
    max_ngram: int = 5
    seed: int = 42
    sentences: int = 0  # one-sentence copies per training review, negated sentences first


NEGATIONS = frozenset({"not", "n't", "no", "never", "nothing", "nobody", "none", "neither", "nor", "without",
                       "hardly"})
SENTENCE_ENDS = frozenset({".", "!", "?"})


def window(text: str, max_length: int, truncation: str) -> list[str]:
    """The word tokens of `text` that the BiLSTM reads."""
    return truncate(tokenize(text), max_length, truncation)


def augment(tokens: list[str], rng: np.random.Generator, aug: Augmentation, unk: str) -> list[str]:
    if rng.random() < aug.p_ngram and tokens:
        n = min(int(rng.integers(1, aug.max_ngram + 1)), len(tokens))
        start = int(rng.integers(0, len(tokens) - n + 1))
        return tokens[start:start + n]
    masked = rng.random(len(tokens)) < aug.p_mask
    return [unk if m else token for token, m in zip(tokens, masked)]


def augmented_copies(texts: list[str], aug: Augmentation, max_length: int, truncation: str,
                     unk: str) -> list[list[str]]:
    """`aug.copies` copies of each review, review-major: copy k of review i is at index i * copies + k."""
    copies = []
    for i, text in enumerate(texts):
        tokens = window(text, max_length, truncation)
        for k in range(aug.copies):
            copies.append(augment(tokens, np.random.default_rng([aug.seed, i, k]), aug, unk))
    return copies


def split_sentences(tokens: list[str]) -> list[list[str]]:
    sentences, current = [], []
    for token in tokens:
        current.append(token)
        if token in SENTENCE_ENDS:
            sentences.append(current)
            current = []
    return [s for s in sentences + [current] if any(t not in SENTENCE_ENDS for t in s)]


def sentence_copies(texts: list[str], aug: Augmentation, max_length: int, truncation: str) -> list[list[str]]:
    """`aug.sentences` one-sentence copies of each review, review-major, each drawn from the window's negated
    sentences if it has any, else from all of them."""
    copies = []
    for i, text in enumerate(texts):
        sentences = split_sentences(window(text, max_length, truncation)) or [[]]
        negated = [s for s in sentences if NEGATIONS.intersection(s)] or sentences
        for k in range(aug.sentences):
            # [seed, i, k, 1] is another seed sequence than the masked and n-gram copies' [seed, i, k]
            copies.append(negated[int(np.random.default_rng([aug.seed, i, k, 1]).integers(len(negated)))])
    return copies


# Copies with no masked words, each kind with its own count in Augmentation and its own logits in the cache, after
# the training reviews and their augmented copies.
EXTRA_COPIES = {"sentences": sentence_copies}
# Every kind of copy, in the cache's order: its count field in Augmentation and its fingerprint's key in a cache.
COPY_KINDS = {"augmented": ("copies", "copies_fingerprint"),
              **{kind: (kind, f"{kind}_fingerprint") for kind in EXTRA_COPIES}}


def copies_of(texts: list[str], aug: Augmentation, max_length: int, truncation: str, unk: str
              ) -> dict[str, list[list[str]]]:
    """Each kind of copy `aug` asks for, by kind: the augmented ones always (none when `aug.copies` is 0)."""
    return {"augmented": augmented_copies(texts, aug, max_length, truncation, unk),
            **{kind: make(texts, aug, max_length, truncation) for kind, make in EXTRA_COPIES.items()
               if getattr(aug, kind)}}


def fingerprint(token_lists: list[list[str]], unk: str) -> str:
    """Identifies the copies whatever the unknown token is spelt as."""
    digest = hashlib.sha1()
    for tokens in token_lists:
        digest.update(" ".join("<unk>" if t == unk else t for t in tokens).encode() + b"\n")
    return digest.hexdigest()[:16]


def weights_fingerprint(run_dir: str | Path) -> str:
    digest = hashlib.sha1()
    with open(Path(run_dir) / "model.safetensors", "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


# The teacher as the student sees it: texts in, (N, 2) logits out. Whoever trains the student hands one in
# (imdb_sentiment.apps.train loads the Transformer run), so training never depends on how a model is served.
Labeller = Callable[[list[str]], np.ndarray]


def _logits(label: Labeller, texts: list[str]) -> np.ndarray:
    if not texts:  # a student without augmented copies; tokenizers fail on an empty batch
        return np.empty((0, 2), dtype=np.float32)
    return np.asarray(label(texts), dtype=np.float32)


def soft_targets(logits: np.ndarray) -> np.ndarray:
    """The teacher's two logits as the student's one: their margin, so sigmoid(margin) = softmax(logits)[1]."""
    return (logits[:, 1] - logits[:, 0]).astype(np.float32)


def cache_info(train: Reviews, aug: Augmentation, made: dict[str, list[list[str]]], unk: str, max_length: int,
               truncation: str, precision: str) -> dict:
    """What a cache must have been computed from to serve a student reading `max_length` tokens by `truncation`;
    `made` are `aug`'s copies of the training reviews (`copies_of`), with the unknown token spelt `unk`; `precision`
    is the teacher's."""
    # A kind of copy that is not asked for is not recorded, so caches made before it existed stay valid.
    augmentation = {k: v for k, v in vars(aug).items() if k not in EXTRA_COPIES or v}
    info = {"train_fingerprint": train.fingerprint(), "augmentation": augmentation,
            "student_window": [max_length, truncation], "teacher_precision": precision}
    for kind, tokens in made.items():
        info[COPY_KINDS[kind][1]] = fingerprint(tokens, unk)
    return info


def check_teacher_reviews(teacher: str | Path, train: Reviews) -> None:
    """Refuse a teacher that may have seen the student's validation reviews: it must have been trained on the
    student's training split (without any added pairs, which are the teacher's to label) or on a sample of it
    (`max_train_samples`, as MPNet-base is)."""
    from imdb_sentiment.core.config import TransformerConfig
    from imdb_sentiment.core.data import splits_for
    from imdb_sentiment.core.fields import from_dict

    info = runs.read_run(teacher)
    recorded = info["data_fingerprint"]["train"]
    imdb_part = train.take([k for k, review_id in enumerate(train.ids) if not review_id.startswith("pairs/")])
    if recorded in (train.fingerprint(), imdb_part.fingerprint()):
        return
    teacher_cfg = from_dict(TransformerConfig, info["config"])
    if teacher_cfg.data.max_train_samples:
        teacher_train = splits_for(teacher_cfg)["train"]
        if teacher_train.fingerprint() == recorded and set(teacher_train.ids) <= set(imdb_part.ids):
            return
    raise runs.RunError(f"{teacher} was trained on other reviews than the student's training split")


def build_cache(path: str | Path, teacher: str | Path, label: Labeller, train: Reviews, aug: Augmentation,
                max_length: int, truncation: str, precision: str = "fp32", reuse: str | Path | None = None
                ) -> dict[str, np.ndarray]:
    """Run the teacher once over the training reviews and their copies, and cache its logits; with `reuse`, another
    cache of the same teacher's, the reviews and copies it holds are not labelled again."""
    check_teacher_reviews(teacher, train)
    unk = load_tokenizer(teacher).unk_token
    made = copies_of(train.texts, aug, max_length, truncation, unk)
    expected = cache_info(train, aug, made, unk, max_length, truncation, precision)
    start = time.perf_counter()
    known = reused_logits(reuse, teacher, train, precision, expected) if reuse else {}
    labelled = len(known.get("train", ()))
    logits = {"train": np.concatenate([known.get("train", np.empty((0, 2), dtype=np.float32)),
                                       _logits(label, train.texts[labelled:])])}
    for kind, tokens in made.items():
        logits[kind] = known[kind] if kind in known else _logits(label, [" ".join(c) for c in tokens])
    info = {"teacher": str(teacher), "teacher_weights": weights_fingerprint(teacher), **expected,
            "seconds": round(time.perf_counter() - start, 1),
            "hardware": hardware.hardware(), "command": runs.command_line(), "date": runs.today()}
    write_cache(path, logits, info)
    return logits


def reused_logits(reuse: str | Path, teacher: str | Path, train: Reviews, precision: str,
                  wanted: dict | None = None) -> dict[str, np.ndarray]:
    """The training-review logits of cache `reuse`, made by the same teacher in the same precision for the first
    reviews of `train`: a student adding the counterfactual pairs (appended after the IMDB reviews) to the reviews
    another student learnt from. Each kind of copy's logits too, when the cache holds the copies that `wanted` (a
    `cache_info`) fingerprints, for the same reviews (a student adding a kind of copy to another's)."""
    with np.load(reuse) as cache:
        info, known = json.loads(str(cache["info"])), cache["train"]
        reused = {"train": known}
        for kind, (_, key) in COPY_KINDS.items():
            if wanted and key in wanted and info.get(key) == wanted[key] and len(known) == len(train):
                reused[kind] = cache[kind]
    expected = {"teacher_weights": weights_fingerprint(teacher), "teacher_precision": precision,
                "train_fingerprint": train.take(list(range(min(len(known), len(train))))).fingerprint()}
    mismatched = [key for key, value in expected.items() if info.get(key) != value]
    if mismatched or len(known) > len(train):
        raise runs.RunError(f"{reuse} was made by another teacher, precision or for other reviews than the first of "
                            f"these ({', '.join(mismatched) or 'more reviews'}): it cannot be reused")
    return reused


def student_targets(cache: str | Path, teacher: str | None, train: Reviews, aug: Augmentation, max_length: int,
                    truncation: str, precision: str = "fp32", label: Labeller | None = None
                    ) -> tuple[np.ndarray, list[list[str]], dict]:
    """(teacher margins for the training reviews, then for `aug.copies` augmented copies of each and each extra kind
    of copy `aug` asks for; the copies' tokens in that order; what the cache says of itself), from `cache`, computed
    first with `label` (the `teacher` run's logits, in `precision`) if the cache does not exist.

    Copy k of a review does not depend on how many copies were made, so a cache with more copies serves a student
    asking for fewer.
    """
    cache = Path(cache)
    if not cache.exists():
        if not teacher:
            raise runs.RunError(f"no teacher logits at {cache}: give [distill] teacher (a Transformer run) to "
                                f"compute them, or logits_cache the path of a cache")
        if label is None:
            raise runs.RunError(f"no teacher logits at {cache}, and no teacher to compute them was handed in "
                                f"(the imdb-sentiment command loads {teacher} for that)")
        build_cache(cache, teacher, label, train, aug, max_length, truncation, precision)
    with np.load(cache) as f:
        info = json.loads(str(f["info"]))
    cached = Augmentation(**{**{kind: 0 for kind in EXTRA_COPIES}, **info["augmentation"], "seed": aug.seed})
    for kind, (field, _) in COPY_KINDS.items():
        if getattr(cached, field) < getattr(aug, field):
            name = kind if kind == "augmented" else field[:-1]  # "sentence"
            raise runs.RunError(f"{cache} holds {getattr(cached, field)} {name} copies per review, fewer than the "
                                f"{getattr(aug, field)} asked for; delete it (or name another logits_cache) to "
                                f"recompute")
    made = copies_of(train.texts, cached, max_length, truncation, UNK)
    expected = cache_info(train, cached, made, UNK, max_length, truncation, precision)
    if teacher and (Path(teacher) / "model.safetensors").exists():
        expected["teacher_weights"] = weights_fingerprint(teacher)
    logits = load_cache(cache, expected)
    targets, tokens = [logits["train"]], []
    for kind, (field, _) in COPY_KINDS.items():
        have, wanted = getattr(cached, field), getattr(aug, field)
        if wanted:  # copies are review-major (copy k of review i at i * have + k): keep the first `wanted` of each
            targets.append(logits[kind].reshape(len(train), have, 2)[:, :wanted].reshape(-1, 2))
            tokens += [made[kind][i * have + k] for i in range(len(train)) for k in range(wanted)]
    return soft_targets(np.concatenate(targets)), tokens, info


def write_cache(path: str | Path, logits: dict[str, np.ndarray], info: dict) -> None:
    """`logits` by name ("train", "augmented", and each extra kind of copy) and what they were computed from, in one .npz."""
    with runs.atomic_path(Path(path)) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, info=np.array(json.dumps(info)), **logits)


def load_cache(path: str | Path, expected: dict) -> dict[str, np.ndarray]:
    """The cached logits, after checking that every field of `expected` matches what the cache was made from."""
    with np.load(Path(path)) as cache:
        info = json.loads(str(cache["info"]))
        info.setdefault("teacher_precision", "fp32")  # caches from before the setting existed
        mismatched = [f"{key}: cache {info.get(key)!r}, now {value!r}" for key, value in expected.items()
                      if info.get(key) != value]
        if mismatched:
            raise runs.RunError(f"{path} was made for another teacher or other reviews ({'; '.join(mismatched)}); "
                                f"delete it to recompute the teacher's logits")
        return {name: cache[name] for name in cache.files if name != "info"}

"""Compute and cache a fine-tuned Transformer's logits for distilling it into the BiLSTM (`imdb_sentiment.distill`).

    python bench/teacher_logits.py --teacher runs/minilm-l6-bf16 --student_config configs/bilstm_glove_head_tail.toml \
        --copies 2 --out results/distill/teacher_minilm-l6-bf16.npz

Logits for every training review (as the teacher read them in training) and for `copies` augmented copies of each
(made on the student's tokens, inside the student's window). The training split is the student config's; the
script refuses a teacher trained on other reviews, which would have seen the student's validation set.
"""

from __future__ import annotations

import argparse
import time

from imdb_sentiment import distill, runs
from imdb_sentiment.config import BiLSTMConfig, load_config
from imdb_sentiment.data import splits_for
from imdb_sentiment.transformer import load_tokenizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher", required=True, help="Transformer run directory")
    parser.add_argument("--student_config", default="configs/bilstm_glove_head_tail.toml")
    parser.add_argument("--copies", type=int, default=2)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    cfg = load_config(BiLSTMConfig, args.student_config)
    train = splits_for(cfg)["train"]
    teacher_train = runs.read_run(args.teacher)["data_fingerprint"]["train"]
    if teacher_train != train.fingerprint():
        raise SystemExit(f"{args.teacher} was trained on other reviews than the student's training split")
    aug = distill.Augmentation(copies=args.copies, seed=cfg.train.seed)
    unk = load_tokenizer(args.teacher).unk_token
    copies = distill.augmented_copies(train.texts, aug, cfg.model.max_length, cfg.model.truncation, unk)
    start = time.perf_counter()
    logits = {"train": distill.teacher_logits(args.teacher, train.texts, args.batch_size),
              "augmented": distill.teacher_logits(args.teacher, [" ".join(c) for c in copies], args.batch_size)}
    seconds = time.perf_counter() - start
    info = {"teacher": args.teacher, "teacher_weights": distill.weights_fingerprint(args.teacher),
            "train_fingerprint": train.fingerprint(), "copies_fingerprint": distill.fingerprint(copies, unk),
            "augmentation": vars(aug), "student_window": [cfg.model.max_length, cfg.model.truncation],
            "seconds": round(seconds, 1), "hardware": runs.hardware(), "command": runs.command_line(),
            "date": runs.today()}
    distill.write_cache(args.out, logits, info)
    agree = ((logits["train"][:, 1] > logits["train"][:, 0]) == train.labels.astype(bool)).mean()
    print(f"{len(train)} reviews and {len(copies)} copies in {seconds:.0f} s; teacher agrees with the training "
          f"labels on {agree:.2%}; written to {args.out}")


if __name__ == "__main__":
    main()

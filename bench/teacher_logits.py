"""Compute and cache a fine-tuned Transformer's logits for distilling it into the BiLSTM (`imdb_sentiment.training.distill`).

    python bench/teacher_logits.py --teacher runs/minilm-l6-bf16 --student_config configs/bilstm_glove_head_tail.toml \
        --copies 2 --out results/distill/teacher_minilm-l6-bf16.npz
    python bench/teacher_logits.py --teacher runs/mpnet-base --precision int8 --copies 0 \
        --out results/distill/teacher_mpnet-base-int8.npz
    python bench/teacher_logits.py --teacher runs/mpnet-base --precision int8 --copies 0 \
        --student_config configs/bilstm_distilled_kl_mpnet_pairs.toml \
        --reuse results/distill/teacher_mpnet-base-int8.npz --out results/distill/teacher_mpnet-base-int8-pairs.npz
    python bench/teacher_logits.py --teacher runs/mpnet-base --precision int8 --copies 1 --sentences 1 \
        --student_config configs/bilstm_distilled_kl_mpnet_pairs3_sentences.toml \
        --reuse results/distill/teacher_mpnet-base-int8-pairs3-aug.npz \
        --out results/distill/teacher_mpnet-base-int8-pairs3-sentences.npz

Logits for every training review (as the teacher read them in training) and for `copies` augmented copies of each
(made on the student's tokens, inside the student's window). The training split is the student config's; a teacher
trained on other reviews is refused, since it could have seen the student's validation set. Training a student
with [distill] teacher set does the same when its cache is missing; this script makes one cache for several students.
"""

from __future__ import annotations

import argparse
from functools import partial

from imdb_sentiment.core.config import BiLSTMConfig
from imdb_sentiment.core.data import splits_for
from imdb_sentiment.core.fields import load_config
from imdb_sentiment.inference.predictors import teacher_logits
from imdb_sentiment.training import distill


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher", required=True, help="Transformer run directory")
    parser.add_argument("--student_config", default="configs/bilstm_glove_head_tail.toml")
    parser.add_argument("--copies", type=int, default=2)
    parser.add_argument("--sentences", type=int, default=0, help="one-sentence copies per review")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--precision", choices=["fp32", "bf16", "int8"], default="fp32",
                        help="the teacher's (int8 through OpenVINO)")
    parser.add_argument("--reuse", help="a cache of the same teacher's for the first of these training reviews (a "
                                            "student adding the counterfactual pairs): those are not labelled again")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    cfg = load_config(BiLSTMConfig, args.student_config)
    train = splits_for(cfg)["train"]
    aug = distill.Augmentation(copies=args.copies, seed=cfg.train.seed, sentences=args.sentences)
    label = partial(teacher_logits, args.teacher, batch_size=args.batch_size, precision=args.precision)
    logits = distill.build_cache(args.out, args.teacher, label, train, aug, cfg.model.max_length,
                                 cfg.model.truncation, args.precision, args.reuse)
    agree = ((logits["train"][:, 1] > logits["train"][:, 0]) == train.labels.astype(bool)).mean()
    extra = "".join(f", {len(logits[kind])} {kind}" for kind in distill.EXTRA_COPIES if kind in logits)
    print(f"{len(train)} reviews, {len(logits['augmented'])} copies{extra}; teacher agrees with the training labels on "
          f"{agree:.2%}; written to {args.out}")


if __name__ == "__main__":
    main()

"""Padding every review to 512 tokens against dynamic padding with length-grouped batches, on one model and one
sample of reviews: training steps and inference, reviews/s and the ratio.

    python bench/transformer_speed.py [--quick] [--model minilm-l6] [--reviews 64] [--json FILE]

--quick uses a tiny two-layer DistilBERT built on the spot (no download). Reviews come from the IMDB train split
when --data or $IMDB_SENTIMENT_DATA names one, else synthetic reviews with IMDB-like lengths.
The last line is `speedup_dynamic_padding=<training-step speed-up>`.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification
from transformers.trainer_pt_utils import get_length_grouped_indices

from imdb_sentiment.core.hardware import hardware
from imdb_sentiment.core.runs import today
from imdb_sentiment.models.transformer import (build_tiny_distilbert, encode, load_tokenizer, make_collator,
                                               resolve_model_name)

WORDS = ("the film was a story of great acting and awful plot , with moving music but dull scenes ; "
         "i loved the ending though the director wasted a brilliant cast .").split()


def sample_reviews(n: int, data: str | None, seed: int) -> tuple[list[str], list[int], str]:
    if data:
        from imdb_sentiment.core.data import load_imdb, stratified_sample

        reviews = stratified_sample(load_imdb(data, allow_partial=True)["train"], n, seed)
        return reviews.texts, reviews.labels.tolist(), f"{n} IMDB train reviews"
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(5.3, 0.7, size=n).astype(int), 10, 2000)  # words; IMDB's mean is about 230
    texts = [" ".join(rng.choice(WORDS, size=length)) for length in lengths]
    return texts, rng.integers(0, 2, size=n).tolist(), f"{n} synthetic reviews with IMDB-like lengths"


def batches(input_ids, labels, collate, batch_size, grouped: bool, seed: int):
    if grouped:
        # The Trainer's group_by_length order. It sorts pools of min(50, N // (4 * batch)) batches, which is 50 on
        # the full training set; a small benchmark sample gets that same pool size explicitly.
        order = get_length_grouped_indices([len(x) for x in input_ids], batch_size, mega_batch_mult=50,
                                           generator=torch.Generator().manual_seed(seed))
    else:
        order = np.random.default_rng(seed).permutation(len(input_ids)).tolist()
    return [collate([{"input_ids": input_ids[i], "labels": labels[i]} for i in order[start:start + batch_size]])
            for start in range(0, len(order), batch_size)]


def timed_pass(model, optimizer, batch_list, train: bool) -> float:
    model.train(train)
    start = time.perf_counter()
    for batch in batch_list:
        if train:
            model(**batch).loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        else:
            with torch.no_grad():
                model(**batch)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny DistilBERT, 64 synthetic reviews: under 40 s")
    parser.add_argument("--model", default="minilm-l6", help="Hub id, local directory or minilm-l6")
    parser.add_argument("--data", default=os.environ.get("IMDB_SENTIMENT_DATA"))
    parser.add_argument("--reviews", type=int, default=64)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--max_length", type=int, default=512)
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()
    torch.manual_seed(0)
    if args.quick:
        args.data, args.reviews = None, 64
    texts, labels, source = sample_reviews(args.reviews, args.data, seed=0)
    with tempfile.TemporaryDirectory() as scratch:
        name = str(build_tiny_distilbert(texts, scratch)) if args.quick else resolve_model_name(args.model)
        tokenizer = load_tokenizer(name)
        model = AutoModelForSequenceClassification.from_pretrained(name, num_labels=2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    input_ids = encode(tokenizer, texts, args.max_length)["input_ids"]
    setups = {
        "max_length": batches(input_ids, labels, make_collator(tokenizer, "max_length", args.max_length),
                              args.batch_size, grouped=False, seed=0),
        "dynamic+grouped": batches(input_ids, labels, make_collator(tokenizer, "dynamic", args.max_length),
                                   args.batch_size, grouped=True, seed=0),
    }
    for batch_list in setups.values():  # warm-up
        timed_pass(model, optimizer, batch_list[:1], train=True)

    real = sum(len(x) for x in input_ids)
    print(f"{source}, model {'tiny DistilBERT' if args.quick else args.model}, batch {args.batch_size}, "
          f"max length {args.max_length}; {real / len(input_ids):.0f} tokens per review on average")
    print(f"hardware: {hardware()}")
    results = {"source": source, "model": "tiny-distilbert" if args.quick else args.model,
               "batch_size": args.batch_size, "max_length": args.max_length, "hardware": hardware(),
               "date": today(), "setups": {}}
    for train, label in ((True, "training step (forward+backward+AdamW)"), (False, "inference (forward)")):
        seconds = {name: timed_pass(model, optimizer, batch_list, train) for name, batch_list in setups.items()}
        print(f"\n{label}")
        print(f"{'padding':<18}{'tokens/batch':>13}{'reviews/s':>11}{'speed-up':>10}")
        for name, batch_list in setups.items():
            padded = np.mean([b["input_ids"].numel() for b in batch_list])
            speedup = seconds["max_length"] / seconds[name]
            print(f"{name:<18}{padded:>13.0f}{len(input_ids) / seconds[name]:>11.1f}{speedup:>9.2f}x")
            results["setups"].setdefault(name, {})["train" if train else "inference"] = {
                "reviews_per_second": len(input_ids) / seconds[name], "speedup": speedup,
                "padded_tokens_per_batch": float(padded)}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    print(f"speedup_dynamic_padding={results['setups']['dynamic+grouped']['train']['speedup']:.2f}")


if __name__ == "__main__":
    main()

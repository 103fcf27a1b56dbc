"""Memory of a predictor (the built-in BiLSTM by default) meeting batches of ever new shapes, as a server does,
with and without rounding a BiLSTM batch's length up to a multiple of 16 (`imdb_sentiment.inference.predictors.PAD_MULTIPLE`).

    python bench/lstm_shapes_memory.py --pad_multiple 1 --seconds 120
    python bench/lstm_shapes_memory.py --pad_multiple 16 --seconds 120

oneDNN compiles an LSTM for every (batch, length) shape and keeps up to 1,024 of them; this prints the process's
resident memory against the number of distinct shapes met. Random token ids, batches of 1-16 reviews of 5-256
tokens, one thread. Run it with IMDB_SENTIMENT_ALLOCATOR=system or under any allocator: the cache is oneDNN's own.

It serves any run the same way, e.g. MiniLM-L6 in int8, whose compiled graph also calls oneDNN kernels per shape:

    python bench/lstm_shapes_memory.py --run runs/minilm-l6-bf16 --quantize int8 --every 50 --seconds 600
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time

import torch
from serve_load import rss_mb  # bench/, the script's own folder

from imdb_sentiment.inference import predictors as predict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", default="builtin")
    parser.add_argument("--pad_multiple", type=int, default=predict.PAD_MULTIPLE)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--quantize", choices=["int8"])
    parser.add_argument("--every", type=int, default=200, help="batches between memory samples")
    parser.add_argument("--json", help="also write the samples here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    predict.PAD_MULTIPLE = args.pad_multiple
    predictor = predict.load_predictor(args.run, quantize=args.quantize)
    rng = random.Random(0)
    shapes, padded_shapes = set(), set()  # as drawn, and as the model received them
    if args.quantize:  # an int8 model is an OpenVINO model, called like the torch one but not a module
        int8 = predictor.int8

        def recorded(input_ids, *rest):
            padded_shapes.add(tuple(input_ids.shape))
            return int8(input_ids, *rest)

        predictor.int8 = recorded
    else:
        predictor.model.register_forward_pre_hook(lambda module, args: padded_shapes.add(tuple(args[0].shape)))
    samples = [{"batches": 0, "shapes": 0, "rss_mb": round(rss_mb(os.getpid()), 1)}]
    start, batches = time.monotonic(), 0
    while time.monotonic() - start < args.seconds:
        size, length = rng.randint(1, 16), rng.randint(5, 256)
        shapes.add((size, length))
        with torch.inference_mode():
            predictor._margins([[rng.randint(2, 1000) for _ in range(length)] for _ in range(size)])
        batches += 1
        if batches % args.every == 0:
            samples.append({"batches": batches, "shapes": len(shapes), "padded_shapes": len(padded_shapes),
                            "rss_mb": round(rss_mb(os.getpid()), 1)})
            print(samples[-1], flush=True)
    result = {"run": args.run, "quantize": args.quantize, "pad_multiple": args.pad_multiple, "seconds": args.seconds,
              "samples": samples}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
